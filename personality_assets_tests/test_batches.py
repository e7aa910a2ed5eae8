"""Batch mode: the OpenAI Batch API over real HTTP (files, batches, output and error files) against
the local server, with expiry, malformed lines, and a process that stops between submit and collect."""

import pytest
from sqlalchemy import select

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.models import LLMBatch
from personality_assets.defs.persona_study.replies import QuestionnaireReply
from personality_assets.llm.engine import BatchesPending
from personality_assets_tests.llm_servers import openai_server  # noqa: F401 - fixture
from personality_assets_tests.test_llm_engine import _engine, _models, _requests, _stored

BATCH = {
    "mode": "batch",
    "batch_poll_seconds": 0.05,
    "batch_wait_seconds": 10,
    "price_batch_input_per_million": 1.0,
    "price_batch_output_per_million": 4.0,
}


def _chat_calls(server) -> int:
    return sum(r["path"] == "/v1/chat/completions" for r in server.requests)


def _batches(target) -> list[dict]:
    with experiment_transaction(target) as connection:
        return [dict(r) for r in connection.execute(select(LLMBatch.__table__).order_by(LLMBatch.id)).mappings()]


def test_a_batch_answers_at_the_batch_price(db_target, openai_server):
    summary = _engine(db_target, _models(**BATCH), openai_server.base_url).run(_requests(10))
    assert (summary.calls, summary.ok) == (10, 10)
    assert _chat_calls(openai_server) == 0 and len(openai_server.batches) == 1 and openai_server.batch_lines == 10
    rows = _stored(db_target)
    (batch,) = _batches(db_target)
    assert (
        batch["status"] == "collected" and batch["requests"] == 10 and batch["provider_batch_id"].startswith("batch_")
    )
    assert {r["batch_id"] for r in rows} == {batch["id"]}
    row = rows[0]
    assert row["cost_usd"] == pytest.approx((row["input_tokens"] * 1.0 + row["output_tokens"] * 4.0) / 1e6)
    assert row["output_cost_usd"] == pytest.approx(row["output_tokens"] * 4.0 / 1e6)
    assert row["request_json"]["custom_id"] == row["cache_key"] and row["request_json"]["body"]["model"] == "gpt-test"


def test_an_expired_batch_and_malformed_lines_are_asked_online(db_target, openai_server):
    openai_server.configure(reply=lambda request: '{"answers": {"1": 3}}')
    openai_server.batch_expire_after = 6  # lines 6..9 expire
    openai_server.batch_malformed_lines = 1  # line 0 is cut off
    summary = _engine(db_target, _models(**BATCH), openai_server.base_url).run(
        _requests(10, response_model=QuestionnaireReply)
    )
    assert (summary.calls, summary.ok) == (10, 10)
    assert _chat_calls(openai_server) == 5  # 4 expired + 1 malformed, online; nothing else twice
    rows = _stored(db_target)
    assert sum(r["batch_id"] is not None for r in rows) == 5
    (batch,) = _batches(db_target)
    assert batch["status"] == "failed" and "expired" in batch["error"]


def test_a_process_stopped_between_submit_and_collect_loses_nothing_and_pays_once(db_target, openai_server):
    openai_server.batch_seconds = 1.0
    requests = _requests(8)
    impatient = _engine(db_target, _models(**{**BATCH, "batch_wait_seconds": 0}), openai_server.base_url)
    with pytest.raises(BatchesPending, match="still running.*Run again later"):
        impatient.run(requests)
    assert _stored(db_target) == [] and len(openai_server.batches) == 1
    (batch,) = _batches(db_target)
    assert batch["status"] == "submitted"
    # The next run of the same requests collects that batch: no second batch, no online call.
    summary = _engine(db_target, _models(**BATCH), openai_server.base_url).run(requests)
    assert summary.ok == 8 and len(openai_server.batches) == 1 and _chat_calls(openai_server) == 0
    assert len(_stored(db_target)) == 8 and _batches(db_target)[0]["status"] == "collected"


def test_a_batch_recorded_but_never_confirmed_is_found_at_the_provider(db_target, openai_server):
    """The process died after the provider accepted the batch, before our row had its id: the next
    run finds it by the id in its metadata instead of submitting the requests again."""
    import asyncio

    from personality_assets.llm.batches import _record
    from personality_assets.llm.providers.openai import OpenAIProvider
    from personality_assets_tests.test_llm_engine import SECRET

    models = _models(**BATCH)
    model = models.get("oa")
    requests = _requests(4)
    keys = [r.cache_key(model) for r in requests]
    row = _record(db_target, model, keys)
    provider = OpenAIProvider(api_key=SECRET, base_url=openai_server.base_url)
    lines = [provider.batch_line(k, r, model) for k, r in zip(keys, requests, strict=True)]
    asyncio.run(provider.submit_batch(model, lines, row["local_id"]))  # accepted; then the process died
    summary = _engine(db_target, models, openai_server.base_url).run(requests)
    assert summary.ok == 4 and len(openai_server.batches) == 1 and _chat_calls(openai_server) == 0


def test_the_estimate_uses_the_batch_price_in_batch_mode(db_target, openai_server, caplog):
    import logging

    requests = _requests(10)
    online = _engine(db_target, _models(), openai_server.base_url).estimate(requests)
    batch_engine = _engine(db_target, _models(**BATCH), openai_server.base_url)
    batch = batch_engine.estimate(requests)
    assert batch["mode"].to_list() == ["batch"] and online["mode"].to_list() == ["online"]
    assert batch["cost_usd"][0] == pytest.approx(online["cost_usd"][0] / 2, abs=1e-4)  # prices halved in BATCH
    caplog.set_level(logging.INFO)
    batch_engine.run(requests)
    assert any("at the batch price" in record.getMessage() for record in caplog.records)


def test_identical_requests_share_one_batch_line(db_target, openai_server):
    requests = _requests(3) + _requests(3)  # the same three prompts twice: the same cache keys
    summary = _engine(db_target, _models(**BATCH), openai_server.base_url).run(requests)
    assert (summary.calls, summary.ok, summary.cached) == (6, 6, 3)
    assert openai_server.batch_lines == 3 and len(_stored(db_target)) == 3  # each paid once
