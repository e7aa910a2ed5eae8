"""The explorer's value-alignment pages over batches the track's own assets wrote on the simulator:
the list filters and pages what the parquet files hold, an entry's page shows its texts, every
judge pass's labels and reasons, the consensus and its persona."""

import json

import dagster as dg
import polars as pl
import pytest
from markupsafe import escape
from starlette.testclient import TestClient

from personality_assets.db.engine import DatabaseTarget
from personality_assets.defs.resources import LLMEngineResource, ResearchDatabase
from personality_assets.defs.values.assets import REGISTRY, batch_file, journal_entries, judge_labels, value_personas
from personality_assets.defs.values.contract import VALUE_NAMES
from personality_assets.defs.values.replies import SCHWARTZ_VALUES
from personality_assets.defs.values.storage import ROOT_VARIABLE, values_store
from personality_assets.explorer import values
from personality_assets.explorer.app import create_app
from personality_assets.store.parquet import ParquetStore

KEY = ["persona_id", "t_index"]
COLUMNS = [f"alignment_{value}" for value in SCHWARTZ_VALUES]


@pytest.fixture
def batches(tmp_path):
    """Batch k3 (3 personas, judged in 3 passes: a consensus file) and batch solo (2 personas, one
    pass), by the track's assets on the simulator."""
    research_db = ResearchDatabase(url=f"sqlite:///{tmp_path / 'research.sqlite'}")
    resources = {"research_db": research_db, "llm": LLMEngineResource(research_db=research_db, progress_every_s=1)}
    instance = dg.DagsterInstance.ephemeral()
    for batch, personas, passes in (("k3", 3, 3), ("solo", 2, 1)):
        instance.add_dynamic_partitions("value_batch", [batch])
        config = {
            "value_personas": {"config": {"personas": personas}},
            "judge_labels": {"config": {"passes": passes}},
        }
        assert dg.materialize(
            [value_personas, journal_entries, judge_labels],
            partition_key=batch,
            resources=resources,
            instance=instance,
            run_config={"ops": config},
        ).success
    target = DatabaseTarget(research_db.url)
    return TestClient(create_app(target)), values_store(), instance, resources


def _frame(rows: list[dict], *columns: str) -> pl.DataFrame:
    return pl.DataFrame([{column: row[column] for column in columns} for row in rows])


def _disagreeing(passes: pl.DataFrame) -> pl.DataFrame:
    """The entries on which the passes gave different labels on some value, from the passes file."""
    return (
        passes.group_by(KEY)
        .agg(pl.any_horizontal(pl.col(c).n_unique() > 1 for c in COLUMNS).alias("disagree"))
        .filter("disagree")
        .select(KEY)
    )


def test_the_value_pages_over_two_batches_the_track_wrote(batches, s3_env, monkeypatch):
    """One test over one pair of batches (the track takes most of its time)."""
    client, store, instance, resources = batches
    _the_list_filters_and_pages_the_files(client, store)
    _an_entry_shows_its_texts_the_passes_the_consensus_and_its_persona(client, store)
    _the_same_files_on_an_s3_root(client, store, s3_env, monkeypatch)
    _a_consensus_file_of_an_earlier_run_is_not_shown(store, instance, resources)


def _the_same_files_on_an_s3_root(client, store, s3_env, monkeypatch):
    """The store's files copied under an s3:// root: the pages read them there (glob scans, paths)."""
    remote = ParquetStore(f"s3://{s3_env.create_bucket()}/values")
    for path in store.list():
        remote.write(path, store.read(path))
    everything, total = values.entries_page(store, values.ValueFilter(), size=1000)
    assert values.entries_page(remote, values.ValueFilter(), size=1000) == (everything, total)
    disagreeing = values.ValueFilter(batch="k3", agreement="disagree")
    assert values.entries_page(remote, disagreeing) == values.entries_page(store, disagreeing)
    monkeypatch.setenv(ROOT_VARIABLE, remote.root)
    row = everything[0]
    page = client.get(f"/values/{row['batch']}/{row['persona_id']}/{row['t_index']}")
    assert page.status_code == 200
    entry = store.read(batch_file(row["batch"], "journal_entries")).row(0, named=True)
    assert str(escape(entry["entry"])) in page.text
    monkeypatch.delenv(ROOT_VARIABLE)


