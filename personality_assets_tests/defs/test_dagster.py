"""The Dagster side: assets, metadata, the drop-folder sensor, the CLI and both instance storages."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine, delete, func, insert, select, text
from sqlalchemy.engine import make_url

from personality_assets.cli import main as run_cli
from personality_assets.db import migrate
from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.persona_study import Persona
from personality_assets.db.tables.reference import ReferenceQuestionnaire
from personality_assets.definitions import defs
from personality_assets.defs.partitions import experiment_partitions, population_partitions
from personality_assets.defs.reference.assets import questionnaires, reference_questionnaires
from personality_assets.defs.reference.sensors import load_population_job, population_drop_sensor
from personality_assets.defs.resources import ResearchDatabase
from personality_assets.populations.drop_folder import scan_drop_folder
from personality_assets.populations.load import LoadOptions, load_population
from personality_assets.populations.names import PopulationNameError, check_population_name
from personality_assets.populations.open_psychometrics_file import write_open_psychometrics_file
from personality_assets.questionnaires import all_questionnaires
from personality_assets.questionnaires.store import store_questionnaires
from personality_assets_tests.support.helpers import (
    MATERIALIZE,
    POSTGRES_URL,
    ROOT,
    cli_env,
    new_dagster_home,
    new_postgres_dagster_home,
    run_command,
)
from personality_assets_tests.support.study import research_resources


def _answers(target, population):
    with experiment_transaction(target) as connection:
        return connection.execute(
            select(func.count()).where(ReferenceQuestionnaire.population == population)
        ).scalar_one()


def test_definitions_load():
    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert {"questionnaires", "reference_questionnaires"} <= keys
    assert repository.get_sensor_def("population_drop_sensor")


def test_materialise_population_partition_with_metadata(empty_target):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(population_partitions.name, ["sample"])
    resources = research_resources(empty_target)
    assert dg.materialize([questionnaires], resources=resources, instance=instance).success
    result = dg.materialize(
        [questionnaires, reference_questionnaires],
        selection=[reference_questionnaires],
        partition_key="sample",
        resources=resources,
        instance=instance,
    )
    assert result.success
    metadata = result.asset_materializations_for_node("reference_questionnaires")[0].metadata
    assert metadata["respondents"].value == 300
    assert metadata["dagster/row_count"].value == 300 * 74 == _answers(empty_target, "sample")
    assert metadata["excluded_rows"].value == 0 and metadata["synthetic"].value is True
    assert {record.data["questionnaire"] for record in metadata["scale_scores"].records} >= {"bigfive"}
    assert metadata["preview"].schema.columns[0].name == "personality_id" and metadata["preview"].records
    assert 2.0 < metadata["bigfive.EXT.mean"].value < 4.0
    assert [c.name for c in metadata["dagster/column_schema"].schema.columns][:2] == ["population", "personality_id"]


def test_sensor_adds_a_partition_and_a_run_per_new_file(db_target, tmp_path, monkeypatch):
    drop = tmp_path / "incoming"
    drop.mkdir()
    monkeypatch.setenv("PERSONALITY_ASSETS_DROP_DIR", str(drop))
    instance = dg.DagsterInstance.ephemeral()
    assert isinstance(population_drop_sensor(dg.build_sensor_context(instance=instance)), dg.SkipReason)

    write_open_psychometrics_file(drop / "Wave 2 (IPIP).tsv", 300)
    result = population_drop_sensor(dg.build_sensor_context(instance=instance))
    assert result.dynamic_partitions_requests[0].partition_keys == ["Wave_2_IPIP"]
    (run,) = result.run_requests
    assert run.partition_key == "Wave_2_IPIP"

    # Do what the daemon does with the result, then run the request: the population loads.
    instance.add_dynamic_partitions(population_partitions.name, ["Wave_2_IPIP"])
    job = defs.resolve_job_def(load_population_job.name)
    executed = job.execute_in_process(
        run_config=run.run_config,
        partition_key=run.partition_key,
        instance=instance,
        resources=research_resources(db_target),
    )
    assert executed.success and _answers(db_target, "Wave_2_IPIP") > 0
    metadata = executed.asset_materializations_for_node("reference_questionnaires")[0].metadata
    assert metadata["file_rows"].value == 300 == metadata["loaded_rows"].value + metadata["excluded_rows"].value

    # Nothing new: skip. A changed file: a new run for the same partition.
    again = population_drop_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor))
    assert isinstance(again, dg.SkipReason)
    os.utime(drop / "Wave 2 (IPIP).tsv", ns=(1, 1))
    changed = population_drop_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor))
    assert [r.partition_key for r in changed.run_requests] == ["Wave_2_IPIP"]
    assert changed.dynamic_partitions_requests[0].partition_keys == []


@pytest.mark.slow
def test_definitions_validate_cli(tmp_path):
    (tmp_path / "home").mkdir()
    env = cli_env(tmp_path / "home", tmp_path / "data")
    run_command(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "personality_assets.definitions"], env
    )
    # The dg scaffold finds the same definitions through [tool.dg] in pyproject.toml.
    checked = run_command([str(Path(sys.executable).with_name("dg")), "check", "defs"], env)
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = run_command([str(Path(sys.executable).with_name("dg")), "list", "defs", "--json"], env).stdout
    assert '"questionnaire_answers"' in listed and '"dead_run_sensor"' in listed


@pytest.mark.slow
def test_asset_materialize_cli_with_sqlite_instance(tmp_path):
    home, data = tmp_path / "dagster_home", tmp_path / "data"
    env = new_dagster_home(home, data)
    run_command([*MATERIALIZE, "--select", "questionnaires"], env)
    run_command([sys.executable, "-m", "personality_assets.cli", "populations", "add", "sample"], env)
    run_command([*MATERIALIZE, "--select", "reference_questionnaires", "--partition", "sample"], env)
    summary = run_command([sys.executable, "-m", "personality_assets.cli", "summary"], env).stdout
    assert "sample" in summary and "22200" in summary
    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("reference_questionnaires"))
        assert event.asset_materialization.partition == "sample"
        assert event.asset_materialization.metadata["respondents"].value == 300
    assert (home / "storage").is_dir() and (data / "research.reference.sqlite").exists()


@pytest.mark.slow
@pytest.mark.postgres
def test_asset_materialize_cli_with_postgres_instance(tmp_path):
    env = new_postgres_dagster_home(tmp_path / "dagster_home", tmp_path / "data")
    url, instance_db = make_url(POSTGRES_URL), env["DAGSTER_PG_DB"]
    run_command([*MATERIALIZE, "--select", "questionnaires"], env)
    with create_engine(url.set(database=instance_db)).connect() as connection:
        statuses = connection.execute(text("SELECT status FROM runs")).scalars().all()
        materialized = connection.execute(
            text("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
        ).scalar_one()
    assert statuses == ["SUCCESS"] and materialized == 1


# --- population names: one rule for the CLI, the sensor and the loader ---------------------------


BAD_NAMES = [
    "",
    "../etc",
    "a/b",
    "x'; DROP TABLE reference_populations; --",
    "a|b",
    "a,b",
    "x" * 300,
    "_hidden",
    "wave-2",
    "Wave 2",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_population_names_are_refused_with_the_rule(name):
    with pytest.raises(PopulationNameError, match=r"letters, digits and _"):
        check_population_name(name)


@pytest.mark.parametrize("name", ["sample", "sample_maxN", "spain826_maxP", "Wave_2", "x" * 64])
def test_good_population_names_pass(name):
    assert check_population_name(name) == name


def test_the_loader_refuses_a_bad_name(db_target):
    with pytest.raises(PopulationNameError, match="letters, digits and _"):
        load_population(db_target, "a|b", LoadOptions(), log=lambda message: None)


@pytest.mark.slow
def test_cli_adds_only_valid_names_and_removes_partitions_and_data(tmp_path):
    home, data = tmp_path / "dagster_home", tmp_path / "data"
    env = new_dagster_home(home, data)
    cli = [sys.executable, "-m", "personality_assets.cli"]
    refused = subprocess.run(
        [*cli, "populations", "add", "good_one", "a|b"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 2 and "'a|b'" in refused.stderr and "letters, digits and _" in refused.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_dynamic_partitions("population") == []  # nothing added when any name is bad

    run_command([*cli, "populations", "add", "sample", "sample_maxN"], env)
    run_command([*MATERIALIZE, "--select", "questionnaires"], env)
    run_command([*MATERIALIZE, "--select", "reference_questionnaires", "--partition", "sample"], env)
    target = ResearchDatabase().target  # the CLI's own database: the data dir set for this test

    kept = run_command([*cli, "populations", "remove", "sample_maxN"], env).stdout
    assert "removed partitions: ['sample_maxN']" in kept
    removed = run_command([*cli, "populations", "remove", "sample", "--delete-data"], env).stdout
    assert "sample: 22,200 answers and the population row deleted" in removed
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_dynamic_partitions("population") == []
    with experiment_transaction(target) as connection:
        assert connection.execute(select(func.count()).select_from(ReferenceQuestionnaire)).scalar_one() == 0


def test_cli_enables_only_configured_models_and_disables_them(tmp_path, monkeypatch, capsys):
    """`models add` makes model partitions of configured keys only (nothing when one is not);
    `models remove` deletes them. The study covers only the models enabled."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("")

    def enabled() -> list[str]:
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            return instance.get_dynamic_partitions("model")

    with pytest.raises(SystemExit) as refused:
        run_cli(["models", "add", "simulated", "gpt5_typo"])
    assert refused.value.code == 2
    error = capsys.readouterr().err
    assert "'gpt5_typo': a model key of the models configuration (" in error and "simulated_alt" in error
    assert enabled() == []
    run_cli(["models", "add", "simulated", "simulated_acquiescent", "simulated"])
    assert "model partitions added: ['simulated', 'simulated_acquiescent']" in capsys.readouterr().out
    assert enabled() == ["simulated", "simulated_acquiescent"]
    run_cli(["models", "remove", "simulated_acquiescent", "gpt4o"])
    out = capsys.readouterr().out
    assert "removed model partitions: ['simulated_acquiescent']; not partitions: ['gpt4o']" in out
    assert enabled() == ["simulated"]
    with (
        dg.DagsterInstance.from_config(str(tmp_path)) as instance,
        dg.partition_loading_context(dynamic_partitions_store=instance),
    ):
        instance.add_dynamic_partitions("population", ["sample", "sample_maxN"])
        assert experiment_partitions.get_partition_keys() == ["simulated|sample", "simulated|sample_maxN"]


