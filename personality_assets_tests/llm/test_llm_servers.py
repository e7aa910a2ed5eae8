"""The fake LLM servers work with the real SDKs (openai, boto3) over real HTTP."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import openai
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from personality_assets_tests.support.llm_servers import FakeOpenAIServer

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
USER = [{"role": "user", "content": [{"text": "How outgoing are you?"}]}]


def _openai(server, **kw):
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0, **kw)


def _bedrock(server, **config):
    # Note: botocore's retries={"max_attempts": 1} means ONE RETRY (two attempts); total_max_attempts=1 means none.
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, **config)
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=config,
    )


def _ask(client, text="Rate item 7 from 1 to 5.", model="gpt-4o-mini"):
    return client.chat.completions.create(
        model=model, messages=[{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": text}]
    )


def test_openai_chat_completion_returns_content_and_usage(openai_server):
    response = _ask(_openai(openai_server), "hello there")
    assert json.loads(response.choices[0].message.content) == {"echo": "hello there"}
    assert (response.model, response.object, response.choices[0].finish_reason) == (
        "gpt-4o-mini",
        "chat.completion",
        "stop",
    )
    usage = response.usage
    assert usage.prompt_tokens == len("Answer in JSON.\nhello there") // 4 + 1
    assert usage.completion_tokens == len('{"echo": "hello there"}') // 4 + 1
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    openai_server.configure(reply=lambda request: {"answer": 4, "model": request["model"]})
    assert json.loads(_ask(_openai(openai_server), model="other").choices[0].message.content) == {
        "answer": 4,
        "model": "other",
    }
    logged = openai_server.requests[0]
    assert openai_server.request_count == 2
    assert logged["path"] == "/v1/chat/completions" and logged["json"]["messages"][1]["content"] == "hello there"
    assert logged["headers"]["authorization"] == "Bearer test-key" and logged["fault"] is None
    openai_server.reset()
    assert openai_server.request_count == 0 and openai_server.reply.__name__ == "default_reply"


def test_openai_429_raises_rate_limit_error_with_retry_after(openai_server):
    openai_server.fail_next(1, "429")
    with pytest.raises(openai.RateLimitError) as caught:
        _ask(_openai(openai_server))
    assert caught.value.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "0.05"
    assert caught.value.response.headers["retry-after-ms"] == "50"
    openai_server.fail_next(1, "500")
    with pytest.raises(openai.InternalServerError):
        _ask(_openai(openai_server))
    assert _ask(_openai(openai_server)).choices[0].message.content  # the queue is used up


def test_malformed_and_bad_json_shape_replies(openai_server):
    client = _openai(openai_server)
    openai_server.fail_next(1, "malformed").fail_next(1, "bad_json_shape")
    with pytest.raises(json.JSONDecodeError):
        json.loads(_ask(client).choices[0].message.content)
    assert json.loads(_ask(client).choices[0].message.content) == {"unexpected": True}


def test_openai_hang_times_out_and_stop_does_not_wait_for_it(openai_server):
    openai_server.fail_next(2, "hang")
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        _ask(_openai(openai_server, timeout=0.5))
    assert 0.4 < time.monotonic() - started < 3

    outcome = []

    def wait_for_reply():
        try:
            outcome.append(_ask(_openai(openai_server)))
        except openai.APIError as exc:
            outcome.append(exc)

    blocked = threading.Thread(target=wait_for_reply, daemon=True)
    blocked.start()
    while openai_server.request_count < 2:
        time.sleep(0.01)
    started = time.monotonic()
    openai_server.stop()
    assert time.monotonic() - started < 2
    blocked.join(5)
    assert not blocked.is_alive() and outcome  # answered (or cut off) at once, not after hang_seconds


def test_fault_rate_is_deterministic_per_seed():
    with FakeOpenAIServer(fault_rate=0.5, seed=7) as server:
        client = _openai(server)

        def run():
            outcomes = []
            for _ in range(16):
                try:
                    _ask(client)
                    outcomes.append("ok")
                except openai.APIStatusError as exc:
                    outcomes.append(str(exc.status_code))
            return outcomes

        first = run()
        server.reset()
        assert run() == first
        assert {"ok", "429", "500"} <= set(first)


def test_bedrock_converse_returns_text_and_usage(bedrock_server):
    client = _bedrock(bedrock_server)
    response = client.converse(
        modelId=MODEL_ID,
        messages=USER,
        system=[{"text": "Be brief."}],
        inferenceConfig={"maxTokens": 64, "temperature": 0.2},
    )
    text = response["output"]["message"]["content"][0]["text"]
    assert json.loads(text) == {"echo": "How outgoing are you?"}
    assert response["stopReason"] == "end_turn" and response["output"]["message"]["role"] == "assistant"
    usage = response["usage"]
    assert usage["inputTokens"] == len("Be brief.\nHow outgoing are you?") // 4 + 1
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert "latencyMs" in response["metrics"]
    logged = bedrock_server.requests[0]["json"]
    assert logged["modelId"] == MODEL_ID and logged["inferenceConfig"]["maxTokens"] == 64

    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0"
    bedrock_server.configure(reply=lambda request: json.dumps({"model": request["modelId"]}))
    response = client.converse(modelId=arn, messages=USER)
    assert json.loads(response["output"]["message"]["content"][0]["text"]) == {"model": arn}


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("403", 403, "AccessDeniedException"),
        ("429", 429, "ThrottlingException"),
        ("500", 500, "InternalServerException"),
        ("400", 400, "ValidationException"),
    ],
)
def test_bedrock_errors_map_to_client_error_codes(bedrock_server, kind, status, code):
    bedrock_server.fail_next(1, kind)
    with pytest.raises(ClientError) as caught:
        _bedrock(bedrock_server).converse(modelId=MODEL_ID, messages=USER)
    error = caught.value.response
    assert error["Error"]["Code"] == code and error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert bedrock_server.request_count == 1  # no retry
    if kind == "403":
        assert error["Error"]["Message"] == "You don't have access to the model with the specified model ID."
    if kind == "429":
        assert error["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "0.05"


def test_bedrock_hang_hits_the_read_timeout(bedrock_server):
    bedrock_server.fail_next(1, "hang")
    with pytest.raises(ReadTimeoutError):
        _bedrock(bedrock_server, read_timeout=0.5).converse(modelId=MODEL_ID, messages=USER)


def test_latency_applies_per_request_and_requests_run_concurrently():
    with FakeOpenAIServer(latency=0.05) as server:
        client = _openai(server)
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda _: _ask(client), range(32)))  # opens the 32 connections
            started = time.monotonic()
            responses = list(pool.map(lambda _: _ask(client), range(96)))  # three waves of 32
            elapsed = time.monotonic() - started
    assert len(responses) == 96 and all(r.choices[0].message.content for r in responses)
    assert elapsed >= 0.15, elapsed  # each request waited its latency: at least three waves of 0.05 s
    # Concurrent: a serial server would start handling one request per 0.05 s; here many start
    # while the first still waits (a property of the server, whatever the machine's load).
    arrivals = sorted(r["time"] for r in server.requests[32:])
    assert sum(1 for t in arrivals if t < arrivals[0] + 0.05) >= 4
