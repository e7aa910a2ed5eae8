"""Runs whose worker is killed: found, failed and their concurrency slots freed (by the CLI and by
the daemon's sensor), a waiting step stops on SIGTERM, and the queued run of the model that the
killed run blocked then starts and finishes under the real daemon."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.config import dagster_instance_config

from personality_assets_tests.support.helpers import MATERIALIZE
from personality_assets_tests.support.study import study_reply

ROOT = Path(__file__).resolve().parents[2]
PARTITION = "gpt4o|sample"


def wait_for(condition, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return result


@pytest.mark.parametrize("config_file", ["dagster.yaml", "dagster.postgres.yaml"])
def test_committed_instances_monitor_runs_and_take_pool_slots_per_run(config_file):
    """Run granularity: no step waits inside a run for an `llm` slot (at op granularity that wait
    spins a core and ignores SIGTERM in Dagster 1.13); queued runs wait instead."""
    config, _ = dagster_instance_config(str(ROOT), config_filename=config_file)  # validated as Dagster loads it
    assert config["run_monitoring"]["enabled"] is True
    assert config["concurrency"]["pools"]["granularity"] == "run"
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": "dagster/partition/model", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


@pytest.mark.slow
def test_killed_runs_are_failed_and_freed_and_the_queued_run_finishes(tmp_path, openai_server, isolated_data_dir):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")  # the committed instance configuration
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")},
        "DAGSTER_HOME": str(home),
        "PERSONALITY_ASSETS_DATA_DIR": str(isolated_data_dir),
        "OPENAI_API_KEY": "sk-test-runs",
        "OPENAI_BASE_URL": openai_server.base_url,
    }
    dagster = [sys.executable, "-m", "dagster"]
    cli = [sys.executable, "-m", "personality_assets.cli"]

    def run(*command):
        done = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    run(*cli, "populations", "add", "sample")
    run(*cli, "models", "add", "gpt4o")
    run(*MATERIALIZE, "--select", "questionnaires")
    run(*MATERIALIZE, "--select", "reference_questionnaires", "--partition", "sample")

    def start_personas():
        """A run of the model that never answers: the step waits in a call."""
        openai_server.configure(fault_rate=1.0, fault_kinds=["hang"], hang_seconds=600)
        before = openai_server.request_count
        process = subprocess.Popen(
            [*MATERIALIZE, "--select", "personas", "--partition", PARTITION],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: openai_server.request_count > before or process.poll() is not None, "the first model call")
        assert process.poll() is None
        return process

    def kill_a_run():
        killed = start_personas()
        killed.kill()
        killed.wait()
        openai_server.configure(fault_rate=0.0, reply=study_reply)  # the model answers again

    def queue_a_run() -> str:
        """A run of the same model as the UI, a schedule or a sensor starts it: QUEUED, for the daemon."""
        model, population = PARTITION.split("|")
        tags = {
            "dagster/partition": PARTITION,
            "dagster/partition/model": model,
            "dagster/partition/population": population,
        }
        config = {"execution": {"config": {"in_process": {}}}, "ops": {"personas": {"config": {"max_people": 3}}}}
        with dg.DagsterInstance.from_config(str(home)) as instance:
            before = {r.run_id for r in instance.get_runs()}
        run(
            *dagster,
            "job",
            "launch",
            "-m",
            "personality_assets.definitions",
            "-j",
            "persona_study",
            "-o",
            "personas",
            "--tags",
            json.dumps(tags),
            "--config-json",
            json.dumps(config),
        )
        with dg.DagsterInstance.from_config(str(home)) as instance:
            (queued,) = [r for r in instance.get_runs() if r.run_id not in before]
            assert queued.status == dg.DagsterRunStatus.QUEUED
            return queued.run_id

    def statuses() -> dict[str, dg.DagsterRunStatus]:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            return {r.run_id: r.status for r in instance.get_runs(dg.RunsFilter(tags={"dagster/partition": PARTITION}))}

    def finished(run_id: str) -> bool:
        status = statuses()[run_id]
        assert status not in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED), daemon_log.read_text()
        return status == dg.DagsterRunStatus.SUCCESS

    # 1. kill -9: the run stays STARTED; a queued run of the same model then waits for it under the
    # daemon (its per-model limit and its `llm` pool slot), however many dequeue rounds pass.
    kill_a_run()
    assert list(statuses().values()) == [dg.DagsterRunStatus.STARTED]
    assert "1 dead run(s)" in run(*cli, "runs", "dead")
    blocked = queue_a_run()
    run(*dagster, "sensor", "stop", "dead_run_sensor", "-m", "personality_assets.definitions")  # the CLI frees it here
    daemon_log = tmp_path / "daemon.log"
    daemon = subprocess.Popen(
        [Path(sys.executable).parent / "dagster-daemon", "run", "-m", "personality_assets.definitions"],
        cwd=ROOT,
        env=env,
        stdout=daemon_log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        rounds = "checking tag concurrency limits for queued runs"  # logged by each dequeue round
        wait_for(lambda: daemon_log.read_text().count(rounds) >= 2, "two dequeue rounds of the daemon")
        assert statuses()[blocked] == dg.DagsterRunStatus.QUEUED

        # 2. By hand: the CLI fails the dead run, and the queued run starts and finishes.
        assert "marked failed: [" in run(*cli, "runs", "free")
        wait_for(lambda: finished(blocked), "the queued run to finish")

        # 3. The daemon's sensor does the same by itself.
        kill_a_run()
        blocked = queue_a_run()
        run(*dagster, "sensor", "start", "dead_run_sensor", "-m", "personality_assets.definitions")
        wait_for(lambda: finished(blocked), "the queued run to finish after the sensor freed the dead one")
    finally:
        daemon.send_signal(signal.SIGINT)
        daemon.wait(timeout=60)
    assert dg.DagsterRunStatus.STARTED not in statuses().values()

    # 4. SIGTERM stops a step that waits (here on a model that never answers): no run left STARTED.
    waiting = start_personas()
    waiting.send_signal(signal.SIGTERM)
    waiting.wait(timeout=60)
    assert dg.DagsterRunStatus.STARTED not in statuses().values()
