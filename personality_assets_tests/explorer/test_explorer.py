"""The results explorer over a real study on both engines: the overview counts what was run, the
experiments list filters and pages in the database."""

from urllib.parse import urlsplit

import dagster as dg
import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.persona_study import ExperimentsList
from personality_assets.explorer import queries
from personality_assets.explorer.app import create_app
from personality_assets_tests.support.study import load_populations, materialize_study, research_resources

PEOPLE = 3


@pytest.fixture
def study(db_target):
    """sample with PEOPLE personas answered by the simulator, one experiment failed with a reason."""
    resources = research_resources(db_target)
    instance = dg.DagsterInstance.ephemeral()
    load_populations(resources, instance, ["sample"])
    assert materialize_study(resources, instance, "simulated", "sample", max_people=PEOPLE).success
    with experiment_transaction(db_target) as connection:
        failed_id = min(connection.execute(ExperimentsList.__table__.select()).scalars())
        connection.execute(
            update(ExperimentsList)
            .where(ExperimentsList.experiment_id == failed_id)
            .values(succeeded=None, llm_explanation="reply is not valid JSON: planted")
        )
    return db_target, failed_id, instance


def test_overview_and_experiment_filters(study):
    target, failed_id, _ = study
    client = TestClient(create_app(target))
    overview = client.get("/")
    assert overview.status_code == 200
    assert "simulated" in overview.text and "sample" in overview.text

    with queries.read_only(target) as connection:
        (row,) = queries.studies(connection)
        everything, total = queries.experiments_page(connection, queries.ExperimentFilter())
        failures, failed_total = queries.experiments_page(connection, queries.ExperimentFilter(status="failed"))
        bigfive, bigfive_total = queries.experiments_page(connection, queries.ExperimentFilter(questionnaire="bigfive"))
        second, _ = queries.experiments_page(connection, queries.ExperimentFilter(), page=2, size=2)
    assert row["personas"] == PEOPLE and row["failed"] == 1 and row["answered"] == row["experiments"] - 1
    assert total == row["experiments"]
    assert failed_total == 1 and failures[0]["experiment_id"] == failed_id
    assert failures[0]["reason"] == "reply is not valid JSON: planted"
    assert bigfive_total == PEOPLE and {r["questionnaire"] for r in bigfive} == {"bigfive"}
    assert [r["experiment_id"] for r in second] == [r["experiment_id"] for r in everything[2:4]]

    page = client.get("/experiments", params={"status": "failed"})
    assert page.status_code == 200
    assert f'href="/experiments/{failed_id}"' in page.text and "planted" in page.text
    assert "1 experiments match" in page.text


def test_the_answers_asset_links_to_its_experiments_in_the_explorer(study, monkeypatch):
    target, failed_id, instance = study
    event = instance.get_latest_materialization_event(dg.AssetKey("questionnaire_answers"))
    metadata = event.asset_materialization.metadata
    client = TestClient(create_app(target))
    answered = urlsplit(metadata["explorer"].url)
    failures = urlsplit(metadata["explorer_failures"].url)
    assert answered.netloc == "127.0.0.1:3001"  # PERSONALITY_ASSETS_EXPLORER_URL's default
    page = client.get(f"{answered.path}?{answered.query}")
    with queries.read_only(target) as connection:
        (row,) = queries.studies(connection)
    assert f"{row['experiments']} experiments match" in page.text
    failed_page = client.get(f"{failures.path}?{failures.query}")
    assert f'href="/experiments/{failed_id}"' in failed_page.text
