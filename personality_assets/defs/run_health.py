"""Runs whose worker died (``kill -9``, a crash, a reboot): Dagster keeps them STARTED forever,
holding their place under the per-model run limit and their `llm` pool slots, so queued runs of
that model never start. Dagster's run monitoring cannot see this with the default run launcher
(it has no worker health check), so this module does: a run is dead when the process that
started it (the pid of its RUN_START event) no longer runs on this machine.

Assumes run workers run on the machine that checks (``dagster dev``, the daemon, the CLI here).
With run workers on other machines, turn ``dead_run_sensor`` off and free runs by id.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

ACTIVE = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    job_name: str
    partition: str | None
    pid: int


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    stat = Path(f"/proc/{pid}/stat")
    try:  # a zombie (killed, not yet reaped by its parent) is dead too
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    event = records[0].event_log_entry.dagster_event if records else None
    return event.pid if event is not None else None


def find_dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    dead = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=ACTIVE)):
        run = record.dagster_run
        pid = run_worker_pid(instance, run.run_id)
        if pid is not None and not process_alive(pid):
            dead.append(DeadRun(run.run_id, run.job_name, run.tags.get("dagster/partition"), pid))
    return dead


def fail_runs(instance: dg.DagsterInstance, run_ids: list[str], reason: str) -> list[str]:
    """Mark the runs failed (those still in progress) and free their concurrency slots."""
    failed = []
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise ValueError(f"no run {run_id!r} in this Dagster instance ($DAGSTER_HOME)")
        if run.status in ACTIVE:
            instance.report_run_failed(run, reason)
            failed.append(run_id)
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    return failed


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every minute: runs whose worker process died (kill -9, a crash) are marked failed and their "
    "pool slots freed, so the runs queued behind them can start. On by default.",
)
def dead_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Every minute: runs whose worker process died are marked failed and their pool slots freed,
    so the runs queued behind them can start."""
    dead = find_dead_runs(context.instance)
    if not dead:
        return dg.SkipReason("no dead runs")
    for run in dead:
        context.log.warning(f"run {run.run_id} ({run.partition or run.job_name}): worker pid {run.pid} is gone")
    failed = fail_runs(
        context.instance, [run.run_id for run in dead], "run worker process died (found by dead_run_sensor)"
    )
    return dg.SkipReason(f"marked failed and freed: {failed}")
