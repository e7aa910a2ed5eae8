"""The persona study on Dagster's Celery executor: two Celery workers started here (RabbitMQ as
broker and Redis as result backend, as celery.yaml says), the Dagster instance on PostgreSQL, two
partitions launched at once with the documented command; every step runs on a worker."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import func, select

from personality_assets.db.engine import DatabaseTarget, experiment_transaction
from personality_assets.db.tables.persona_study import EvalQuestionnaire, ExperimentsGroup, ExperimentsList
from personality_assets_tests.support.helpers import (
    POSTGRES_URL,
    ROOT,
    new_postgres_dagster_home,
    run_at_once,
    skip_unless_ci,
)

BIN = Path(sys.executable).parent
POPULATIONS = ["sample", "sample_random"]
STEPS = {"personas", "experiment_registrations", "questionnaire_answers", "questionnaire_scores"}


def _start_worker(name: str, env: dict, log: Path) -> subprocess.Popen:
    command = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", "celery.yaml"]
    command += ["-n", name, "--", "--concurrency", "1"]
    with log.open("w") as out:
        # A session of its own: the worker and the celery process it starts stop together.
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_ready(logs: list[Path], deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while not all(" ready." in log.read_text() for log in logs):
        assert time.monotonic() < deadline, [log.read_text()[-2000:] for log in logs]
        time.sleep(0.2)


def _stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def _require_services() -> None:
    """RabbitMQ and Redis where celery.yaml says; without them skip, except under CI=true (fail)."""
    import socket

    for service, port in (("RabbitMQ", 5672), ("Redis", 6379)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError:
            skip_unless_ci(f"{service} is not running on 127.0.0.1:{port} (celery.yaml)")


@pytest.mark.slow
@pytest.mark.postgres
def test_the_study_runs_on_two_celery_workers(tmp_path, monkeypatch):
    _require_services()
    home, suffix = tmp_path / "home", uuid.uuid4().hex[:8]
    env = new_postgres_dagster_home(home, tmp_path / "data")
    target = DatabaseTarget(POSTGRES_URL, f"ref_{suffix}", f"exp_{suffix}")
    env |= {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",  # the worker starts `celery` from this venv
        "PERSONALITY_ASSETS_DATABASE_URL": target.url,
        "PERSONALITY_ASSETS_REFERENCE_SCHEMA": target.reference_schema,
        "PERSONALITY_ASSETS_EXPERIMENT_SCHEMA": target.experiment_schema,
    }

    def run(*args):
        completed = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert completed.returncode == 0, completed.stderr[-3000:]

    in_process = ["--config-json", '{"execution":{"config":{"in_process":{}}}}']
    launch = [str(BIN / "dg"), "launch", "-m", "personality_assets.definitions"]
    run(sys.executable, "-m", "personality_assets.cli", "populations", "add", *POPULATIONS)
    run(sys.executable, "-m", "personality_assets.cli", "models", "add", "simulated")
    run(*launch, "--job", "reference_data", "--partition", "sample", *in_process)
    run(*launch, "--job", "load_population", "--partition", "sample_random", *in_process)

    names = [f"w1-{suffix}", f"w2-{suffix}"]
    logs = [tmp_path / f"{name}.log" for name in names]
    workers = [_start_worker(name, env, log) for name, log in zip(names, logs, strict=True)]
    try:
        _wait_ready(logs)
        study = [*launch, "--job", "persona_study_celery", "--config", "celery.yaml", "--partition"]
        run_at_once([[*study, f"simulated|{p}"] for p in POPULATIONS], env, timeout=600)
    finally:
        _stop(workers)

    for name, value in env.items():
        if name.startswith("DAGSTER_"):
            monkeypatch.setenv(name, value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name="persona_study_celery"))
        assert len(runs) == 2 and {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}
        workers_of_steps = {}
        for dagster_run in runs:
            for record in instance.all_logs(dagster_run.run_id):
                event = record.dagster_event
                if event is not None and event.is_engine_event and "in celery worker" in record.message:
                    metadata = event.engine_event_data.metadata
                    workers_of_steps[(dagster_run.run_id, event.step_key)] = metadata["Celery worker"].value
    assert {step for _, step in workers_of_steps} == STEPS and len(workers_of_steps) == 8
    assert {worker.split("@")[0] for worker in workers_of_steps.values()} == set(names)  # both did work

    with experiment_transaction(target) as connection:
        per_population = dict(
            connection.execute(
                select(ExperimentsGroup.population, func.count())
                .join(ExperimentsList, ExperimentsList.experiments_group_id == ExperimentsGroup.experiments_group_id)
                .where(ExperimentsList.succeeded.is_(True))
                .group_by(ExperimentsGroup.population)
            ).all()
        )
        answered = connection.execute(select(func.count(func.distinct(EvalQuestionnaire.experiment_id)))).scalar_one()
        pending = connection.execute(
            select(func.count()).select_from(ExperimentsList).where(ExperimentsList.succeeded.is_not(True))
        ).scalar_one()
    assert set(per_population) == set(POPULATIONS) and min(per_population.values()) > 0 and pending == 0
    assert answered == sum(per_population.values())  # every experiment has its answers
