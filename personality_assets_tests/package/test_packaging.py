"""The package as pip builds it: no setuptools warning about folders it would leave out, and every
file of the source tree in the wheel (questionnaire definitions, models.yaml, the migrations, the
tracks' YAML and TOML files)."""

import shutil
import subprocess
import sys
import zipfile

import pytest

from personality_assets_tests.support.helpers import ROOT


@pytest.mark.slow
def test_the_wheel_holds_every_file_of_the_package_and_the_build_warns_of_none(tmp_path):
    # Built from a copy: pip builds in the source folder, and a build/ left there by an earlier build
    # would add its stale files to the wheel.
    source_copy = tmp_path / "source"
    shutil.copytree(
        ROOT / "personality_assets", source_copy / "personality_assets", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("setup.py", "pyproject.toml"):
        shutil.copy(ROOT / name, source_copy / name)
    wheels = tmp_path / "wheel"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", str(source_copy), "-w", str(wheels)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert "Package would be ignored" not in build.stdout + build.stderr
    (wheel,) = wheels.glob("personality_assets-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if name.startswith("personality_assets/")}
    source = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "personality_assets").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert source - shipped == set()
    assert {"personality_assets/defs/essays/dimensions.yaml", "personality_assets/llm/models.yaml"} <= shipped
