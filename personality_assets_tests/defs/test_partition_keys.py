"""A run for a partition that does not exist fails before anything is asked or written, naming the
rule and how to add the partition: through Dagster's GraphQL client against a real `dagster dev`
(webserver and daemon), and in process for every partitioned asset of every track."""

import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql import DagsterGraphQLClient

from personality_assets.db.engine import experiment_transaction
from personality_assets.definitions import defs
from personality_assets.defs.resources import ResearchDatabase
from personality_assets_tests.support.helpers import new_dagster_home, run_command, serving

pytestmark = pytest.mark.filterwarnings("ignore:Using variable_values:DeprecationWarning")  # gql, inside the client

CLI = [sys.executable, "-m", "personality_assets.cli"]
ENDED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def _wait(condition, what: str, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def _step_failures(home: Path, run_id: str) -> list[str]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    failures = []
    for record in records:
        data = record.event_log_entry.dagster_event.step_failure_data
        description = data.user_failure_data.description if data.user_failure_data else None
        failures.append(f"{record.event_log_entry.step_key}: {description or data.error.message}")
    return failures


@pytest.fixture
def dagster_dev(tmp_path):
    """`dagster dev` (webserver and daemon, the committed dagster.yaml) on a free port; yields
    (GraphQL client, DAGSTER_HOME, data dir, environment)."""
    home, data = tmp_path / "home", tmp_path / "data"
    env = new_dagster_home(home, data)
    command = [sys.executable, "-m", "dagster", "dev", "-m", "personality_assets.definitions"]
    with serving(command, env, tmp_path / "dagster_dev.log") as base:
        yield DagsterGraphQLClient("127.0.0.1", port_number=int(base.rsplit(":", 1)[1]), timeout=30), home, data, env


@pytest.mark.slow
def test_a_run_for_an_unknown_batch_fails_first_and_a_valid_batch_runs_through_graphql(dagster_dev):
    client, home, data, env = dagster_dev
    values = data / "values"

    # A key never added, and breaking the naming rule: the first step fails, nothing is written.
    run_id = client.submit_job_execution("value_alignment", tags={"dagster/partition": "no such batch"})
    assert _wait(lambda: client.get_run_status(run_id) in ENDED and client.get_run_status(run_id), "the run")
    assert client.get_run_status(run_id) == dg.DagsterRunStatus.FAILURE
    (failure,) = _step_failures(home, run_id)
    assert failure.startswith("value_personas: ")
    assert "'no such batch' is not a value batch partition: a name must use letters, digits and _" in failure
    assert "python -m personality_assets.cli batches add NAME" in failure
    assert not (values / "registry" / "personas.parquet").exists()
    assert not (values / "batches").exists() or list((values / "batches").iterdir()) == []

    # A registered batch runs end to end through the same client.
    run_command([*CLI, "batches", "add", "wave1"], env)
    run_config = {"ops": {"value_personas": {"config": {"personas": 3}}}}
    run_id = client.submit_job_execution("value_alignment", run_config=run_config, tags={"dagster/partition": "wave1"})
    _wait(lambda: client.get_run_status(run_id) in ENDED, "the valid run")
    assert client.get_run_status(run_id) == dg.DagsterRunStatus.SUCCESS, _step_failures(home, run_id)
    assert (values / "registry" / "personas.parquet").exists()
    assert (values / "batches" / "wave1" / "judge_labels.parquet").exists()
    assert sorted(p.name for p in (values / "batches").iterdir()) == ["wave1"]


# Keys that are no partition, by the kind of partitions of an asset, with what the refusal says.
UNKNOWN_KEYS = {
    "population": [
        ("no pop", ["'no pop' is not a population partition: a name must use letters", "populations add NAME"]),
        ("nopop", ["'nopop' is not a population partition: add it with", "populations add NAME"]),
    ],
    "value_batch": [
        ("no such batch", ["'no such batch' is not a value batch partition: a name must use", "batches add NAME"]),
        ("wave9", ["'wave9' is not a value batch partition: add it with", "batches add NAME"]),
    ],
    "essay_topic": [
        ("Free, or not?", ["'Free, or not?' is not a topic partition:", "a comma is not allowed", "topics add"]),
        ("Never added?", ["'Never added?' is not a topic partition: add it with", 'topics add "TOPIC"']),
    ],
    "model|population": [
        ("simulated|nopop", ["'nopop' is not a population partition", "populations add NAME"]),
        ("nomodel|sample", ["'nomodel' is not a model partition", "simulated", "models.yaml"]),
        # configured, but not enabled for the study
        ("simulated_alt|sample", ["'simulated_alt' is not a model partition: add it with", "models add KEY"]),
        ("garbage", ["'garbage' is not written <model>|<population>"]),
    ],
    "day": [
        ("2024-12-31", ["'2024-12-31' is not a day partition: a UTC day written like 2025-01-01"]),
        ("2999-01-01", ["'2999-01-01' is not a day partition", "to tomorrow"]),  # (not a date: Dagster refuses the run)
    ],
}
REPOSITORY = defs.get_repository_def()


def _kind(partitions_def) -> str:
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return "|".join(partitions_def.partition_dimension_names)
    return getattr(partitions_def, "name", None) or "day"


PARTITIONED = sorted(
    (a.key.to_user_string(), _kind(a.partitions_def))
    for a in REPOSITORY.asset_graph.assets_defs
    if a.is_executable and a.partitions_def is not None
)


def test_every_track_s_partitioned_assets_are_covered():
    tracks = {REPOSITORY.asset_graph.get(dg.AssetKey(asset)).group_name for asset, _ in PARTITIONED}
    assert {"reference", "persona_study", "values", "essays", "usage"} <= tracks
    assert {kind for _, kind in PARTITIONED} == set(UNKNOWN_KEYS)


@pytest.mark.parametrize(
    ("asset", "key", "says"),
    [(asset, key, says) for asset, kind in PARTITIONED for key, says in UNKNOWN_KEYS[kind]],
)
def test_a_run_for_a_key_that_is_no_partition_fails_first_with_the_rule(isolated_data_dir, asset, key, says):
    """A run submitted with only the dagster/partition tag (as the GraphQL API and scripts can):
    Dagster starts it; the asset's first step fails at once, nothing asked or written."""
    _fails_first(isolated_data_dir, asset, key, says, {"population": ["sample"], "model": ["simulated"]})


# Keys that break their definition's rule, though added to the instance as the UI's "add
# partition" (or a script) adds any string: (the dynamic definition, the key, the run's key, what
# the refusal says).
RULE_BREAKERS = {
    "value_batch": ("value_batch", "no such batch", "no such batch", ["a name must use letters", "batches add NAME"]),
    "essay_topic": ("essay_topic", "Free, or not?", "Free, or not?", ["a comma is not allowed", "topics add"]),
    "model|population": ("model", "nomodel", "nomodel|sample", ["a model key of the models configuration"]),
    "population": ("population", "no pop", "no pop", ["a name must use letters", "populations add NAME"]),
}


@pytest.mark.parametrize(("asset", "kind"), [(asset, kind) for asset, kind in PARTITIONED if kind in RULE_BREAKERS])
def test_a_partition_added_to_the_instance_against_the_rule_fails_first_with_the_rule(isolated_data_dir, asset, kind):
    """Dagster stores whatever key it is given; the asset's first step still refuses it."""
    definition, partition, key, says = RULE_BREAKERS[kind]
    _fails_first(
        isolated_data_dir,
        asset,
        key,
        [f"{partition!r} is not a", *says],
        {"population": ["sample"], "model": ["simulated"], definition: [partition]},
    )


def _fails_first(isolated_data_dir, asset, key, says, partitions):
    """Run the asset for the key on an instance holding these dynamic partitions: its step fails
    first, saying each of ``says``, and nothing is asked or written."""
    job = REPOSITORY.get_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        for definition, keys in partitions.items():
            instance.add_dynamic_partitions(definition, keys)
        result = job.execute_in_process(
            tags={"dagster/partition": key},
            asset_selection=[dg.AssetKey(asset)],
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_key == asset and failure.step_failure_data.user_failure_data is not None
    description = failure.step_failure_data.user_failure_data.description
    for part in says:
        assert part in description, description
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION]
    written = [p for p in isolated_data_dir.rglob("*") if not p.name.startswith("research.")]
    assert written == []  # only the research database, which the resource migrates when a step starts
    with experiment_transaction(ResearchDatabase().target) as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM llm_calls").scalar() == 0