def test_drop_folder_scan_refuses_colliding_names_and_ignores_links_out_of_the_folder(tmp_path):
    drop = tmp_path / "incoming"
    drop.mkdir()
    outside = tmp_path / "secret.csv"
    outside.write_text("personality_id,question_number,answer\n1,1,3\n")
    (drop / "linked.csv").symlink_to(outside)
    write_open_psychometrics_file(drop / "wave-2.csv", 20)
    write_open_psychometrics_file(drop / "wave_2.tsv", 20)
    write_open_psychometrics_file(drop / "wave_3.tsv", 20)
    (drop / "inside.csv").symlink_to(drop / "wave_3.tsv")  # a link within the folder is a file like any other
    (drop / "%%%.csv").write_text("x")

    scan = scan_drop_folder(drop, seen={}, loaded_from={})
    assert scan.new == [("inside", drop / "inside.csv"), ("wave_3", drop / "wave_3.tsv")]
    assert scan.problems == [
        "%%%.csv: no usable population name in the file name (use letters, digits and _, starting with a letter "
        "or digit, at most 64 characters); rename it",
        "linked.csv: a link to a file outside the drop folder; ignored",
        "wave-2.csv, wave_2.tsv: all name population 'wave_2'; rename all but one (nothing loaded)",
    ]
    # A file whose name maps to a population loaded before from another file is refused too.
    later = scan_drop_folder(drop, seen={}, loaded_from={"wave_3": "older_wave_3.csv"})
    assert ("wave_3", drop / "wave_3.tsv") not in later.new
    assert (
        "wave_3.tsv: population 'wave_3' was loaded from older_wave_3.csv; remove it first "
        "(python -m personality_assets.cli populations remove wave_3) or rename the file"
    ) in later.problems


