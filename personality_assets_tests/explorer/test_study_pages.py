"""The explorer's persona-study drill-down over a real simulated study on both engines: the persona
and experiment pages show what was sent and what came back as stored, the answers and scores the
database holds; failures show their reasons and the raw replies that failed; the side-by-side
numbers equal polars' on the same rows; the search finds descriptions."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser

import dagster as dg
import polars as pl
import pytest
from markupsafe import escape
from sqlalchemy import func, insert, select, update
from starlette.testclient import TestClient

from personality_assets.db.engine import experiment_transaction, get_engine
from personality_assets.db.tables.persona_study import (
    EvalQuestionnaire,
    ExperimentRequestMetadata,
    ExperimentsList,
    Persona,
    QuestionnaireScore,
)
from personality_assets.db.tables.reference import ReferenceQuestionnaire
from personality_assets.db.tables.usage import LLMCall
from personality_assets.explorer import study as study_queries
from personality_assets.explorer.app import create_app
from personality_assets.explorer.queries import read_only
from personality_assets.questionnaires import get_questionnaire
from personality_assets_tests.support.study import (
    leaves_out_item_7,
    load_populations,
    materialize_study,
    study_reply,
    study_resources,
)

PEOPLE = 3
MODELS = ("simulated", "simulated_alt")
FAILING = "gpt4o"  # behind the local OpenAI-compatible server
BEDROCK = "llama31_70b"  # behind the local Bedrock Converse endpoint


class Rows(HTMLParser):
    """Every table row of a page: its attributes and its cells' text (``<td>`` and ``<th>``)."""

    def __init__(self, html: str):
        super().__init__()
        self.rows: list[tuple[dict, list[str]]] = []
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append((dict(attrs), []))
        elif tag in ("td", "th") and self.rows:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1][1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def with_attribute(self, name: str) -> dict[str, list[str]]:
        return {attrs[name]: cells for attrs, cells in self.rows if name in attrs}


def frame(target, query) -> pl.DataFrame:
    """The query's rows; JSON documents as their text (see decoded)."""
    with get_engine(target).connect() as connection:
        rows = [
            {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()}
            for row in connection.execute(query).mappings()
        ]
    return pl.DataFrame(rows, infer_schema_length=None)


def decoded(value):
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture
def study(db_target, openai_server, bedrock_server, monkeypatch):
    """sample with PEOPLE personas per simulated model. One experiment failed once and was asked
    again (two requests). A model behind the local OpenAI-compatible server leaves out an item, so
    its experiments fail with the reason and their invalid replies are in llm_calls; another
    track's invalid call is there too."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    bedrock_server.configure(reply=study_reply)
    resources = study_resources(
        db_target, monkeypatch, openai_url=openai_server.base_url, bedrock_url=bedrock_server.url
    )
    instance = dg.DagsterInstance.ephemeral()
    load_populations(resources, instance, ["sample"])
    for model in MODELS:
        assert materialize_study(resources, instance, model, "sample", max_people=PEOPLE).success
    experiments = ExperimentsList.__table__
    with experiment_transaction(db_target) as connection:
        first = connection.execute(
            select(func.min(experiments.c.experiment_id)).where(experiments.c.model == MODELS[0])
        ).scalar_one()
        connection.execute(
            update(experiments)
            .where(experiments.c.experiment_id == first)
            .values(succeeded=None, llm_explanation="reply is not valid JSON: asked again")
        )
    # The re-run asks the pending experiment again (a second request row), and only it.
    assert materialize_study(resources, instance, MODELS[0], "sample", max_people=PEOPLE).success
    assert materialize_study(resources, instance, BEDROCK, "sample", max_people=1).success
    openai_server.configure(reply=leaves_out_item_7)
    result = materialize_study(resources, instance, FAILING, "sample", max_people=1, raise_on_error=False)
    assert not result.success  # every experiment failed: more than max_failed_share
    with experiment_transaction(db_target) as connection:
        template = dict(
            connection.execute(select(LLMCall.__table__).where(LLMCall.purpose == "questionnaire").limit(1))
            .mappings()
            .one()
        )
        template.pop("id")
        connection.execute(
            insert(LLMCall),
            template
            | {
                "purpose": "essay",
                "status": "invalid",
                "error": "another track's invalid reply",
                "response_text": "essay text",
                "cache_key": "planted-essay",
            },
        )
    return db_target, first


def check_persona_page_shows_what_was_sent_and_stored(target, client):
    personas = frame(target, select(Persona.__table__).order_by(Persona.id))
    persona = personas.row(0, named=True)
    page = client.get(f"/personas/{persona['id']}")
    assert page.status_code == 200
    text = page.text
    assert str(escape(persona["description"])) in text  # in full
    for field in ("occupation", "location", "political_orientation"):
        if persona[field]:
            assert str(escape(persona[field])) in text
    assert persona["model"] in text and f"{persona['ref_personality_id']}</strong> of" in text

    experiment_ids = frame(
        target,
        select(ExperimentsList.experiment_id).where(ExperimentsList.personality_id == persona["id"]),
    )["experiment_id"].to_list()
    assert len(experiment_ids) == 2  # bigfive and epqr_a
    requests = frame(
        target,
        select(ExperimentRequestMetadata.__table__).where(ExperimentRequestMetadata.experiment_id.in_(experiment_ids)),
    )
    calls = frame(
        target,
        select(LLMCall.__table__).where(LLMCall.purpose == "questionnaire", LLMCall.status == "ok"),
    )
    assert requests.height == 3  # persona 1's first experiment was asked twice
    for request in requests.iter_rows(named=True):
        # The engine's record of the call that answered this experiment.
        (call,) = calls.filter(pl.col("tag").str.starts_with(f"({request['experiment_id']}, ")).iter_rows(named=True)
        # What was sent: the stored request, or for a reply served from the cache, the request of
        # the call that answered it.
        sent = decoded(request["request_json"]) or decoded(call["request_json"])
        (system, user) = sent["messages"]
        assert system[0] == "system" and persona["description"] in system[1]
        assert str(escape(system[1])) in text and str(escape(user[1])) in text  # the prompt, whole
        reply = decoded(request["response_json"])
        assert reply["text"] == call["response_text"]
        assert str(escape(reply["text"])) in text  # the raw reply

    rows = Rows(text)
    answers = frame(
        target,
        select(
            EvalQuestionnaire.experiment_id,
            EvalQuestionnaire.questionnaire,
            EvalQuestionnaire.question_number,
            EvalQuestionnaire.answer,
        ).where(EvalQuestionnaire.experiment_id.in_(experiment_ids)),
    )
    reference = frame(
        target,
        select(ReferenceQuestionnaire.__table__).where(
            ReferenceQuestionnaire.population == persona["ref_population"],
            ReferenceQuestionnaire.personality_id == persona["ref_personality_id"],
        ),
    )
    assert answers.height == 50 + 24
    with read_only(target) as connection:
        tables = study_queries.persona_page(connection, persona["id"])["answer_tables"]
    for table in tables:
        definition = get_questionnaire(table["questionnaire"])
        stored = answers.filter(pl.col("questionnaire") == table["questionnaire"])
        (experiment_id,) = stored["experiment_id"].unique().to_list()
        by_item = dict(stored.select("question_number", "answer").iter_rows())
        their = dict(
            reference.filter(pl.col("questionnaire") == table["questionnaire"])
            .select("question_number", "answer")
            .iter_rows()
        )
        assert [r["answers"][0]["code"] for r in table["rows"]] == [by_item[r["number"]] for r in table["rows"]]
        assert [r["reference"]["code"] for r in table["rows"]] == [their[r["number"]] for r in table["rows"]]
        # The page shows each item's reference answer and the persona's, with the codes' labels.
        html_rows = [cells for attrs, cells in rows.rows if "data-item" in attrs]
        for number, answer in by_item.items():
            expected = [
                f"{their[number]} {definition.answer_codes[their[number]]}",
                f"{answer} {definition.answer_codes[answer]}",
            ]
            assert any(cells[0] == str(number) and cells[3:] == expected for cells in html_rows), number

    scores = frame(
        target, select(QuestionnaireScore.__table__).where(QuestionnaireScore.experiment_id.in_(experiment_ids))
    )
    shown = [cells for attrs, cells in rows.rows if "data-scale" in attrs]
    assert len(shown) == scores.height == 5 + 4
    for score in scores.iter_rows(named=True):
        title = study_queries.scale_title(score["questionnaire"], score["scale"])
        assert [
            f"{title} ({score['scale']})",
            f"{score['score']:.3f}",
            f"{score['reference_score']:.3f}",
            f"{score['difference']:.3f}",
        ] in shown
    # The overview above each questionnaire's items: per scale, the reference score and each experiment's.
    overview = rows.with_attribute("data-scale-score")
    assert len(overview) == scores.height
    for score in scores.iter_rows(named=True):
        title = study_queries.scale_title(score["questionnaire"], score["scale"])
        assert overview[f"{score['questionnaire']}:{score['scale']}"] == [
            f"{title} ({score['scale']})",
            f"{score['reference_score']:.3f}",
            f"{score['score']:.3f}",
        ]


def check_experiment_page_shows_every_request(target, client, asked_again):
    requests = frame(
        target,
        select(ExperimentRequestMetadata.__table__)
        .where(ExperimentRequestMetadata.experiment_id == asked_again)
        .order_by(ExperimentRequestMetadata.id),
    )
    assert requests.height == 2
    page = client.get(f"/experiments/{asked_again}")
    assert page.status_code == 200
    assert "Request history (2 requests" in page.text
    for request_id in requests["id"]:
        assert f'id="request-{request_id}"' in page.text
    metadata = [decoded(m) for m in requests["request_metadata"]]
    # The second request was served from the engine's cache.
    assert [m["cached"] for m in metadata] == [False, True]
    assert client.get("/experiments/999999").status_code == 404
    assert client.get("/personas/999999").status_code == 404


def failed_experiments(target) -> pl.DataFrame:
    return frame(
        target,
        select(ExperimentsList.experiment_id, ExperimentsList.llm_explanation).where(
            ExperimentsList.succeeded.is_(None), ExperimentsList.llm_explanation.is_not(None)
        ),
    )


def check_a_failed_experiment_shows_why(target, client):
    failed = failed_experiments(target)
    # The failing model's one person; Big Five only (EPQR-A's item texts are not shipped, so only
    # a simulated model asks it).
    assert failed.height == 1
    invalid = frame(
        target,
        select(LLMCall.tag, LLMCall.error, LLMCall.response_text).where(
            LLMCall.model == FAILING, LLMCall.status == "invalid"
        ),
    )
    for experiment_id, reason in failed.iter_rows():
        assert "missing answers for items [7]" in reason
        page = client.get(f"/experiments/{experiment_id}")
        assert str(escape(reason)) in page.text
        (request,) = frame(
            target,
            select(ExperimentRequestMetadata.__table__).where(ExperimentRequestMetadata.experiment_id == experiment_id),
        ).iter_rows(named=True)
        metadata = decoded(request["request_metadata"])
        assert metadata["status"] == "invalid" and metadata["attempts"] > 1
        # What went over the wire in OpenAI's shape: every message whole, and the reply's text.
        for message in decoded(request["request_json"])["messages"]:
            assert f'<h4 class="role">{message["role"]}</h4>' in page.text
            assert str(escape(message["content"])) in page.text
        reply = decoded(request["response_json"])["choices"][0]["message"]["content"]
        assert '"7"' not in reply and str(escape(reply)) in page.text
        (call,) = invalid.filter(pl.col("tag").str.starts_with(f"({experiment_id}, ")).iter_rows(named=True)
        assert call["response_text"] == reply and str(escape(call["error"])) in page.text


def check_bedrock_request_and_reply(target, client):
    """Bedrock Converse sends the system prompt apart and every text in content blocks."""
    (persona_id,) = frame(target, select(Persona.id).where(Persona.model == BEDROCK))["id"]
    page = client.get(f"/personas/{persona_id}")
    requests = frame(
        target,
        select(ExperimentRequestMetadata.request_json, ExperimentRequestMetadata.response_json)
        .join(ExperimentsList, ExperimentsList.experiment_id == ExperimentRequestMetadata.experiment_id)
        .where(ExperimentsList.personality_id == persona_id),
    )
    assert requests.height == 1
    body, response = decoded(requests["request_json"][0]), decoded(requests["response_json"][0])
    texts = [part["text"] for part in body["system"]]
    texts += [part["text"] for message in body["messages"] for part in message["content"]]
    assert len(texts) == 2 and all(str(escape(text)) in page.text for text in texts)
    (reply,) = [part["text"] for part in response["output"]["message"]["content"]]
    assert str(escape(reply)) in page.text


def check_failures_show_reasons_and_invalid_replies(target, client):
    failed = failed_experiments(target)
    page = client.get("/failures")
    assert page.status_code == 200
    rows = Rows(page.text)
    reasons = [cells for attrs, cells in rows.rows if attrs.get("class") == "failed" and len(cells) == 4]
    expected = failed.group_by("llm_explanation").len().sort("llm_explanation")
    assert sorted(reasons, key=lambda cells: cells[3]) == [
        [FAILING, "sample", str(n), " ".join(reason.split())] for reason, n in expected.iter_rows()
    ]
    invalid = frame(
        target,
        select(LLMCall.purpose, LLMCall.error, LLMCall.response_text).where(LLMCall.status.in_(["invalid", "failed"])),
    )
    study_calls = invalid.filter(pl.col("purpose").is_in(list(study_queries.STUDY_PURPOSES)))
    assert study_calls.height == 1 and invalid.height == 2  # and another track's
    for call in study_calls.iter_rows(named=True):
        assert str(escape(call["response_text"])) in page.text and str(escape(call["error"])) in page.text
    for experiment_id in failed["experiment_id"]:
        assert f'href="/experiments/{experiment_id}"' in page.text
    assert "another track" not in page.text and 'id="call-count">1 calls' in page.text
    assert 'id="call-count">0 calls' in client.get("/failures", params={"model": MODELS[1]}).text


def check_compare_equals_polars_on_the_same_rows(target, client):
    scores = frame(
        target,
        select(QuestionnaireScore.__table__).where(
            QuestionnaireScore.questionnaire == "bigfive",
            QuestionnaireScore.scale == "EXT",
            QuestionnaireScore.model.in_(MODELS),
        ),
    )
    params = {
        "qs": "bigfive|EXT",
        "a_model": MODELS[0],
        "a_population": "sample",
        "b_model": MODELS[1],
        "b_population": "sample",
    }
    page = client.get("/compare", params=params)
    assert page.status_code == 200
    rows = Rows(page.text)
    summary = rows.with_attribute("data-side")
    for side, model in zip("AB", MODELS, strict=True):
        mine = scores.filter(pl.col("model") == model)
        people = mine.unique("ref_personality_id")
        cells = summary[side]
        assert int(cells[2]) == mine.height == PEOPLE
        assert float(cells[3]) == pytest.approx(mine["score"].mean(), abs=5e-5)
        assert float(cells[4]) == pytest.approx(mine["score"].std(ddof=1), abs=5e-5)
        assert int(cells[5]) == people.height
        assert float(cells[6]) == pytest.approx(people["reference_score"].mean(), abs=5e-5)
        assert float(cells[7]) == pytest.approx(people["reference_score"].std(ddof=1), abs=5e-5)
    per_person = rows.with_attribute("data-person")
    expected = (
        scores.group_by("ref_personality_id", "model")
        .agg(pl.col("score").mean(), pl.col("reference_score").first())
        .pivot("model", index=["ref_personality_id", "reference_score"], values="score")
    )
    assert len(per_person) == expected.height == PEOPLE
    for row in expected.iter_rows(named=True):
        cells = per_person[str(row["ref_personality_id"])]
        assert cells[1] == f"{row['reference_score']:.3f}"
        assert cells[2] == f"{row[MODELS[0]]:.3f} (1)" and cells[3] == f"{row[MODELS[1]]:.3f} (1)"
        assert cells[4] == f"{row[MODELS[1]] - row[MODELS[0]]:.3f}"
    assert "<svg" in page.text and page.text.count("<rect") == 12 * 3

    # Paged in the database: pages of one person each cover the table in order.
    with read_only(target) as connection:
        a = study_queries.Side(model=MODELS[0], population="sample")
        b = study_queries.Side(model=MODELS[1], population="sample")
        everything, total = study_queries.comparison_page(connection, "bigfive", "EXT", a, b)
        paged = [
            study_queries.comparison_page(connection, "bigfive", "EXT", a, b, page=p, size=1)[0] for p in (1, 2, 3)
        ]
    assert total == PEOPLE and [p[0] for p in paged] == everything
    # A presentation no experiment had: an empty side, no error.
    empty = client.get("/compare", params=params | {"b_option_order": "descending"})
    assert empty.status_code == 200 and Rows(empty.text).with_attribute("data-side")["B"][2] == "0"
    assert math.isfinite(float(summary["A"][3]))
    # A set is within one population: without one, nothing is compared.
    unset = client.get("/compare", params={k: v for k, v in params.items() if k != "b_population"})
    assert "Choose a population" in unset.text and 'data-side="A"' not in unset.text


def check_search_over_descriptions(target, client):
    personas = frame(target, select(Persona.id, Persona.description).order_by(Persona.id))
    word = max(personas["description"][0].split(), key=len).strip(".,;:")
    expected = personas.filter(pl.col("description").str.to_lowercase().str.contains(word.lower(), literal=True))
    page = client.get("/personas", params={"q": word.upper()})
    assert page.status_code == 200
    assert f'id="match-count">{expected.height} personas match' in page.text
    for persona_id in expected["id"]:
        assert f'href="/personas/{persona_id}"' in page.text
    assert 'id="match-count">0 personas match' in client.get("/personas", params={"q": "100%_"}).text


def test_study_pages(study):
    """One study per engine serves every check (building it is most of the time)."""
    target, asked_again = study
    client = TestClient(create_app(target))
    check_persona_page_shows_what_was_sent_and_stored(target, client)
    check_experiment_page_shows_every_request(target, client, asked_again)
    check_a_failed_experiment_shows_why(target, client)
    check_bedrock_request_and_reply(target, client)
    check_failures_show_reasons_and_invalid_replies(target, client)
    check_compare_equals_polars_on_the_same_rows(target, client)
    check_search_over_descriptions(target, client)
