"""The value-alignment track: personas, journals and judge labels against the published parquet contract."""

import itertools
import json
import math
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import dagster as dg
import polars as pl
import pytest

from personality_assets.defs.resources import LLMEngineResource, ResearchDatabase
from personality_assets.defs.values.agreement import self_consistency
from personality_assets.defs.values.assets import (
    CONSENSUS,
    LABELS,
    REGISTRY,
    batch_file,
    journal_entries,
    judge_human_agreement,
    judge_labels,
    value_personas,
)
from personality_assets.defs.values.contract import (
    LABEL_FILE_SCHEMA,
    LABEL_SCHEMA,
    REGISTRY_SCHEMA,
    VALUE_NAMES,
    schema_problems,
)
from personality_assets.defs.values.pools import PoolsError, load_pools
from personality_assets.defs.values.replies import SCHWARTZ_VALUES
from personality_assets.defs.values.simulate import expression_chances
from personality_assets.defs.values.storage import values_store
from personality_assets.store.parquet import ParquetStore
from personality_assets_tests.support.helpers import (
    MATERIALIZE,
    POSTGRES_URL,
    ROOT,
    new_postgres_dagster_home,
    run_command,
)

TRACK = [value_personas, journal_entries, judge_labels]


def _resources(tmp_path):
    return {
        "research_db": (research_db := ResearchDatabase(url=f"sqlite:///{tmp_path / 'research.sqlite'}")),
        "llm": LLMEngineResource(research_db=research_db, progress_every_s=1),
    }


def _run(instance, resources, batch, run_config=None, raise_on_error=True):
    instance.add_dynamic_partitions("value_batch", [batch])
    return dg.materialize(
        TRACK,
        partition_key=batch,
        resources=resources,
        instance=instance,
        run_config=run_config or {},
        raise_on_error=raise_on_error,
    )


def test_the_whole_track_on_the_simulator_meets_the_contract(tmp_path):
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    config = {"ops": {"value_personas": {"config": {"personas": 8}}}}
    first = _run(instance, resources, "wave1", config)
    second = _run(instance, resources, "wave2", config)
    for result in (first, second):
        assert [(c.check_name, c.passed) for c in result.get_asset_check_evaluations() if not c.passed] == []

    store = values_store()
    registry, labels = store.read(REGISTRY), store.read(LABELS)
    # Column by column, the published schemas (the label file adds rationales_json only).
    assert registry.schema == REGISTRY_SCHEMA and schema_problems(registry, REGISTRY_SCHEMA) == []
    assert labels.schema == LABEL_FILE_SCHEMA
    assert schema_problems(labels.drop("rationales_json"), LABEL_SCHEMA) == []
    assert registry.height == 16 and registry["persona_id"].str.contains(r"^[0-9a-f]{8}$").all()
    assert registry.select(pl.all_horizontal("stage_synthetic", "stage_wrangled", "stage_labeled")).to_series().all()
    # Entries per persona drawn from the pools' range; every entry labelled.
    low, high = load_pools().entry_range()
    assert registry["entry_count"].is_between(low, high).all() and registry["entry_count"].n_unique() > 1
    assert str(registry["created_at"].dtype) == "Datetime(time_unit='us', time_zone='UTC')"
    assert registry["core_values"].list.len().is_between(1, 2).all()
    assert labels.height == registry["entry_count"].sum()
    assert not labels.select("persona_id", "t_index").is_duplicated().any()
    assert labels["date"].str.contains(r"^\d{4}-\d{2}-\d{2}$").all()
    # The vector is the ten columns in the contract's order; every non-zero score has a rationale.
    for row in labels.iter_rows(named=True):
        assert row["alignment_vector"] == [row[f"alignment_{v}"] for v in SCHWARTZ_VALUES]
        rationales = json.loads(row["rationales_json"]) if row["rationales_json"] is not None else {}
        assert {v for v in SCHWARTZ_VALUES if row[f"alignment_{v}"] != 0} == set(rationales)
    # Mostly neutral, +1 more common than -1, as the seed describes.
    shares = labels.select(pl.concat_list([f"alignment_{v}" for v in SCHWARTZ_VALUES]).alias("v")).explode("v")
    share = dict(shares["v"].value_counts(normalize=True).iter_rows())
    assert share[0] > 0.65 and share[1] > share[-1] > 0

    # Generation-only style stays out of what downstream sees, and is kept in its own log.
    entries = store.read(batch_file("wave1", "journal_entries"))
    log = store.read(batch_file("wave1", "generation_log"))
    assert not {"tone", "verbosity", "reflection_mode"} & set(entries.columns)
    assert {"tone", "verbosity", "reflection_mode"} <= set(log.columns) and log.height == entries.height
    # Longitudinal: dates never go back, and later entries were written seeing the earlier ones.
    for _, journal in entries.group_by("persona_id"):
        dates = journal.sort("t_index")["date"].to_list()
        assert dates == sorted(dates)
    metadata = first.asset_materializations_for_node("judge_labels")[0].metadata
    assert "data:image/png;base64," in metadata["label_distribution_plot"].value
    assert metadata["consolidated_rows"].value == entries.height and "Benevolence" in {
        r.data["value"] for r in metadata["label_distribution"].records
    }


