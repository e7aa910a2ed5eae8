"""What the Dagster UI shows a new user: the automation sensor on, a description on every sensor
and schedule, owners, code references and column schemas on the assets, plain-text descriptions
of resources and config fields, and runs of `make run` under the project's jobs."""

import re
from pathlib import Path

import dagster as dg
import pytest

from personality_assets.db.tables.persona_study import EvalQuestionnaire, ExperimentsList, Persona
from personality_assets.definitions import defs
from personality_assets.defs.metadata import OWNERS
from personality_assets.defs.persona_study import assets as study_assets

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = defs.get_repository_def()
SPECS = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}


def test_the_automation_sensor_is_on_by_default_and_covers_the_scores():
    sensors = [s for s in REPOSITORY.sensor_defs if isinstance(s, dg.AutomationConditionSensorDefinition)]
    assert [s.name for s in sensors] == ["automation_condition_sensor"]  # Dagster's own (stopped) one is not made
    (sensor,) = sensors
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    selected = sensor.asset_selection.resolve(REPOSITORY.asset_graph)
    assert dg.AssetKey("questionnaire_scores") in selected
    assert SPECS["questionnaire_scores"].automation_condition is not None


@pytest.mark.parametrize(
    "definition",
    [*REPOSITORY.sensor_defs, *REPOSITORY.schedule_defs],
    ids=lambda d: d.name,
)
def test_every_sensor_and_schedule_says_what_it_does_and_whether_it_is_on(definition):
    description = definition.description or ""
    assert description and "\n" not in description, description
    on = definition.default_status.value == "RUNNING"
    assert ("On by default" if on else "Off by default") in description, description


@pytest.mark.parametrize(
    ("asset", "model"),
    [
        ("personas", Persona),
        ("experiment_registrations", ExperimentsList),
        ("questionnaire_answers", EvalQuestionnaire),
    ],
)
def test_the_study_tables_show_owner_code_reference_and_columns(asset, model):
    spec = SPECS[asset]
    assert spec.owners == OWNERS
    (reference,) = spec.metadata["dagster/code_references"].code_references
    assert Path(reference.file_path) == Path(study_assets.__file__).resolve()
    lines = Path(reference.file_path).read_text().splitlines()
    assert lines[reference.line_number - 1].startswith(("@dg.asset", "@model_step"))  # the decorator of ...
    assert any(line.startswith(f"def {asset}(") for line in lines[reference.line_number :][:15])  # ... this asset
    schema = spec.metadata["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchema)
    assert [column.name for column in schema.columns] == [column.name for column in model.__table__.columns]


def test_every_asset_has_an_owner_and_a_code_reference():
    for key, spec in SPECS.items():
        assert spec.owners, key
        (reference,) = spec.metadata["dagster/code_references"].code_references
        assert Path(reference.file_path).is_file() and reference.line_number > 0, key


def _config_descriptions(config_type, path: str):
    for name, field in (getattr(config_type, "fields", None) or {}).items():
        yield f"{path}.{name}", field.description
        yield from _config_descriptions(field.config_type, f"{path}.{name}")
    for attribute in ("inner_type",):  # Noneable, Array (not the {"env": ...} form of a StringSource)
        inner = getattr(config_type, attribute, None)
        if inner is not None:
            yield from _config_descriptions(inner, path)


def _project_descriptions():
    """The descriptions the launchpad and the Deployment page show as plain text: resources and
    their fields, and every asset's run config fields."""
    for name, resource in defs.resources.items():
        definition = resource.get_resource_definition()
        yield f"resources.{name}", definition.description
        yield from _config_descriptions(definition.config_schema.config_type, f"resources.{name}")
    for assets_def in REPOSITORY.asset_graph.assets_defs:
        if assets_def.is_executable and assets_def.node_def.config_schema is not None:
            yield from _config_descriptions(
                assets_def.node_def.config_schema.config_type, f"ops.{assets_def.node_def.name}"
            )


def test_descriptions_of_resources_and_config_fields_are_plain_text():
    described = dict(_project_descriptions())
    assert "resources.research_db.url" in described and "ops.personas.max_people" in described
    for where, description in described.items():
        assert description, f"{where} has no description"
        assert "``" not in description, f"{where}: {description!r}"
        assert "\n " not in description, f"{where} is indented: {description!r}"


def _selected(job_name: str) -> set[str]:
    job = REPOSITORY.get_job(job_name)
    return {key.to_user_string() for key in job.asset_layer.executable_asset_keys}


def test_the_jobs_select_what_they_should():
    group = lambda name: {key for key, spec in SPECS.items() if spec.group_name == name}  # noqa: E731
    assert _selected("reference_data") == {"questionnaires", "reference_questionnaires"} == group("reference")
    assert _selected("load_population") == {"reference_questionnaires"}
    assert _selected("persona_study") == {
        "personas",
        "experiment_registrations",
        "questionnaire_answers",
        "questionnaire_scores",
    }
    assert _selected("answer_pending_experiments") == {"questionnaire_answers", "questionnaire_scores"}
    assert _selected("reports") == group("reports") and "scale_score_report" in group("reports")


def _recipe(makefile: str, target: str) -> str:
    """The target's recipe and those of its prerequisites defined in the Makefile."""
    prerequisites, _, recipe = makefile.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0].partition("\n")
    own = [name for name in prerequisites.split() if f"\n{name}:" in makefile]
    return "\n".join([*(_recipe(makefile, name) for name in own), recipe])


def test_make_run_runs_the_jobs_and_the_docs_name_real_ones():
    makefile = (ROOT / "Makefile").read_text()
    recipe = _recipe(makefile, "run")
    assert "asset materialize" not in recipe and "$(LAUNCH) --job" in recipe
    assert "LAUNCH := $(BIN)/dg launch -m personality_assets.definitions" in makefile
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = set(re.findall(r"--job (\w+)", recipe + "".join(path.read_text() for path in documents)))
    assert {"reference_data", "load_population", "persona_study", "reports"} <= named
    jobs = {job.name for job in REPOSITORY.get_all_jobs()}
    assert named <= jobs, named - jobs
