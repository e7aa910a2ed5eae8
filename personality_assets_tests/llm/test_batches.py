"""Batch mode against local servers: the OpenAI Batch API over real HTTP (files, batches, output
and error files), and Bedrock batch inference (the control plane over HTTP, JSONL records in a
local S3 server); with expiry, malformed lines, spend caps, and a process that stops between
submit and collect."""

import pytest
from sqlalchemy import select

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.usage import LLMBatch
from personality_assets.defs.persona_study.replies import QuestionnaireReply
from personality_assets.llm.engine import BatchesPending, BudgetExceeded
from personality_assets.llm.types import UserActionRequired
from personality_assets_tests.support.engine import chat_requests, engine_with_fakes, models_config, stored_calls
from personality_assets_tests.support.llm_servers import last_user_text

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
    summary = engine_with_fakes(db_target, models_config(**BATCH), openai_server.base_url).run(chat_requests(10))
    assert (summary.calls, summary.ok) == (10, 10)
    assert _chat_calls(openai_server) == 0 and len(openai_server.batches) == 1 and openai_server.batch_lines == 10
    rows = stored_calls(db_target)
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
    summary = engine_with_fakes(db_target, models_config(**BATCH), openai_server.base_url).run(
        chat_requests(10, response_model=QuestionnaireReply)
    )
    assert (summary.calls, summary.ok) == (10, 10)
    assert _chat_calls(openai_server) == 5  # 4 expired + 1 malformed, online; nothing else twice
    rows = stored_calls(db_target)
    assert sum(r["batch_id"] is not None for r in rows) == 5
    (batch,) = _batches(db_target)
    assert batch["status"] == "failed" and "expired" in batch["error"]


def test_a_process_stopped_between_submit_and_collect_loses_nothing_and_pays_once(db_target, openai_server):
    openai_server.batch_seconds = 1.0
    requests = chat_requests(8)
    impatient = engine_with_fakes(
        db_target, models_config(**{**BATCH, "batch_wait_seconds": 0}), openai_server.base_url
    )
    with pytest.raises(BatchesPending, match="still running.*Run again later"):
        impatient.run(requests)
    assert stored_calls(db_target) == [] and len(openai_server.batches) == 1
    (batch,) = _batches(db_target)
    assert batch["status"] == "submitted"
    # The next run of the same requests collects that batch: no second batch, no online call.
    summary = engine_with_fakes(db_target, models_config(**BATCH), openai_server.base_url).run(requests)
    assert summary.ok == 8 and len(openai_server.batches) == 1 and _chat_calls(openai_server) == 0
    assert len(stored_calls(db_target)) == 8 and _batches(db_target)[0]["status"] == "collected"


def test_a_batch_recorded_but_never_confirmed_is_found_at_the_provider(db_target, openai_server):
    """The process died after the provider accepted the batch, before our row had its id: the next
    run finds it by the id in its metadata instead of submitting the requests again."""
    import asyncio

    from personality_assets.llm.batches import _record
    from personality_assets.llm.providers.openai import OpenAIProvider
    from personality_assets_tests.support.engine import SECRET

    models = models_config(**BATCH)
    model = models.get("oa")
    requests = chat_requests(4)
    keys = [r.cache_key(model) for r in requests]
    row = _record(db_target, model, keys)
    provider = OpenAIProvider(api_key=SECRET, base_url=openai_server.base_url)
    lines = [provider.batch_line(k, r, model) for k, r in zip(keys, requests, strict=True)]
    asyncio.run(provider.submit_batch(model, lines, row["local_id"]))  # accepted; then the process died
    summary = engine_with_fakes(db_target, models, openai_server.base_url).run(requests)
    assert summary.ok == 4 and len(openai_server.batches) == 1 and _chat_calls(openai_server) == 0


def _list_pages(server) -> list[dict]:
    """The list calls the server saw (a create, on the same path, logs its payload with "endpoint")."""
    return [r["json"] for r in server.requests if r["path"] == "/v1/batches" and "endpoint" not in r["json"]]


def test_a_new_batch_is_submitted_without_reading_the_account_s_batch_history(db_target, openai_server):
    """A batch recorded by this run has an id the provider has never seen: nothing to look up."""
    openai_server.add_old_batches(250, age_seconds=86400)
    summary = engine_with_fakes(db_target, models_config(**BATCH), openai_server.base_url).run(chat_requests(10))
    assert summary.ok == 10 and len(openai_server.batches) == 251
    assert _list_pages(openai_server) == []