def _a_consensus_file_of_an_earlier_run_is_not_shown(store, instance, resources):
    """k3 judged again with one pass: its consensus file stays behind; the labels shown are the new pass's."""
    assert dg.materialize(
        [judge_labels],
        partition_key="k3",
        resources=resources,
        instance=instance,
        run_config={"ops": {"judge_labels": {"config": {"passes": 1}}}},
    ).success
    # The file left behind, made to differ everywhere from the new labels: none of it may show.
    stale = store.read(batch_file("k3", "consensus_labels"))
    store.write(batch_file("k3", "consensus_labels"), stale.with_columns(pl.lit(1, pl.Int64).alias(c) for c in COLUMNS))
    single = store.read(batch_file("k3", "judge_labels")).select(*KEY, *COLUMNS)
    rows, _ = values.entries_page(store, values.ValueFilter(batch="k3"), size=1000)
    assert _frame(rows, *KEY, *COLUMNS).equals(single) and {r["passes"] for r in rows} == {1}
    assert values.entries_page(store, values.ValueFilter(agreement="disagree"))[1] == 0
    some = single.row(0, named=True)
    shown = values.entry(store, "k3", some["persona_id"], some["t_index"])
    assert shown["consensus_file"] == batch_file("k3", "judge_labels") and shown["pass_numbers"] == [0]


def _the_list_filters_and_pages_the_files(client, store):
    entries = {b: store.read(batch_file(b, "journal_entries")) for b in ("k3", "solo")}
    consensus = store.read(batch_file("k3", "consensus_labels"))
    single = store.read(batch_file("solo", "judge_labels"))
    passes = store.read(batch_file("k3", "judge_passes"))
    assert set(passes["pass"]) == {0, 1, 2} and store.read(batch_file("solo", "judge_passes"))["pass"].max() == 0

    def page(**query):
        return values.entries_page(store, values.ValueFilter(**query), size=1000)

    everything, total = page()
    assert total == len(everything) == sum(frame.height for frame in entries.values())
    assert page(batch="nope") == ([], 0) and page(batch="..") == ([], 0)
    k3, k3_total = page(batch="k3")
    assert k3_total == entries["k3"].height and {r["batch"] for r in k3} == {"k3"}
    assert [(r["persona_id"], r["t_index"]) for r in k3] == list(entries["k3"].select(KEY).iter_rows())
    # The labels shown are the consensus file's (k3) and the single pass's (solo).
    labels = pl.concat([consensus.select(*KEY, *COLUMNS), single.select(*KEY, *COLUMNS)])
    shown = _frame(everything, *KEY, *COLUMNS)
    assert shown.sort(KEY).equals(labels.sort(KEY))

    persona = entries["solo"]["persona_id"][0]
    mine, mine_total = page(persona=persona)
    assert mine_total == entries["solo"].filter(pl.col("persona_id") == persona).height > 0
    assert {r["persona_id"] for r in mine} == {persona}

    # A value and a label: the entries whose consensus on it is that label (both batches).
    counts = labels.group_by("alignment_benevolence").len()
    for label, expected in counts.iter_rows():
        _, n = page(value="benevolence", label=f"{label:+d}" if label else "0")
        assert n == expected
    _, signalled = page(value="benevolence")
    assert signalled == labels.filter(pl.col("alignment_benevolence") != 0).height
    _, any_positive = page(label="+1")
    assert any_positive == labels.filter(pl.any_horizontal(pl.col(c) == 1 for c in COLUMNS)).height < total

    # Agreement: the passes of k3 disagree on some entries; one pass never disagrees with itself.
    disagreeing = _disagreeing(passes)
    assert 0 < disagreeing.height < entries["k3"].height
    rows, n = page(agreement="disagree")
    assert n == disagreeing.height and {r["batch"] for r in rows} == {"k3"}
    assert _frame(rows, *KEY).sort(KEY).equals(disagreeing.sort(KEY))
    _, agreeing = page(agreement="agree")
    assert agreeing == total - disagreeing.height
    on_value = passes.group_by(KEY).agg(pl.col("alignment_benevolence").n_unique() > 1).filter("alignment_benevolence")
    assert page(value="benevolence", agreement="disagree")[1] == on_value.height

    second, _ = values.entries_page(store, values.ValueFilter(), page=2, size=3)
    assert [(r["batch"], r["persona_id"], r["t_index"]) for r in second] == [
        (r["batch"], r["persona_id"], r["t_index"]) for r in everything[3:6]
    ]

    response = client.get("/values", params={"batch": "k3", "agreement": "disagree"})
    assert response.status_code == 200
    assert f"{disagreeing.height} entries match" in response.text
    first = disagreeing.sort(KEY).row(0, named=True)
    assert f'href="/values/k3/{first["persona_id"]}/{first["t_index"]}"' in response.text
    assert "/values/solo/" not in response.text