def test_a_rerun_pays_for_nothing_and_changes_nothing(tmp_path):
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    config = {"ops": {"value_personas": {"config": {"personas": 4}}}}
    _run(instance, resources, "b", config)
    store = values_store()
    before = (store.read(REGISTRY), store.read(LABELS))
    again = _run(instance, resources, "b", config)
    for step in ("value_personas", "journal_entries", "judge_labels"):
        metadata = again.asset_materializations_for_node(step)[0].metadata
        assert metadata["llm_calls"].value == metadata["llm_cached"].value  # every call from the cache
    assert store.read(REGISTRY).equals(before[0]) and store.read(LABELS).equals(before[1])


def test_the_seeds_example_queries_run_unchanged(tmp_path, monkeypatch):
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    _run(instance, resources, "b", {"ops": {"value_personas": {"config": {"personas": 6}}}})
    store = values_store()
    # The seed's paths: logs/registry/personas.parquet and logs/judge_labels/judge_labels.parquet.
    monkeypatch.chdir(tmp_path)
    shutil.copytree(store.root, "logs")
    # --- the published system's example queries, verbatim ---
    registry = pl.read_parquet("logs/registry/personas.parquet")
    labels = pl.read_parquet("logs/judge_labels/judge_labels.parquet")
    enriched = labels.join(
        registry.select(["persona_id", "name", "age", "culture", "profession", "core_values"]),
        on="persona_id",
        how="left",
    )
    value_cols = [c for c in labels.columns if c.startswith("alignment_") and "vector" not in c]
    distribution = {col: labels.group_by(col).len().sort(col).to_dicts() for col in value_cols}
    labels_with_signal = labels.with_columns(
        pl.sum_horizontal([(pl.col(c) != 0).cast(pl.Int64) for c in value_cols]).alias("signal_count")
    )
    high_signal = labels_with_signal.filter(pl.col("signal_count") >= 3)
    persona_values = registry.select(["persona_id", "core_values"]).explode("core_values")
    persona_means = labels.group_by("persona_id").agg([pl.col(c).mean().alias(f"{c}_mean") for c in value_cols])
    # --- end ---
    assert enriched.height == labels.height and enriched["name"].null_count() == 0
    assert len(value_cols) == 10 and all(sum(d["len"] for d in rows) == labels.height for rows in distribution.values())
    assert 0 <= high_signal.height <= labels.height
    assert set(persona_values["core_values"]) <= {
        "Self-Direction",
        "Stimulation",
        "Hedonism",
        "Achievement",
        "Power",
        "Security",
        "Conformity",
        "Tradition",
        "Benevolence",
        "Universalism",
    }
    assert persona_means.height == 6