def test_sensor_runs_only_unambiguous_files(tmp_path, monkeypatch):
    drop = tmp_path / "incoming"
    drop.mkdir()
    monkeypatch.setenv("PERSONALITY_ASSETS_DROP_DIR", str(drop))
    write_open_psychometrics_file(drop / "wave-2.csv", 20)
    write_open_psychometrics_file(drop / "wave_2.tsv", 20)
    write_open_psychometrics_file(drop / "wave_3.tsv", 20)
    instance = dg.DagsterInstance.ephemeral()
    result = population_drop_sensor(dg.build_sensor_context(instance=instance))
    assert [r.partition_key for r in result.run_requests] == ["wave_3"]
    assert result.dynamic_partitions_requests[0].partition_keys == ["wave_3"]
    # Once the collision is resolved (one renamed), the other file runs.
    (drop / "wave-2.csv").rename(drop / "wave_2b.csv")
    resolved = population_drop_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor))
    assert sorted(r.partition_key for r in resolved.run_requests) == ["wave_2", "wave_2b"]
    # Only collisions left: the sensor skips and says why.
    write_open_psychometrics_file(drop / "wave 3.csv", 20)
    skipped = population_drop_sensor(dg.build_sensor_context(instance=instance, cursor=resolved.cursor))
    assert isinstance(skipped, dg.SkipReason)
    assert "wave 3.csv, wave_3.tsv: all name population 'wave_3'" in skipped.skip_message


