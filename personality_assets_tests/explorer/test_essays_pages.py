"""The explorer's essay pages over a topic the track's own assets wrote on the simulator, on SQLite
and PostgreSQL: the list filters and pages in the database, an essay's page shows its text, its
dimensions, its student persona, its prompt and the research seed."""

from urllib.parse import urlsplit

import dagster as dg
import polars as pl
import pytest
from markupsafe import escape
from sqlalchemy import select, update
from starlette.testclient import TestClient

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.essays import Essay, EssayPersona, EssayPrompt, ResearchSeed
from personality_assets.defs.essays.assets import (
    essay_dimensions,
    essay_personas,
    essays,
    essays_parquet,
    research_seeds,
)
from personality_assets.explorer import essays as pages
from personality_assets.explorer.app import create_app
from personality_assets.explorer.queries import read_only
from personality_assets_tests.support.study import research_resources

TOPIC = "Should homework be optional in secondary school?"
ESSAYS = 8


@pytest.fixture
def topic(empty_target):
    """ESSAYS essays on TOPIC by the track on the simulator; one of them then failed (content
    cleared, an error recorded) as a failed attempt leaves it."""
    instance, resources = dg.DagsterInstance.ephemeral(), research_resources(empty_target)
    assert dg.materialize([essay_dimensions], resources=resources, instance=instance).success
    instance.add_dynamic_partitions("essay_topic", [TOPIC])
    assert dg.materialize(
        [research_seeds, essay_personas, essays],
        partition_key=TOPIC,
        resources=resources,
        instance=instance,
        run_config={"ops": {"essay_personas": {"config": {"essays": ESSAYS}}}},
    ).success
    frame = pl.read_parquet(essays_parquet(TOPIC))
    failed = int(frame["id"][-1])
    with experiment_transaction(empty_target) as connection:
        connection.execute(
            update(Essay).where(Essay.id == failed).values(content=None, word_count=None, error="planted: timed out")
        )
    link = instance.get_latest_materialization_event(dg.AssetKey("essays")).asset_materialization.metadata
    return empty_target, frame, failed, urlsplit(link["explorer"].url)


def test_the_essay_pages_over_a_topic_the_track_wrote(topic):
    target, frame, failed, _ = topic
    client = TestClient(create_app(target))
    written = frame.filter(pl.col("id") != failed)

    def page(**query):
        with read_only(target) as connection:
            return pages.essays_page(connection, pages.EssayFilter(**query), size=1000)

    everything, total = page()
    assert total == len(everything) == ESSAYS
    assert [r["id"] for r in everything] == frame["id"].to_list()  # the topic's plan order
    topic_id = str(everything[0]["topic_id"])
    assert page(topic=topic_id)[1] == ESSAYS and page(topic=str(int(topic_id) + 1))[1] == 0
    # Each dimension narrows to the essays with that level, as the track's parquet export has them.
    for column in ("stance", "evidence", "style", "quality"):
        for level, expected in frame.group_by(column).len().iter_rows():
            rows, n = page(**{column: level})
            assert n == expected < ESSAYS and {r[column] for r in rows} == {level}
    first = frame.row(0, named=True)
    both, n = page(stance=first["stance"], quality=first["quality"])
    assert n == frame.filter(pl.col("stance") == first["stance"], pl.col("quality") == first["quality"]).height
    assert first["id"] in {r["id"] for r in both}
    mine, n = page(persona=str(first["persona_id"]))
    assert n == 1 and mine[0]["id"] == first["id"]  # a persona writes one essay per topic
    assert [r["id"] for r in page(status="failed")[0]] == [failed] == [r["id"] for r in page(status="pending")[0]]
    assert page(status="written")[1] == written.height
    with read_only(target) as connection:
        second, _ = pages.essays_page(connection, pages.EssayFilter(), page=2, size=3)
        choices = pages.filter_choices(connection)
    assert [r["id"] for r in second] == [r["id"] for r in everything[3:6]]
    assert [key for key, _ in choices["stance"]][:2] == ["strongly_for", "for"]  # the dimensions file's order

    listed = client.get("/essays", params={"stance": first["stance"], "quality": first["quality"]})
    assert listed.status_code == 200 and f"{len(both)} essays match" in listed.text
    assert f'href="/essays/{first["id"]}"' in listed.text
    others = written.filter(pl.col("stance") != first["stance"])["id"]
    assert all(f'href="/essays/{other}"' not in listed.text for other in others)

    # An essay in full: its text, its four levels, its persona, its prompt and the topic's seed.
    with read_only(target) as connection:
        persona = connection.execute(select(EssayPersona.__table__).where(EssayPersona.id == first["persona_id"]))
        persona = persona.mappings().one()
        prompt = connection.execute(select(EssayPrompt.text).where(EssayPrompt.id == first["prompt_id"])).scalar_one()
        seed = connection.execute(select(ResearchSeed.content).where(ResearchSeed.id == first["seed_id"])).scalar_one()
    shown = client.get(f"/essays/{first['id']}")
    assert shown.status_code == 200
    text = shown.text
    assert str(escape(first["content"])) in text and f"{first['word_count']} words" in text
    dimensions = text.split('id="dimensions"')[1].split("</table>")[0]
    for column in ("stance", "evidence", "style", "quality"):
        assert f"<code>{first[column]}</code>" in dimensions
    for part in (persona["background"], *persona["strengths"], *persona["interests"], prompt, TOPIC):
        assert str(escape(part)) in text
    angle = seed["angles"][0]
    for part in (angle["angle"], *angle["facts"], angle["sources"][0]["title"]):
        assert str(escape(part)) in text
    pending = client.get(f"/essays/{failed}")
    assert pending.status_code == 200 and "planted: timed out" in pending.text and 'id="essay-text"' not in pending.text
    assert client.get(f"/essays/{max(frame['id']) + 1}").status_code == 404


def test_the_essays_asset_links_to_its_topic_in_the_explorer(topic):
    target, _, _, link = topic
    listed = TestClient(create_app(target)).get(f"{link.path}?{link.query}")
    assert listed.status_code == 200 and f"{ESSAYS} essays match" in listed.text
