"""Cost accounting: price history, each call costed with the price in force, the cost broken
down, JSON validity on the first reply, cache hits counted; over real HTTP on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.models import LLMCacheHits, ModelPricing
from personality_assets.defs.persona_study.replies import QuestionnaireReply
from personality_assets.llm.pricing import price_history, sync_prices
from personality_assets_tests.llm_servers import openai_server  # noqa: F401 - fixture
from personality_assets_tests.test_llm_engine import _engine, _models, _requests, _stored


def test_a_price_change_opens_a_new_row_and_never_rewrites_past_costs(db_target, openai_server):
    models = _models()
    _engine(db_target, models, openai_server.base_url).run(_requests(3))
    first = _stored(db_target)
    # The provider halves the output price: the models file says so, the next run records it.
    cheaper = _models(price_output_per_million=4.0, price_batch_output_per_million=2.0)
    _engine(db_target, cheaper, openai_server.base_url).run(_requests(3, temperature=0.3))
    rows = _stored(db_target)
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
    model = _models().get("oa")
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
    requests = _requests(3, model="oa", response_model=QuestionnaireReply)
    engine = _engine(db_target, _models(cache=True), openai_server.base_url, run_id="run-a")
    summary = engine.run(requests)
    assert summary.ok == 3
    rows = _stored(db_target)
    assert sorted(r["json_valid_first"] for r in rows) == [False, True, True]
    assert sum(r["attempts"] for r in rows) == 4  # the malformed reply was asked again
    # A second run is answered from the cache: no call, no llm_calls row, three hits counted.
    _engine(db_target, _models(cache=True), openai_server.base_url, run_id="run-b").run(requests)
    assert len(_stored(db_target)) == 3
    with experiment_transaction(db_target) as connection:
        hits = connection.execute(select(LLMCacheHits.__table__)).mappings().all()
    assert [(h["run_id"], h["model"], h["purpose"], h["hits"]) for h in hits] == [("run-b", "oa", "chat", 3)]
