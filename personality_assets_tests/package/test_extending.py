"""Extending the project in a copy of it, with nothing else changed (the recipes are in
docs/contributing.md): a research track is one folder, a package under defs/ (one model-calling
asset, its job, its commands) that joins the definitions, the command line and the batch sensor;
a provider is one file in llm/providers/ that a model entry can name."""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from personality_assets_tests.support.helpers import ROOT, cli_env

TOY_TRACK = {
    "__init__.py": '"""A toy track: one model-calling asset, its job and one command."""\n',
    "assets.py": """
        import dagster as dg

        from personality_assets.defs.resources import LLMEngineResource
        from personality_assets.defs.steps import SpendCapConfig, model_step
        from personality_assets.llm.types import ChatRequest


        @model_step(group_name="toy")
        def toy_replies(context: dg.AssetExecutionContext, config: SpendCapConfig, llm: LLMEngineResource):
            requests = [ChatRequest(model="gpt4o", messages=(("user", f"Say hello {i}."),)) for i in range(3)]
            summary = llm.engine(context, config.max_cost_usd).run(requests)
            return dg.MaterializeResult(metadata={"ok": summary.ok})
    """,
    "jobs.py": """
        import dagster as dg

        from personality_assets.defs.tracks import COLLECTS_BATCHES

        toy_job = dg.define_asset_job("toy", selection=dg.AssetSelection.groups("toy"), metadata=COLLECTS_BATCHES)
    """,
    "cli.py": """
        import typer

        app = typer.Typer()


        @app.command()
        def toy_hello() -> None:
            \"\"\"Greet from the toy track.\"\"\"
            print("hello from the toy track")


        def summary(target) -> None:
            print("Toy track: one asset")
    """,
}

# What the project itself sees of the toy track, printed as JSON by a script run in the copy.
INSPECT = """
import json
from pathlib import Path

import dagster as dg

import personality_assets
from personality_assets.definitions import defs

loaded = dg.load_from_defs_folder(path_within_project=Path("personality_assets/defs").resolve())
repository = defs.get_repository_def()
sensor = repository.get_sensor_def("finished_batches_sensor")
print(json.dumps({
    "package": personality_assets.__file__,
    "loaded_assets": sorted(key.to_user_string() for key in loaded.resolve_asset_graph().get_all_asset_keys()),
    "assets": {key.to_user_string(): repository.asset_graph.get(key).group_name for key in repository.asset_graph.get_all_asset_keys()},
    "jobs": sorted(job.name for job in repository.get_all_jobs()),
    "sensor_jobs": sorted(target.job_name for target in sensor.targets),
}))
"""

# The toy job submits its requests as a provider batch and fails while the batch runs; once it has
# finished, the sensor asks for the run again and that run collects the replies.
BATCH_RUN = """
import json
import time

import dagster as dg

from personality_assets.definitions import defs
from personality_assets.defs.resources import ResearchDatabase
from personality_assets.defs.usage.sensors import finished_batches_sensor

instance = dg.DagsterInstance.ephemeral()
submitted = defs.get_job_def("toy").execute_in_process(instance=instance, raise_on_error=False)
assert not submitted.success


def evaluate():
    context = dg.build_sensor_context(
        instance=instance, repository_def=defs.get_repository_def(), resources={"research_db": ResearchDatabase()}
    )
    return finished_batches_sensor(context)


deadline, result = time.monotonic() + 20, evaluate()
while isinstance(result, dg.SkipReason) and time.monotonic() < deadline:
    time.sleep(0.5)
    result = evaluate()
if isinstance(result, dg.SkipReason):
    print(json.dumps({"skipped": result.skip_message}))
    raise SystemExit(0)
(request,) = result
collected = defs.get_job_def(request.job_name).execute_in_process(
    instance=instance, asset_selection=request.asset_selection, run_config=request.run_config
)
print(json.dumps({
    "submitted_run_job": submitted.dagster_run.job_name,
    "job": request.job_name,
    "assets": [key.to_user_string() for key in request.asset_selection],
    "collected": collected.success,
    "ok": collected.asset_materializations_for_node("toy_replies")[0].metadata["ok"].value,
}))
"""


ECHO_PROVIDER = """
    from pathlib import Path
    from typing import ClassVar

    from personality_assets.llm.types import ProviderReply


    class EchoProvider:
        \"\"\"Answers each request with its last message reversed, and notes it in $ECHO_LOG.\"\"\"

        name: ClassVar[str] = "echo"

        def __init__(self, log: Path):
            self.log = log

        @classmethod
        def for_model(cls, model, environ):
            return cls(Path(environ["ECHO_LOG"]))

        def account(self, model):
            return (self.name, model.model_id)

        async def call(self, request, model):
            text = request.messages[-1][1][::-1]
            with self.log.open("a") as log:
                log.write(f"{model.key} {text}\\n")
            return ProviderReply(text=text, input_tokens=3, output_tokens=3, raw_request={}, raw_response={"text": text})

        async def aclose(self):
            pass
"""

