"""Cost accounting: price history, each call costed with the price in force, the cost broken
down, JSON validity on the first reply, cache hits counted; over real HTTP on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl
import pytest
from sqlalchemy import select, text

from personality_assets.cli import main
from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.usage import LLMCacheHits, ModelPricing
from personality_assets.defs.persona_study.replies import QuestionnaireReply
from personality_assets.defs.resources import ResearchDatabase
from personality_assets.defs.usage.assets import llm_usage, llm_usage_rollup, usage_dir
from personality_assets.llm.engine import BudgetExceeded
from personality_assets.llm.pricing import price_history, sync_prices
from personality_assets.llm.store import ResultWriter
from personality_assets.llm.types import CallResult, ChatRequest
from personality_assets_tests.support.engine import chat_requests, engine_with_fakes, models_config, stored_calls


def test_a_price_change_opens_a_new_row_and_never_rewrites_past_costs(db_target, openai_server):
    models = models_config()
    engine_with_fakes(db_target, models, openai_server.base_url).run(chat_requests(3))
    first = stored_calls(db_target)
    # The provider halves the output price: the models file says so, the next run records it.
    cheaper = models_config(price_output_per_million=4.0, price_batch_output_per_million=2.0)
    engine_with_fakes(db_target, cheaper, openai_server.base_url).run(chat_requests(3, temperature=0.3))
    rows = stored_calls(db_target)
    assert rows[:3] == first  # the first run's rows, costs included, are as they were
    with experiment_transaction(db_target) as connection:
        history = price_history(connection, "oa")
        view = f"{db_target.experiment_schema}.current_model_pricing"
        current = connection.execute(text(f"SELECT model, output_per_million FROM {view}")).all()
    assert [(h["output_per_million"], h["batch_output_per_million"]) for h in history] == [(8.0, None), (4.0, 2.0)]
    assert history[0]["effective_to"] is not None and history[1]["effective_to"] is None
    assert ("oa", 4.0) in current and ("oa", 8.0) not in current
    assert {r["pricing_id"] for r in rows[:3]} == {history[0]["id"]}
    assert {r["pricing_id"] for r in rows[3:]} == {history[1]["id"]}
    for row, price in [(rows[0], 8.0), (rows[3], 4.0)]:
        assert row["input_cost_usd"] == pytest.approx(row["input_tokens"] * 2.0 / 1e6)
        assert row["output_cost_usd"] == pytest.approx(row["output_tokens"] * price / 1e6)
        assert row["cost_usd"] == pytest.approx(row["input_cost_usd"] + row["output_cost_usd"])


def test_an_unchanged_price_keeps_its_row_and_the_current_row_is_unique(db_target):
    model = models_config().get("oa")
    now = datetime.now(UTC)
    first = sync_prices(db_target, [model], now)
    assert sync_prices(db_target, [model], now + timedelta(days=1)) == first
    changed = model.model_copy(update={"price_input_per_million": 2.5})
    second = sync_prices(db_target, [changed], now + timedelta(days=2))
    assert second != first
    table = ModelPricing.__table__
    with experiment_transaction(db_target) as connection:
        open_rows = connection.execute(select(table.c.id).where(table.c.effective_to.is_(None))).scalars().all()
        # A second row in force for the model is refused by the database itself.
        with pytest.raises(Exception, match="(?i)unique"):
            with connection.begin_nested():
                connection.execute(
                    table.insert().values(
                        model="oa",
                        provider="openai",
                        provider_model_id="gpt-test",
                        input_per_million=1.0,
                        output_per_million=1.0,
                        effective_from=now + timedelta(days=3),
                    )
                )
    assert open_rows == [second["oa"]]


def test_first_reply_validity_and_cache_hits_are_recorded(db_target, openai_server):
    openai_server.configure(reply=lambda request: '{"answers": {"1": 3}}')
    openai_server.fail_next(1, "malformed")
    requests = chat_requests(3, model="oa", response_model=QuestionnaireReply)
    engine = engine_with_fakes(db_target, models_config(cache=True), openai_server.base_url, run_id="run-a")
    summary = engine.run(requests)
    assert summary.ok == 3
    rows = stored_calls(db_target)
    assert sorted(r["json_valid_first"] for r in rows) == [False, True, True]
    assert sum(r["attempts"] for r in rows) == 4  # the malformed reply was asked again
    # A second run is answered from the cache: no call, no llm_calls row, three hits counted.
    engine_with_fakes(db_target, models_config(cache=True), openai_server.base_url, run_id="run-b").run(requests)
    assert len(stored_calls(db_target)) == 3
    with experiment_transaction(db_target) as connection:
        hits = connection.execute(select(LLMCacheHits.__table__)).mappings().all()
    assert [(h["run_id"], h["model"], h["purpose"], h["hits"]) for h in hits] == [("run-b", "oa", "chat", 3)]


def _result(model, finished_at, latency_s, attempts=1, status="ok", purpose="chat", tokens=(1000, 500), valid=None):
    request = ChatRequest(model=model.key, messages=(("user", "q"),), purpose=purpose)
    return CallResult(
        request=request,
        model=model,
        cache_key=request.cache_key(model),
        status=status,
        text="a",
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost_usd=model.cost(*tokens),
        latency_s=latency_s,
        attempts=attempts,
        json_valid_first=valid,
        finished_at=finished_at,
    )


def test_usage_per_day_its_rollup_and_the_cli(db_target, capsys, monkeypatch):
    """Calls on two days (written by the engine's own writer) give each day's table, the rollup
    and the CLI's, against numbers worked out by hand."""
    models = models_config()
    oa, sim = models.get("oa"), models.get("sim")
    day1, day2 = datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
    results = [
        _result(oa, day1, 1.0, valid=True),
        _result(oa, day1, 2.0, attempts=3, valid=False),
        _result(oa, day1, 3.0, status="failed", attempts=5),
        _result(sim, day1, 0.1, purpose="persona", tokens=(10, 10)),
        _result(oa, day2, 4.0, valid=True),
    ]
    pricing = sync_prices(db_target, [oa, sim])
    writer = ResultWriter(db_target, run_id="run-1", pricing_ids=pricing)
    for result in results:
        writer.put(result)
    cached = _result(oa, day2, 0.0)
    cached.cached = True
    writer.put(cached)  # counted now (today), not on day 2: a hit is recorded when it happens
    writer.close()

    resources = {
        "research_db": ResearchDatabase(
            url=db_target.url,
            reference_schema=db_target.reference_schema,
            experiment_schema=db_target.experiment_schema,
        )
    }
    instance = dg.DagsterInstance.ephemeral()
    for day in ("2026-03-01", "2026-03-02"):
        assert dg.materialize([llm_usage], partition_key=day, resources=resources, instance=instance).success
    first = pl.read_parquet(usage_dir() / "day=2026-03-01.parquet")
    row = first.filter(pl.col("model") == "oa").row(0, named=True)
    assert (row["calls"], row["ok"], row["failed"], row["retries"]) == (3, 2, 1, 2 + 4)
    assert row["cost_usd"] == pytest.approx(3 * (1000 * 2.0 + 500 * 8.0) / 1e6)
    assert row["input_cost_usd"] == pytest.approx(3 * 1000 * 2.0 / 1e6)
    assert (row["latency_p50_ms"], row["latency_p99_ms"]) == (pytest.approx(2000.0), pytest.approx(2980.0))
    assert row["json_invalid_first_share"] == 0.5  # one of the two JSON-checked replies
    assert first.filter(pl.col("model") == "sim")["purpose"].to_list() == ["persona"]

    result = dg.materialize([llm_usage_rollup], resources=resources, instance=instance)
    metadata = result.asset_materializations_for_node("llm_usage_rollup")[0].metadata
    assert metadata["days"].value == 2
    assert metadata["cost_usd/oa"].value == pytest.approx(4 * (1000 * 2.0 + 500 * 8.0) / 1e6)
    assert metadata["cost_per_day_plot"].value.startswith("**Cost per day per model**")
    # Inline, most expensive model first, costs to the micro-dollar.
    (oa_row, _) = metadata["per_model"].records
    assert oa_row.data["model"] == "oa" and oa_row.data["cost_usd"] == metadata["cost_usd/oa"].value

    monkeypatch.setenv("PERSONALITY_ASSETS_DATABASE_URL", db_target.url)
    monkeypatch.setenv("PERSONALITY_ASSETS_EXPERIMENT_SCHEMA", db_target.experiment_schema)
    monkeypatch.setenv("PERSONALITY_ASSETS_REFERENCE_SCHEMA", db_target.reference_schema)
    main(["usage", "--from", "2026-03-01", "--to", "2026-03-02"])
    printed = capsys.readouterr().out
    assert "Model usage 2026-03-01 .. 2026-03-02" in printed
    assert "total: 5 calls, 0 cache hits, $0.0240" in printed  # 4 priced calls of $0.006; the hit came today
    main(["usage"])
    assert "1 cache hits" in capsys.readouterr().out


def test_the_rollup_follows_the_materialised_days_though_earlier_days_are_missing(db_target):
    """Automation (what the daemon evaluates): no rollup before any day; once days since the first
    recorded one are materialised (every earlier day since usage_days' start missing), the rollup
    is requested; once it has run, nothing changed, nothing is requested; a day re-materialised
    requests it again."""
    research_db = ResearchDatabase(
        url=db_target.url, reference_schema=db_target.reference_schema, experiment_schema=db_target.experiment_schema
    )
    instance = dg.DagsterInstance.ephemeral()
    defs = dg.Definitions(assets=[llm_usage, llm_usage_rollup], resources={"research_db": research_db})
    cursor = None

    def rollup_requested() -> bool:
        nonlocal cursor
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        cursor = result.cursor
        return result.get_num_requested(llm_usage_rollup.key) == 1

    def materialize(asset, day=None) -> None:
        resources = {"research_db": research_db}
        assert dg.materialize([asset], partition_key=day, resources=resources, instance=instance).success

    assert not rollup_requested()  # no usage recorded yet
    today = datetime.now(UTC).date()
    days = [(today - timedelta(days=n)).isoformat() for n in (3, 2, 1)]
    for day in days:
        materialize(llm_usage, day)
    assert rollup_requested()
    materialize(llm_usage_rollup)
    assert not rollup_requested()
    assert not rollup_requested()
    materialize(llm_usage, days[-1])
    assert rollup_requested()


def test_a_models_own_cap_stops_the_run_before_it_is_passed(db_target, openai_server):
    # A call's worst case: 2,048 output tokens at $8/M, $0.0164; each reply costs about $0.004.
    openai_server.configure(reply=lambda request: "x" * 2000)
    engine = engine_with_fakes(db_target, models_config(max_cost_usd=0.05, max_concurrency=2), openai_server.base_url)
    with pytest.raises(BudgetExceeded, match=r"model 'oa''s max_cost_usd \(models.yaml\) of \$0\.0500"):
        engine.run(chat_requests(20))
    rows = stored_calls(db_target)
    assert 1 <= len(rows) < 20 and len(rows) == openai_server.request_count  # every call started is stored
    assert sum(r["cost_usd"] for r in rows) <= 0.05


def _questionnaire_requests(n: int) -> list[ChatRequest]:
    """As the persona study asks: a persona, 50 statements, the answers as JSON."""
    statements = "\n".join(f"{i}. I see myself as someone who is statement number {i}." for i in range(1, 51))
    return [
        ChatRequest(
            model="oa",
            purpose="questionnaire",
            response_model=QuestionnaireReply,
            messages=(
                ("system", f"You are persona {k}, a calm nurse of 41 from Austin. Answer as this person."),
                ("user", f"Rate each statement from 1 to 5 and reply in JSON.\n{statements}"),
            ),
            tag=k,
        )
        for k in range(n)
    ]


def test_a_cap_of_30_percent_of_a_study_answers_at_least_27_percent_of_it(db_target, openai_server):
    """Near the cap the calls in flight thin out, rather than the run stopping while 16 calls'
    worst cases (1,024 tokens of reply, four times a real one) tie up the rest of the budget."""
    from personality_assets_tests.support.study import study_reply

    openai_server.configure(reply=study_reply)
    models = models_config(max_tokens=1024, max_concurrency=16)
    requests = _questionnaire_requests(300)
    full = engine_with_fakes(db_target, models, openai_server.base_url, run_id="full").run(requests)
    assert full.ok == 300
    cap = 0.3 * full.cost_usd
    capped = engine_with_fakes(db_target, models, openai_server.base_url, run_id="capped", max_cost_usd=cap)
    with pytest.raises(BudgetExceeded, match="this step's max_cost_usd"):
        capped.run(requests)
    rows = [r for r in stored_calls(db_target) if r["run_id"] == "capped"]
    assert sum(r["cost_usd"] for r in rows) <= cap
    assert sum(r["status"] == "ok" for r in rows) >= 0.27 * len(requests)


@pytest.mark.parametrize("which", ["step", "model"])
def test_calls_in_flight_hold_their_worst_case_under_a_cap(db_target, openai_server, which):
    """Each reply is as long as max_tokens allows, so each call costs about its worst case: only
    holding that back for every call in flight keeps eight calls at once under the cap."""
    max_tokens = 200
    openai_server.configure(reply=lambda request: "x" * 4 * (max_tokens - 1), latency=0.05)
    requests = chat_requests(20)
    model = models_config(max_tokens=max_tokens).get("oa")
    worst = model.cost(requests[0].estimated_input_tokens() * 5 // 4, max_tokens)
    cap = 5.5 * worst
    if which == "step":
        engine = engine_with_fakes(
            db_target, models_config(max_tokens=max_tokens), openai_server.base_url, max_cost_usd=cap
        )
    else:
        engine = engine_with_fakes(
            db_target, models_config(max_tokens=max_tokens, max_cost_usd=cap), openai_server.base_url
        )
    with pytest.raises(BudgetExceeded):
        engine.run(requests)
    rows = stored_calls(db_target)
    assert min(r["cost_usd"] for r in rows) >= 0.9 * worst  # the premise: replies cost their worst case
    assert 4 <= len(rows) and sum(r["cost_usd"] for r in rows) <= cap


def test_rollup_of_free_calls_makes_no_cost_chart(tmp_path, monkeypatch):
    """Simulated calls cost nothing: the rollup shows no empty cost chart, and removes an earlier one."""
    from personality_assets.defs.usage.report import USAGE_SCHEMA

    monkeypatch.setenv("PERSONALITY_ASSETS_DATA_DIR", str(tmp_path))
    row = {name: 0 for name in USAGE_SCHEMA} | {"model": "simulated", "provider": "simulated", "purpose": "persona"}
    day = pl.DataFrame([row | {"calls": 4, "ok": 4, "run_id": "run-1"}], schema=USAGE_SCHEMA)
    day.with_columns(pl.lit(datetime(2026, 3, 1).date()).alias("day")).write_parquet(
        usage_dir() / "day=2026-03-01.parquet"
    )
    (usage_dir() / "cost_per_day.png").write_bytes(b"an earlier run's chart")
    result = dg.materialize([llm_usage_rollup], instance=dg.DagsterInstance.ephemeral())
    metadata = result.asset_materializations_for_node("llm_usage_rollup")[0].metadata
    assert metadata["days"].value == 1 and metadata["cost_usd"].value == 0
    assert "cost_per_day_plot" not in metadata
    assert not (usage_dir() / "cost_per_day.png").exists()