def _an_entry_shows_its_texts_the_passes_the_consensus_and_its_persona(client, store):
    entries = store.read(batch_file("k3", "journal_entries"))
    passes = store.read(batch_file("k3", "judge_passes"))
    consensus = store.read(batch_file("k3", "consensus_labels"))
    # An entry with a follow-up question and its answer: the page shows them with the entry.
    nudged = entries.filter(pl.col("nudge_answer").is_not_null()).row(0, named=True)
    text = client.get(f"/values/k3/{nudged['persona_id']}/{nudged['t_index']}").text
    for part in (nudged["entry"], nudged["title"], nudged["nudge_question"], nudged["nudge_answer"]):
        assert str(escape(part)) in text
    # An entry the passes disagree on, and a value they disagree on.
    row = _disagreeing(passes).join(entries, on=KEY).sort(KEY).row(0, named=True)
    mine = passes.filter(pl.col("persona_id") == row["persona_id"], pl.col("t_index") == row["t_index"]).sort("pass")
    value = next(v for v in SCHWARTZ_VALUES if mine[f"alignment_{v}"].n_unique() > 1)
    response = client.get(f"/values/k3/{row['persona_id']}/{row['t_index']}")
    assert response.status_code == 200
    text = response.text
    assert str(escape(row["entry"])) in text
    # Each pass's label and reason on the value, in pass order, in that value's row.
    value_row = text.split(f'id="value-{value}"')[1].split("</tr>")[0]
    assert VALUE_NAMES[value] in value_row and "≠" in value_row
    cells = value_row.split("<td>")[1:]
    assert len(cells) == 4  # three passes and the consensus
    for cell, pass_row in zip(cells, mine.iter_rows(named=True), strict=False):
        label = pass_row[f"alignment_{value}"]
        assert f"<strong>{f'{label:+d}' if label else '0'}</strong>" in cell
        reason = json.loads(pass_row["rationales_json"] or "{}").get(value)
        assert (str(escape(reason)) in cell) if reason else ('class="reason"' not in cell)
    agreed = consensus.filter(pl.col("persona_id") == row["persona_id"], pl.col("t_index") == row["t_index"])
    label = agreed[f"alignment_{value}"][0]
    assert f"<strong>{f'{label:+d}' if label else '0'}</strong>" in cells[3]
    assert agreed[f"confidence_{value}"][0] in cells[3]
    # Its persona: the registry's row and the batch's details.
    person = store.read(REGISTRY).filter(pl.col("persona_id") == row["persona_id"]).row(0, named=True)
    details = store.read(batch_file("k3", "persona_details")).filter(pl.col("persona_id") == row["persona_id"])
    for part in (person["name"], person["profession"], ", ".join(person["core_values"]), details["background"][0]):
        assert str(escape(part)) in text

    # A single-pass entry: one pass column, no disagreement; an unknown entry is not found.
    solo = store.read(batch_file("solo", "journal_entries")).row(0, named=True)
    single = client.get(f"/values/solo/{solo['persona_id']}/{solo['t_index']}")
    assert single.status_code == 200 and "pass 0" in single.text and "pass 1" not in single.text
    assert "≠" not in single.text and str(escape(solo["entry"])) in single.text
    assert client.get(f"/values/k3/{solo['persona_id']}/0").status_code == 404
    assert client.get(f"/values/nope/{solo['persona_id']}/0").status_code == 404


def test_the_value_pages_before_any_batch(tmp_path):
    client = TestClient(create_app(DatabaseTarget(f"sqlite:///{tmp_path / 'research.sqlite'}")))
    response = client.get("/values", params={"batch": "wave1", "value": "benevolence", "label": "+1"})
    assert response.status_code == 200
    assert "0 entries match" in response.text and "No journal entries in" in response.text