def test_three_judge_passes_give_a_consensus_and_its_self_consistency(tmp_path):
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    result = _run(
        instance,
        resources,
        "k3",
        {
            "ops": {
                "value_personas": {"config": {"personas": 5}},
                "journal_entries": {"config": {"nudges": False}},
                "judge_labels": {"config": {"passes": 3, "consensus_ties": "signed"}},
            }
        },
    )
    store = values_store()
    # Journals written without nudges: the registry says so, and no entry has a follow-up.
    assert not store.read(REGISTRY)["nudge_enabled"].any()
    entries = store.read(batch_file("k3", "journal_entries"))
    assert entries["nudge_question"].null_count() == entries.height
    passes = store.read(batch_file("k3", "judge_passes"))
    assert passes.height == entries.height * 3 and set(passes["pass"]) == {0, 1, 2}
    consensus = store.read(CONSENSUS)
    assert consensus.height == entries.height
    assert set(consensus["confidence_benevolence"]) <= {"unanimous", "strong", "no_majority"}  # K = 3
    # A drop-in label file: the judge-label contract's columns first, dated from the entries.
    assert schema_problems(consensus, LABEL_FILE_SCHEMA, allow_extra=True) == []
    assert consensus.select("persona_id", "t_index", "date").equals(entries.select("persona_id", "t_index", "date"))
    metadata = result.asset_materializations_for_node("judge_labels")[0].metadata
    shown = [column.name for column in metadata["self_consistency"].schema.columns]
    assert "fleiss_kappa" in shown and "krippendorff_alpha_ordinal" in shown and metadata["passes"].value == 3
    assert len(metadata["self_consistency"].records) == 10  # one row per value
    # the headline: the lowest ordinal α over the values, from the same passes
    lowest = self_consistency(passes.drop("rationales_json"))["krippendorff_alpha_ordinal"].min()
    assert metadata["judge_krippendorff_alpha_ordinal"].value == pytest.approx(lowest, abs=1e-4)
    assert metadata["consensus_ties"].value == "signed"
    # Three distinct calls per entry, not cache hits of one another.
    assert metadata["llm_cached"].value == 0 and metadata["llm_calls"].value == entries.height * 3