@pytest.mark.parametrize("accepted", [True, False], ids=["accepted", "never-sent"])
def test_an_unconfirmed_batch_is_looked_up_only_back_to_its_record(db_target, openai_server, accepted):
    """A batch recorded without a provider id (its submitter died) is looked up newest first and
    only back to when it was recorded: 250 older batches of the account are not read past the first."""
    import asyncio

    from personality_assets.llm.batches import _record
    from personality_assets.llm.providers.openai import OpenAIProvider
    from personality_assets_tests.support.engine import SECRET

    openai_server.add_old_batches(250, age_seconds=86400)
    models = models_config(**BATCH)
    model = models.get("oa")
    requests = chat_requests(4)
    keys = [r.cache_key(model) for r in requests]
    row = _record(db_target, model, keys)
    if accepted:
        provider = OpenAIProvider(api_key=SECRET, base_url=openai_server.base_url)
        lines = [provider.batch_line(k, r, model) for k, r in zip(keys, requests, strict=True)]
        asyncio.run(provider.submit_batch(model, lines, row["local_id"]))
        openai_server.add_old_batches(150, age_seconds=0)  # newer than ours: the lookup reads past them
    summary = engine_with_fakes(db_target, models, openai_server.base_url).run(requests)
    assert summary.ok == 4 and _chat_calls(openai_server) == 0
    assert len(openai_server.batches) == 251 + (150 if accepted else 0)  # submitted once either way
    assert len(_list_pages(openai_server)) == (2 if accepted else 1)


def test_the_estimate_uses_the_batch_price_in_batch_mode(db_target, openai_server, caplog):
    import logging

    requests = chat_requests(10)
    online = engine_with_fakes(db_target, models_config(), openai_server.base_url).estimate(requests)
    batch_engine = engine_with_fakes(db_target, models_config(**BATCH), openai_server.base_url)
    batch = batch_engine.estimate(requests)
    assert batch["mode"].to_list() == ["batch"] and online["mode"].to_list() == ["online"]
    assert batch["cost_usd"][0] == pytest.approx(online["cost_usd"][0] / 2, abs=1e-4)  # prices halved in BATCH
    caplog.set_level(logging.INFO)
    batch_engine.run(requests)
    assert any("at the batch price" in record.getMessage() for record in caplog.records)


def test_identical_requests_share_one_batch_line(db_target, openai_server):
    requests = chat_requests(3) + chat_requests(3)  # the same three prompts twice: the same cache keys
    summary = engine_with_fakes(db_target, models_config(**BATCH), openai_server.base_url).run(requests)
    assert (summary.calls, summary.ok, summary.cached) == (6, 6, 3)
    assert openai_server.batch_lines == 3 and len(stored_calls(db_target)) == 3  # each paid once


# --- Bedrock batch inference: the control plane (fake, over HTTP) and S3 (moto's server) ----------

BEDROCK_FAMILIES = {
    "anthropic.claude-3-5-sonnet-20240620-v1:0": "anthropic_version",
    "us.meta.llama3-2-3b-instruct-v1:0": "prompt",
    "amazon.nova-pro-v1:0": "schemaVersion",
    "mistral.mistral-large-2407-v1:0": "prompt",
}


@pytest.fixture
def bedrock_batch(bedrock_server, s3_env):
    """The fake Bedrock endpoint reading and writing batch files in a fresh bucket of the local S3."""
    bedrock_server.s3_endpoint = s3_env.url
    bucket = s3_env.create_bucket()
    settings = {**BATCH, "batch_s3_uri": f"s3://{bucket}/batches", "batch_role_arn": "arn:aws:iam::123:role/batch"}
    return bedrock_server, s3_env, bucket, settings


def _converse_calls(server) -> int:
    return sum(r["path"].endswith("/converse") for r in server.requests)


@pytest.mark.parametrize("model_id", sorted(BEDROCK_FAMILIES))
def test_a_bedrock_batch_job_answers_in_each_family_s_native_format(db_target, bedrock_batch, model_id):
    server, s3, bucket, settings = bedrock_batch
    server.configure(reply=lambda request: f"answer to {last_user_text(request)}")
    models = models_config(**settings, model_id=model_id)
    summary = engine_with_fakes(db_target, models, bedrock_url=server.url).run(chat_requests(6, model="br"))
    assert (summary.calls, summary.ok, _converse_calls(server)) == (6, 6, 0)
    (job,) = server.jobs.values()
    assert job["modelId"] == model_id and server.batch_lines == 6
    assert all(BEDROCK_FAMILIES[model_id] in record["modelInput"] for record in job["records"])
    rows = stored_calls(db_target)
    # (Mistral has no system role: the system text leads the first instruction.)
    texts = sorted(r["response_text"].removeprefix("answer to ").removeprefix("be brief\n\n") for r in rows)
    assert texts == [f"question {i}" for i in range(6)]
    row = rows[0]
    assert row["cost_usd"] == pytest.approx((row["input_tokens"] * 1.0 + row["output_tokens"] * 4.0) / 1e6)
    (batch,) = _batches(db_target)
    assert batch["status"] == "collected" and batch["provider_batch_id"] == job["jobArn"]
    listed = s3.client().list_objects_v2(Bucket=bucket, Prefix="batches/")["Contents"]
    names = sorted(item["Key"].rsplit("/", 1)[-1] for item in listed)
    assert names == ["input.jsonl", "input.jsonl.out", "manifest.json.out"]


