"""Model keys in run config are checked when a run is launched (the launchpad too): a key the models
configuration does not know is refused before any step starts, and the refusal lists the keys it
does know."""

import dagster as dg
import pytest

from personality_assets.definitions import defs
from personality_assets.defs.resources import LLMEngineResource, ResearchDatabase
from personality_assets.defs.values.assets import value_personas
from personality_assets.llm.config import load_models_config

REPOSITORY = defs.get_repository_def()
CONFIGURED = sorted(load_models_config().models)
# Every run-config field that names a model (the persona study names its model by partition).
MODEL_KEY_FIELDS = {
    ("value_personas", "writer_model"),
    ("journal_entries", "writer_model"),
    ("judge_labels", "judge_model"),
    ("research_seeds", "research_model"),
    ("essay_personas", "persona_model"),
    ("essay_personas", "research_model"),
    ("essays", "writer_model"),
}


def _config_fields():
    for assets_def in REPOSITORY.asset_graph.assets_defs:
        if assets_def.is_executable and assets_def.node_def.config_schema is not None:
            fields = getattr(assets_def.node_def.config_schema.config_type, "fields", None) or {}
            for name, field in fields.items():
                yield assets_def.node_def.name, name, field


def test_every_model_key_field_offers_the_configured_keys():
    fields = {(op, name): field for op, name, field in _config_fields() if name.endswith("_model")}
    assert set(fields) == MODEL_KEY_FIELDS
    for where, field in fields.items():
        assert field.config_type.kind.value == "ENUM", where  # the launchpad offers the keys
        assert sorted(value.config_value for value in field.config_type.enum_values) == CONFIGURED, where
        assert field.default_value == "simulated", where


@pytest.mark.parametrize(("op", "name"), sorted(MODEL_KEY_FIELDS))
def test_an_unknown_model_key_is_refused_at_launch_with_the_configured_keys(op, name):
    asset_key = next(key for key in REPOSITORY.asset_graph.get_all_asset_keys() if key.to_user_string() == op)
    job = defs.resolve_implicit_job_def_def_for_assets([asset_key])
    with pytest.raises(dg.DagsterInvalidConfigError) as refused:
        dg.validate_run_config(job, {"ops": {op: {"config": {name: "gpt5_typo"}}}})
    message = str(refused.value)
    assert f"root:ops:{op}:config:{name}" in message and "gpt5_typo" in message
    assert all(repr(key) in message for key in CONFIGURED), message
    dg.validate_run_config(job, {"ops": {op: {"config": {name: CONFIGURED[0]}}}})  # a configured key passes


def test_a_run_with_an_unknown_model_key_never_starts(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONALITY_ASSETS_DATA_DIR", str(tmp_path / "data"))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("value_batch", ["b1"])
    research_db = ResearchDatabase(url=f"sqlite:///{tmp_path / 'research.sqlite'}")
    with pytest.raises(dg.DagsterInvalidConfigError, match="simulated_alt"):
        dg.materialize(
            [value_personas],
            partition_key="b1",
            resources={"research_db": research_db, "llm": LLMEngineResource(research_db=research_db)},
            instance=instance,
            run_config={"ops": {"value_personas": {"config": {"writer_model": "gpt5_typo"}}}},
        )
    assert instance.get_runs() == []
    assert not (tmp_path / "data").exists() and not (tmp_path / "research.sqlite").exists()  # nothing written