def test_the_judge_over_http_retries_out_of_domain_and_malformed_labels(tmp_path, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-values")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    served = {"judge": 0}

    def judge(request_json):
        served["judge"] += 1
        labels = dict.fromkeys(SCHWARTZ_VALUES, 0)
        if served["judge"] == 1:
            labels["power"] = 2  # out of domain: refused, retried with the error fed back
        else:
            labels["benevolence"] = 1
        rationales = {"benevolence": "helped a colleague"} if labels["benevolence"] else {}
        return json.dumps({**labels, "rationales": rationales})

    openai_server.configure(reply=judge)
    openai_server.fail_next(1, "malformed")
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    result = _run(
        instance,
        resources,
        "http",
        {
            "ops": {
                "value_personas": {"config": {"personas": 2}},
                "judge_labels": {"config": {"judge_model": "gpt4o"}},
            }
        },
    )
    assert result.success
    labels = values_store().read(LABELS)
    entries = values_store().read(batch_file("http", "journal_entries")).height
    assert labels.height == entries and (labels["alignment_benevolence"] == 1).all()
    assert (labels["alignment_power"] == 0).all()
    # every entry, one malformed reply and one out-of-domain one asked again; the key never stored.
    assert openai_server.request_count == entries + 2
    assert "sk-test-values" not in labels.drop("alignment_vector").write_csv()


def test_human_annotations_against_the_judge(tmp_path, monkeypatch):
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    _run(instance, resources, "h", {"ops": {"value_personas": {"config": {"personas": 3}}}})
    labels = values_store().read(LABELS)
    folder = tmp_path / "annotations"
    folder.mkdir()
    monkeypatch.setenv("PERSONALITY_ASSETS_VALUES_ANNOTATIONS", str(folder))
    # No annotations yet: materialised, saying why nothing was compared and what to add where.
    empty = dg.materialize([judge_human_agreement], resources=resources, instance=instance)
    said = empty.asset_materializations_for_node("judge_human_agreement")[0].metadata
    assert said["entries"].value == 0
    assert said["compared"].value.startswith(f"nothing: no human annotations in {folder}; add CSV files")
    assert values_store().read("judge_labels/human_agreement_cohen.parquet") is None
    columns = [f"alignment_{v}" for v in SCHWARTZ_VALUES]
    for annotator in ("ann", "bob"):
        frame = labels.select("persona_id", "t_index", pl.lit(annotator).alias("annotator"), *columns)
        if annotator == "bob":  # bob disagrees on benevolence for half the entries
            frame = frame.with_columns(
                pl.when(pl.col("t_index") % 2 == 0)
                .then(0)
                .otherwise(pl.col("alignment_benevolence"))
                .alias("alignment_benevolence")
            )
        frame.write_csv(folder / f"{annotator}.csv")
    result = dg.materialize([judge_human_agreement], resources=resources, instance=instance)
    metadata = result.asset_materializations_for_node("judge_human_agreement")[0].metadata
    assert metadata["annotators"].value == 2 and metadata["entries"].value == labels.height
    for name in ("cohen_kappa_judge_vs_humans", "fleiss_kappa_among_humans"):
        assert "krippendorff_alpha_ordinal" in [column.name for column in metadata[name].schema.columns]
    # the headlines: the lowest ordinal α over the values, of the mean over annotators and among them
    cohen = values_store().read("judge_labels/human_agreement_cohen.parquet")
    fleiss = values_store().read("judge_labels/human_agreement_fleiss.parquet")
    kappas = cohen.filter(pl.col("annotator").is_null())["cohens_kappa"].fill_nan(None).drop_nulls()
    assert metadata["min_cohens_kappa"].value == pytest.approx(kappas.min(), abs=1e-4)
    assert len(metadata["cohen_kappa_judge_vs_humans"].records) == min(50, cohen.height)
    for name, table in (
        ("judge_vs_humans_krippendorff_alpha_ordinal", cohen.filter(pl.col("annotator").is_null())),
        ("humans_krippendorff_alpha_ordinal", fleiss),
    ):
        lowest = table["krippendorff_alpha_ordinal"].min()
        if lowest is None:  # every α undefined: no headline
            assert name not in metadata
        else:
            assert metadata[name].value == pytest.approx(lowest, abs=1e-4)
    (folder / "bad.csv").write_text("persona_id,t_index,annotator\nx,0,carl\n")
    failed = dg.materialize([judge_human_agreement], resources=resources, instance=instance, raise_on_error=False)
    message = next(e for e in failed.all_events if e.is_step_failure).step_failure_data.error.message
    assert "bad.csv" in message


def test_bad_pools_name_the_file_and_field(tmp_path, monkeypatch):
    pools = tmp_path / "pools.yaml"
    shipped = load_pools()
    raw = shipped.model_dump(mode="json")
    raw["core_values_per_persona"] = [0, 3]
    raw["verbosity"]["terse"] = [80, 30]
    import yaml

    pools.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(PoolsError, match=r"pools.yaml: .*core_values_per_persona must be"):
        load_pools(pools)
    raw = shipped.model_dump(mode="json")
    raw["values"].pop("power")
    pools.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(PoolsError, match=r"pools.yaml: values: .*the ten Schwartz values"):
        load_pools(pools)
    monkeypatch.setenv("PERSONALITY_ASSETS_VALUES_POOLS", str(pools))
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    failed = _run(instance, resources, "p", raise_on_error=False)
    message = next(e for e in failed.all_events if e.is_step_failure).step_failure_data.error.message
    assert "pools.yaml" in message and "values" in message
    raw = shipped.model_dump(mode="json")
    raw["entries_per_persona"] = [12, 2]
    pools.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(PoolsError, match=r"entries_per_persona must be .* got \[12, 2\]"):
        load_pools(pools)
    raw["entries_per_persona"] = 5
    raw["simulator"]["expression_rates"]["power"] = 1.5
    pools.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(PoolsError, match=r"simulator.expression_rates: .*between 0 and 1: power"):
        load_pools(pools)


def test_the_whole_track_on_an_s3_root(tmp_path, s3_env, monkeypatch):
    bucket = s3_env.create_bucket()
    monkeypatch.setenv("PERSONALITY_ASSETS_VALUES_ROOT", f"s3://{bucket}/values")
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    result = _run(instance, resources, "s3batch", {"ops": {"value_personas": {"config": {"personas": 3}}}})
    assert all(c.passed for c in result.get_asset_check_evaluations())
    keys = [o["Key"] for o in s3_env.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert {"values/registry/personas.parquet", "values/judge_labels/judge_labels.parquet"} <= set(keys)
    labels = values_store().read(LABELS)
    assert labels.height == values_store().read(REGISTRY)["entry_count"].sum() and labels.schema == LABEL_FILE_SCHEMA
    assert not (tmp_path / "data" / "values").exists()  # nothing went to the local default


@pytest.mark.slow
def test_two_batches_at_once_in_two_processes_lose_nothing(tmp_path):
    """Two `dagster asset materialize` processes, one batch each, on PostgreSQL instance storage and
    research database: the registry and the consolidated labels end with both batches."""
    env = new_postgres_dagster_home(tmp_path / "home", tmp_path / "data")
    schema_suffix = uuid.uuid4().hex[:8]
    env |= {
        "PERSONALITY_ASSETS_DATABASE_URL": POSTGRES_URL,
        "PERSONALITY_ASSETS_REFERENCE_SCHEMA": f"ref_{schema_suffix}",
        "PERSONALITY_ASSETS_EXPERIMENT_SCHEMA": f"exp_{schema_suffix}",
    }
    run_command([sys.executable, "-m", "personality_assets.cli", "batches", "add", "left", "right"], env)
    select = "value_personas,journal_entries,judge_labels"
    config = '{"execution": {"config": {"in_process": {}}}, "ops": {"value_personas": {"config": {"personas": 10}}}}'
    runs = [
        subprocess.Popen(
            [*MATERIALIZE[:-2], "--select", select, "--partition", batch, "--config-json", config],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for batch in ("left", "right")
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    store = ParquetStore(str(tmp_path / "data" / "values"))
    registry, labels = store.read(REGISTRY), store.read(LABELS)
    assert registry.height == 20 and registry["stage_labeled"].all()
    assert (
        labels.height == registry["entry_count"].sum()
        and not labels.select("persona_id", "t_index").is_duplicated().any()
    )


def test_a_persona_id_of_another_batch_is_refused(tmp_path):
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    same_seed = {"ops": {"value_personas": {"config": {"personas": 3, "seed": 7}}}}
    _run(instance, resources, "first", same_seed)
    store = values_store()
    before = store.read(REGISTRY)
    # Another batch sampling with the same seed draws the same ids: refused, nothing of it kept.
    instance.add_dynamic_partitions("value_batch", ["second"])
    clash = dg.materialize(
        [value_personas],
        partition_key="second",
        resources=resources,
        instance=instance,
        run_config=same_seed,
        raise_on_error=False,
    )
    message = next(e for e in clash.all_events if e.is_step_failure).step_failure_data.error.message
    assert "already used by another batch" in message and "'second'" in message
    assert store.read(REGISTRY).equals(before) and not store.exists(batch_file("second", "persona_details"))
    # The first batch's own re-run is not a clash.
    assert _run(instance, resources, "first", same_seed).success


def _registry_with_annotation_order(store: ParquetStore) -> pl.DataFrame:
    """A registry like the published one: the contract's columns plus annotation_order (Int64, set
    for some personas only), which the contract does not name."""
    rows = pl.DataFrame(
        {
            "persona_id": ["0000000a", "0000000b", "0000000c"],
            "name": ["Ada Lee", "Bo Kim", "Cy Ruiz"],
            "age": ["25-34", "55+", "18-24"],
            "profession": ["Teacher", "Nurse", "Artist"],
            "culture": ["East Asian", "Middle Eastern", "Latin American"],
            "core_values": [["Benevolence"], ["Security", "Tradition"], ["Stimulation"]],
            "entry_count": [4, 7, 2],
            "created_at": [datetime(2025, 1, 6, tzinfo=UTC)] * 3,
            "stage_synthetic": [True] * 3,
            "stage_wrangled": [True] * 3,
            "stage_labeled": [True] * 3,
            "nudge_enabled": [True] * 3,
        },
        schema=REGISTRY_SCHEMA,
    ).with_columns(pl.Series("annotation_order", [2, None, 1], dtype=pl.Int64))
    store.write(REGISTRY, rows)
    return rows


def test_a_registry_column_the_contract_does_not_name_is_kept(tmp_path):
    store = values_store()
    published = _registry_with_annotation_order(store)
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    result = _run(instance, resources, "extra", {"ops": {"value_personas": {"config": {"personas": 3}}}})
    assert result.success
    registry = store.read(REGISTRY)
    assert registry.schema["annotation_order"] == pl.Int64
    assert schema_problems(registry, REGISTRY_SCHEMA, allow_extra=True) == []
    assert registry.height == 6
    # The earlier personas keep every column as it was; the new ones have no annotation_order.
    kept = registry.join(published.select("persona_id"), on="persona_id").sort("persona_id")
    assert kept.equals(published.sort("persona_id"))
    new = registry.join(published, on="persona_id", how="anti")
    assert new.height == 3 and new["annotation_order"].null_count() == 3
    assert new["stage_labeled"].all() and (new["entry_count"] > 0).all()


def test_a_batch_that_fails_midway_leaves_nothing_behind(tmp_path):
    store = values_store()
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    # A registry whose entry_count is not the contract's Int64: value_personas fails after the
    # writer named the personas, at the registry update.
    broken = _registry_with_annotation_order(store).with_columns(pl.col("entry_count").cast(pl.String))
    store.write(REGISTRY, broken)
    instance.add_dynamic_partitions("value_batch", ["midway"])
    failed = dg.materialize(
        [value_personas],
        partition_key="midway",
        resources=resources,
        instance=instance,
        run_config={"ops": {"value_personas": {"config": {"personas": 3}}}},
        raise_on_error=False,
    )
    failures = [e for e in failed.all_events if e.is_step_failure]
    message = failures[0].step_failure_data.error.message
    assert "personas.parquet" in message and "entry_count" in message and "Int64" in message
    assert not any(e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY for e in failed.all_events)  # not retried
    assert store.list("batches/") == [] and store.read(REGISTRY).equals(broken)

    # journal_entries of a batch whose personas are in: the registry breaks before its update.
    _registry_with_annotation_order(store)
    config = {"ops": {"value_personas": {"config": {"personas": 3}}}}
    instance.add_dynamic_partitions("value_batch", ["later"])
    dg.materialize([value_personas], partition_key="later", resources=resources, instance=instance, run_config=config)
    before = store.list("batches/")
    broken = store.read(REGISTRY).with_columns(pl.col("stage_synthetic").cast(pl.String))
    store.write(REGISTRY, broken)
    failed = dg.materialize(
        [journal_entries], partition_key="later", resources=resources, instance=instance, raise_on_error=False
    )
    message = next(e for e in failed.all_events if e.is_step_failure).step_failure_data.error.message
    assert "stage_synthetic" in message
    assert store.list("batches/") == before and store.read(REGISTRY).equals(broken)


def test_rationales_are_null_for_an_entry_without_a_signal(tmp_path, openai_server, monkeypatch):
    # As in the published judge labels: no non-zero score, no rationales (null, not "{}").
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-values")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    served = {"judge": 0}

    def judge(request_json):
        served["judge"] += 1
        labels = dict.fromkeys(SCHWARTZ_VALUES, 0)
        if served["judge"] % 2:
            labels["power"] = -1
        return json.dumps({**labels, "rationales": {"power": "overruled everyone"} if labels["power"] else {}})

    openai_server.configure(reply=judge)
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    config = {
        "ops": {"value_personas": {"config": {"personas": 2}}, "judge_labels": {"config": {"judge_model": "gpt4o"}}}
    }
    assert _run(instance, resources, "quiet", config).success
    labels = values_store().read(LABELS)
    quiet = labels.filter(pl.col("alignment_power") == 0)
    signal = labels.filter(pl.col("alignment_power") != 0)
    assert quiet.height > 0 and signal.height > 0
    assert quiet["rationales_json"].null_count() == quiet.height
    assert [json.loads(r) for r in signal["rationales_json"]] == [{"power": "overruled everyone"}] * signal.height


def _clustered_se(labels: pl.DataFrame, hit: pl.Expr) -> tuple[float, float]:
    """The share of entries where ``hit`` holds, and its standard error with personas as clusters
    (a persona's entries share its core values, so they are not independent draws)."""
    per_persona = labels.group_by("persona_id").agg(hit.sum().alias("y"), pl.len().alias("m"))
    n = labels.height
    share = float(per_persona["y"].sum()) / n
    residuals = per_persona.select(((pl.col("y") - share * pl.col("m")) ** 2).sum()).item()
    return share, math.sqrt(residuals) / n


def test_the_simulator_follows_the_pools_expression_and_contradiction_rates(tmp_path):
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    _run(instance, resources, "rates", {"ops": {"value_personas": {"config": {"personas": 400}}}})
    store = values_store()
    labels, registry = store.read(LABELS), store.read(REGISTRY)
    simulator = load_pools().simulator
    n = labels.height
    # Entries per persona drawn from the pools' range, not one fixed number.
    low, high = load_pools().entries_per_persona
    counts = labels.group_by("persona_id").len()["len"]
    assert counts.min() == low and counts.max() == high and n == registry["entry_count"].sum()

    observed = {}
    for value in SCHWARTZ_VALUES:
        rate = simulator.expression_rates[value]
        share, clustered = _clustered_se(labels, pl.col(f"alignment_{value}") == 1)
        binomial = math.sqrt(rate * (1 - rate) / n)
        # Within 4 standard errors: the binomial one, or the larger one of clustered entries.
        assert abs(share - rate) < 4 * max(binomial, clustered), (value, share, rate, binomial, clustered)
        observed[value] = (share, max(binomial, clustered))
    (stimulation, se_s), (benevolence, se_b) = observed["stimulation"], observed["benevolence"]
    assert stimulation + 4 * se_s < benevolence - 4 * se_b

    # Entries that score -1 on one of the persona's own core values.
    by_name = {name: key for key, name in VALUE_NAMES.items()}
    core = registry.select("persona_id", pl.col("core_values").list.eval(pl.element().replace_strict(by_name)))
    joined = labels.join(core, on="persona_id")
    contradicts = pl.any_horizontal(
        pl.col("core_values").list.contains(value) & (pl.col(f"alignment_{value}") == -1) for value in SCHWARTZ_VALUES
    )
    share = joined.select(contradicts.mean()).item()
    rate = simulator.contradiction_rate
    assert abs(share - rate) < 4 * math.sqrt(rate * (1 - rate) / n), (share, rate)


@pytest.mark.parametrize(
    ("core_range", "rate", "contradiction"), [((1, 2), 0.077, 0.1), ((1, 2), 0.6, 0.3), ((2, 4), 0.276, 1.0)]
)
def test_expression_chances_average_to_the_rate_over_personas(core_range, rate, contradiction):
    # Every core value set a persona can draw (size uniform in the range, then a uniform subset),
    # weighted by its chance: the share of entries expressing the value is the configured rate.
    low, high = core_range
    rates = dict.fromkeys(SCHWARTZ_VALUES, rate)
    core_share = (low + high) / 2 / len(SCHWARTZ_VALUES)
    expected = 0.0
    for size in range(low, high + 1):
        sets = list(itertools.combinations(SCHWARTZ_VALUES, size))
        for core in sets:
            chance = expression_chances(rates, list(core), core_share, contradiction)["power"]
            assert 0 <= chance <= 1
            contradicted = contradiction / size if "power" in core else 0.0
            expected += chance * (1 - contradicted) / (high - low + 1) / len(sets)
    assert expected == pytest.approx(rate, abs=1e-12)


def test_a_consensus_file_in_the_old_format_is_named_before_anything_is_written(tmp_path):
    store = values_store()
    # Another batch's consensus file from before the published format (consensus_<value>, ...).
    old = pl.DataFrame({"persona_id": ["0000000a"], "t_index": [0], "passes": [3], "consensus_power": [0]})
    store.write(batch_file("before", "consensus_labels"), old)
    instance, resources = dg.DagsterInstance.ephemeral(), _resources(tmp_path)
    config = {"ops": {"value_personas": {"config": {"personas": 2}}, "judge_labels": {"config": {"passes": 3}}}}
    failed = _run(instance, resources, "k3new", config, raise_on_error=False)
    message = next(e for e in failed.all_events if e.is_step_failure).step_failure_data.error.message
    assert "batches/before/consensus_labels.parquet" in message and "judge_labels" in message
    assert not store.exists(batch_file("k3new", "judge_labels")) and not store.exists(LABELS)
    assert not store.read(REGISTRY)["stage_labeled"].any()
