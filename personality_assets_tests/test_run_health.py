"""Runs whose worker is killed: found, failed and their concurrency slots freed (by the CLI and by
the daemon's sensor), a waiting step stops on SIGTERM, and the model's next run finishes."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from personality_assets.defs.run_health import dead_run_sensor
from personality_assets_tests.llm_servers import openai_server  # noqa: F401 - fixture
from personality_assets_tests.test_persona_study import study_reply

ROOT = Path(__file__).resolve().parents[1]
IN_PROCESS = ["--config-json", '{"execution":{"config":{"in_process":{}}}}']


@pytest.mark.slow
def test_killed_runs_are_failed_and_freed_and_the_next_run_finishes(tmp_path, openai_server, isolated_data_dir):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")  # the committed instance configuration
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")},
           "DAGSTER_HOME": str(home), "PERSONALITY_ASSETS_DATA_DIR": str(isolated_data_dir),
           "OPENAI_API_KEY": "sk-test-runs", "OPENAI_BASE_URL": openai_server.base_url}  # fmt: skip
    materialize = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "personality_assets", *IN_PROCESS]
    cli = [sys.executable, "-m", "personality_assets.cli"]

    def run(*command):
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    run(*cli, "populations", "add", "sample")
    run(*materialize, "--select", "questionnaires")
    run(*materialize, "--select", "reference_questionnaires", "--partition", "sample")
    openai_server.configure(fault_rate=1.0, fault_kinds=["hang"], hang_seconds=600)  # the model never answers

    def start_personas():
        before = openai_server.request_count
        process = subprocess.Popen([*materialize, "--select", "personas", "--partition", "gpt4o|sample"], cwd=ROOT,
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while openai_server.request_count == before:  # the step runs and waits for the model
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        return process

    def run_statuses():
        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": "gpt4o|sample"}))
            slots = instance.event_log_storage.get_concurrency_info("llm").claimed_slots
            return [r.status for r in runs], slots

    # 1. kill -9: the run stays STARTED; the CLI finds it, fails it and frees it.
    killed = start_personas()
    killed.kill()
    killed.wait()
    assert run_statuses()[0] == [dg.DagsterRunStatus.STARTED]
    assert "1 dead run(s)" in run(*cli, "runs", "dead")
    assert "marked failed: [" in run(*cli, "runs", "free")
    assert run_statuses() == ([dg.DagsterRunStatus.FAILURE], [])

    # 2. SIGTERM stops a step that waits (here on a model that never answers): no run left STARTED.
    waiting = start_personas()
    waiting.send_signal(signal.SIGTERM)
    waiting.wait(timeout=60)
    assert dg.DagsterRunStatus.STARTED not in run_statuses()[0]

    # 3. kill -9 again: the daemon's sensor finds it on its next tick.
    killed = start_personas()
    killed.kill()
    killed.wait()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dead_run_sensor(dg.build_sensor_context(instance=instance))
        assert "marked failed and freed" in result.skip_message
        assert not instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))

    # 4. The model answers again: the next run of the same model finishes.
    openai_server.configure(fault_rate=0.0, reply=study_reply)
    run(
        *materialize,
        "--select",
        "personas",
        "--partition",
        "gpt4o|sample",
        "--config-json",
        '{"execution":{"config":{"in_process":{}}},"ops":{"personas":{"config":{"max_people":3}}}}',
    )
    assert run_statuses()[0][0] == dg.DagsterRunStatus.SUCCESS
