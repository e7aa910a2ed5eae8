"""The framework-free core loads without Dagster or the reports' plotting and statistics libraries:
scripts and benchmarks that only call models, read the database or load populations pay for those
alone."""

import json
import subprocess
import sys

import pytest

CORE = ["llm", "db", "questionnaires", "populations", "store"]
HEAVY = ["dagster", "matplotlib", "scipy", "statsmodels", "pandas"]

# Every module of the package (the migrations are run by Alembic, not imported), in a fresh
# interpreter; prints the heavy top-level modules that got loaded.
PROBE = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    if not module.name.startswith("personality_assets.db.migrations"):
        importlib.import_module(module.name)
print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules} & set(sys.argv[2:]))))
"""


@pytest.mark.parametrize("package", CORE)
def test_the_core_imports_without_dagster_or_plotting_libraries(package):
    result = subprocess.run(
        [sys.executable, "-c", PROBE, f"personality_assets.{package}", *HEAVY],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == []


def test_a_tracks_modules_import_alone_without_warnings():
    """Scripts and the CLI import a track's modules directly, not through the definitions' loader:
    Dagster's beta and preview warnings are silenced where the project uses those APIs."""
    probe = (
        "import importlib, pkgutil, personality_assets.defs as defs\n"
        "for module in pkgutil.walk_packages(defs.__path__, defs.__name__ + '.'):\n"
        "    importlib.import_module(module.name)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Warning" not in result.stderr, result.stderr[-3000:]