def test_an_expired_bedrock_job_and_a_malformed_record_are_asked_online(db_target, bedrock_batch):
    server, _, _, settings = bedrock_batch
    server.configure(reply=lambda request: '{"answers": {"1": 3}}')
    server.batch_expire_after = 6  # records 6..9 are never processed
    server.batch_malformed_lines = 1
    summary = engine_with_fakes(db_target, models_config(**settings), bedrock_url=server.url).run(
        chat_requests(10, model="br", response_model=QuestionnaireReply)
    )
    assert (summary.calls, summary.ok) == (10, 10)
    assert _converse_calls(server) == 5  # 4 expired + 1 malformed, online through Converse
    assert sum(r["batch_id"] is not None for r in stored_calls(db_target)) == 5
    (batch,) = _batches(db_target)
    assert batch["status"] == "failed" and "expired" in batch["error"]


def test_a_bedrock_job_outlives_its_process_and_is_collected_once(db_target, bedrock_batch):
    server, _, _, settings = bedrock_batch
    server.batch_seconds = 1.0
    requests = chat_requests(8, model="br")
    impatient = engine_with_fakes(
        db_target, models_config(**{**settings, "batch_wait_seconds": 0}), bedrock_url=server.url
    )
    with pytest.raises(BatchesPending, match="still running"):
        impatient.run(requests)
    assert stored_calls(db_target) == [] and len(server.jobs) == 1
    summary = engine_with_fakes(db_target, models_config(**settings), bedrock_url=server.url).run(requests)
    assert summary.ok == 8 and len(server.jobs) == 1 and _converse_calls(server) == 0
    assert _batches(db_target)[0]["status"] == "collected"


def test_a_bedrock_job_created_but_never_recorded_is_found_by_its_name(db_target, bedrock_batch):
    import asyncio

    from personality_assets.llm.batches import _record
    from personality_assets.llm.providers.bedrock import BedrockProvider

    server, _, _, settings = bedrock_batch
    models = models_config(**settings)
    model = models.get("br")
    requests = chat_requests(4, model="br")
    keys = [r.cache_key(model) for r in requests]
    row = _record(db_target, model, keys)
    provider = BedrockProvider(region_name="us-east-1", endpoint_url=server.url)
    lines = [provider.batch_line(k, r, model) for k, r in zip(keys, requests, strict=True)]
    asyncio.run(provider.submit_batch(model, lines, row["local_id"]))  # created; then the process died
    summary = engine_with_fakes(db_target, models, bedrock_url=server.url).run(requests)
    assert summary.ok == 4 and len(server.jobs) == 1 and _converse_calls(server) == 0


def test_a_spend_cap_stops_batch_submissions_and_a_rerun_submits_only_the_rest(db_target, bedrock_batch):
    """Each batch is admitted only if its worst case (prompt and max_tokens at the batch price) fits:
    5 requests x 2,048 tokens x $4/M = $0.041 fits a $0.05 cap once, not twice."""
    server, _, _, settings = bedrock_batch
    models = models_config(**settings, batch_max_requests=5, cache=True)
    requests = chat_requests(10, model="br")
    with pytest.raises(BudgetExceeded, match="not submitted in a batch"):
        engine_with_fakes(db_target, models, bedrock_url=server.url, max_cost_usd=0.05).run(requests)
    assert len(server.jobs) == 1 and len(stored_calls(db_target)) == 5
    summary = engine_with_fakes(db_target, models, bedrock_url=server.url).run(requests)
    assert (summary.ok, summary.cached) == (10, 5)
    assert len(server.jobs) == 2 and server.batch_lines == 10 and _converse_calls(server) == 0


def test_bedrock_batch_settings_are_required_and_small_batches_go_online(db_target, bedrock_batch):
    server, _, _, settings = bedrock_batch
    unset = {k: v for k, v in settings.items() if k not in ("batch_s3_uri", "batch_role_arn")}
    with pytest.raises(UserActionRequired, match="needs batch_s3_uri"):
        engine_with_fakes(db_target, models_config(**unset), bedrock_url=server.url).run(chat_requests(3, model="br"))
    # Other requests (the refused ones stay recorded for their batch, submitted once the settings are there).
    summary = engine_with_fakes(
        db_target, models_config(**settings, batch_min_requests=100), bedrock_url=server.url
    ).run(chat_requests(6, model="br")[3:])
    assert summary.ok == 3 and _converse_calls(server) == 3 and not server.jobs