def test_a_removed_population_can_be_loaded_again_from_another_file(tmp_path, monkeypatch):
    drop = tmp_path / "incoming"
    drop.mkdir()
    monkeypatch.setenv("PERSONALITY_ASSETS_DROP_DIR", str(drop))
    write_open_psychometrics_file(drop / "wave_3.tsv", 20)
    instance = dg.DagsterInstance.ephemeral()
    first = population_drop_sensor(dg.build_sensor_context(instance=instance))
    instance.add_dynamic_partitions(population_partitions.name, ["wave_3"])  # as the daemon does with the result
    (drop / "wave_3.tsv").unlink()
    write_open_psychometrics_file(drop / "wave 3.csv", 20)
    refused = population_drop_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    assert "population 'wave_3' was loaded from wave_3.tsv" in refused.skip_message
    # What the message tells the user to do (populations remove wave_3) lets the new file load.
    instance.delete_dynamic_partition(population_partitions.name, "wave_3")
    again = population_drop_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    assert [(r.partition_key, r.tags["population_file"]) for r in again.run_requests] == [("wave_3", "wave 3.csv")]


@pytest.mark.slow
def test_cli_remove_delete_data_refuses_a_population_still_in_use_and_changes_nothing(tmp_path):
    home = tmp_path / "dagster_home"
    env = new_dagster_home(home, tmp_path / "data")  # the data dir of this test's process: the same database
    target = ResearchDatabase().target
    migrate.upgrade(target)
    store_questionnaires(target, list(all_questionnaires().values()))
    for population in ("sample", "sample_maxN"):
        load_population(target, population, log=lambda message: None)
    with experiment_transaction(target) as connection:
        connection.execute(
            insert(Persona).values(
                ref_personality_id=1, ref_population="sample", population="sample", model="simulated"
            )
        )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("population", ["sample", "sample_maxN"])
    cli = [sys.executable, "-m", "personality_assets.cli", "populations", "remove"]

    refused = subprocess.run(
        [*cli, "sample_maxN", "sample", "--delete-data"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "sample: 1 persona(s) and 0 experiment(s) use it" in refused.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_dynamic_partitions("population") == ["sample", "sample_maxN"]  # nothing removed
    assert _answers(target, "sample") > 0 and _answers(target, "sample_maxN") > 0

    with experiment_transaction(target) as connection:
        connection.execute(delete(Persona))
    derived = subprocess.run(
        [*cli, "sample", "--delete-data"], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert derived.returncode == 1 and "sample: populations derived from it: ['sample_maxN']" in derived.stderr
    removed = run_command([*cli, "sample", "sample_maxN", "--delete-data"], env).stdout
    assert "sample: 22,200 answers and the population row deleted" in removed
    assert _answers(target, "sample") == 0 == _answers(target, "sample_maxN")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_dynamic_partitions("population") == []