ECHO_RUN = """
from personality_assets.llm.config import load_models_config
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.providers import Providers
from personality_assets.llm.types import ChatRequest

requests = [ChatRequest(model="echo1", messages=(("user", text),)) for text in ("abc", "xyz")]
print(CallEngine(load_models_config(), Providers()).run(requests).ok)
"""


def _project_copy(tmp_path) -> Path:
    """A copy of the project (package and pyproject.toml)."""
    project = tmp_path / "project"
    shutil.copytree(
        ROOT / "personality_assets", project / "personality_assets", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    return project


@pytest.fixture
def toy_project(tmp_path) -> Path:
    """A copy of the project with the toy track added as one folder."""
    project = _project_copy(tmp_path)
    toy = project / "personality_assets" / "defs" / "toy"
    toy.mkdir()
    for name, text in TOY_TRACK.items():
        (toy / name).write_text(textwrap.dedent(text).lstrip())
    return project


def _run(project: Path, env: dict, *command: str) -> str:
    # The copy comes first on the path, before the installed project.
    done = subprocess.run(
        command, cwd=project, env={**env, "PYTHONPATH": str(project)}, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_a_track_added_as_one_folder_joins_the_definitions_the_command_line_and_the_batch_sensor(toy_project, tmp_path):
    env = cli_env(tmp_path / "home", tmp_path / "data")
    (tmp_path / "home").mkdir()
    seen = json.loads(_run(toy_project, env, sys.executable, "-c", INSPECT).splitlines()[-1])
    assert Path(seen["package"]).is_relative_to(toy_project)  # the copy, not the installed project
    assert "toy_replies" in seen["loaded_assets"]
    assert seen["assets"]["toy_replies"] == "toy" and seen["assets"]["questionnaire_answers"] == "persona_study"
    assert "toy" in seen["jobs"]
    assert seen["sensor_jobs"] == ["essay_generation", "persona_study", "toy", "value_alignment"]

    cli = [sys.executable, "-m", "personality_assets.cli"]
    assert "toy-hello" in _run(toy_project, env, *cli, "--help")
    assert _run(toy_project, env, *cli, "toy-hello").strip() == "hello from the toy track"
    _run(toy_project, env, *cli, "db", "upgrade")
    summary = _run(toy_project, env, *cli, "summary")
    assert "Reference populations (0)" in summary and "Toy track: one asset" in summary


def test_a_new_track_s_finished_provider_batch_starts_its_run_again(toy_project, tmp_path, empty_target, openai_server):
    openai_server.batch_seconds = 1.0
    env = {
        **cli_env(tmp_path / "home", tmp_path / "data"),
        "PERSONALITY_ASSETS_DATABASE_URL": empty_target.url,
        "PERSONALITY_ASSETS_EXPERIMENT_SCHEMA": empty_target.experiment_schema,
        "PERSONALITY_ASSETS_REFERENCE_SCHEMA": empty_target.reference_schema,
        "OPENAI_API_KEY": "sk-test-toy-track",
        "OPENAI_BASE_URL": openai_server.base_url,
        "PERSONALITY_ASSETS_MODEL_GPT4O_MODE": "batch",
        "PERSONALITY_ASSETS_MODEL_GPT4O_BATCH_WAIT_SECONDS": "0",
    }
    outcome = json.loads(_run(toy_project, env, sys.executable, "-c", BATCH_RUN).splitlines()[-1])
    assert "skipped" not in outcome, f"the sensor did not repeat the run: {outcome}"
    assert outcome == {
        "submitted_run_job": "toy",
        "job": "toy",
        "assets": ["toy_replies"],
        "collected": True,
        "ok": 3,
    }
    assert len(openai_server.batches) == 1 and openai_server.batch_lines == 3  # collected, not submitted again
    assert not any(r["path"] == "/v1/chat/completions" for r in openai_server.requests)


def test_a_provider_added_as_one_file_answers_the_models_that_name_it(tmp_path):
    project = _project_copy(tmp_path)
    (project / "personality_assets" / "llm" / "providers" / "echo.py").write_text(
        textwrap.dedent(ECHO_PROVIDER).lstrip()
    )
    models = tmp_path / "models.yaml"
    models.write_text("models:\n  echo1:\n    provider: echo\n    model_id: echo-1\n")
    log = tmp_path / "echo.log"
    env = {**cli_env(tmp_path / "home", tmp_path / "data"), "PERSONALITY_ASSETS_MODELS_FILE": str(models)}
    assert _run(project, {**env, "ECHO_LOG": str(log)}, sys.executable, "-c", ECHO_RUN).strip() == "2"
    assert sorted(log.read_text().splitlines()) == ["echo1 cba", "echo1 zyx"]
