"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp, LiteLLM, hosted endpoints)
through the official ``openai`` SDK. One attempt per call (the SDK's retries are off): the call
engine retries what this module marks transient (429, 5xx, timeouts, dropped connections)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from personality_assets.llm.config import ModelConfig
from personality_assets.llm.types import (
    ChatRequest,
    PermanentError,
    ProviderReply,
    RateLimitHint,
    TransientError,
    UserActionRequired,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"


class OpenAIProvider:
    """The official ``openai`` SDK. ``base_url`` makes any OpenAI-compatible server work (vLLM,
    Ollama, llama.cpp, LiteLLM)."""

    name: ClassVar[str] = "openai"

    def __init__(self, api_key: str | None = None, base_url: str | None = None, api_key_env: str = DEFAULT_KEY_ENV):
        self.api_key, self.base_url, self.api_key_env = api_key, base_url, api_key_env  # the key is never logged
        self._clients: list = []
        self._clients_loop: Any = None
        self._next_client = 0

    @classmethod
    def for_model(cls, model: ModelConfig, environ: Mapping[str, str]) -> OpenAIProvider:
        """The model's own endpoint and key variable, else OPENAI_BASE_URL and OPENAI_API_KEY."""
        key_env = model.api_key_env or DEFAULT_KEY_ENV
        return cls(
            api_key=environ.get(key_env), base_url=model.base_url or environ.get("OPENAI_BASE_URL"), api_key_env=key_env
        )

    def account(self, model: ModelConfig) -> tuple[str, ...]:
        return (self.name, self.base_url or DEFAULT_BASE_URL, model.model_id)

    # httpx's connection pool scans all its connections on every request, which costs more CPU
    # per call the more concurrent connections one client holds; a few clients with a few
    # connections each keep that flat (measured in benchmarks/call_engine.py).
    CONNECTIONS_PER_CLIENT: ClassVar[int] = 4
    CLIENTS: ClassVar[int] = 16

    def _async_client(self):
        # Async clients belong to the event loop they were made in; each engine run has its own.
        loop = asyncio.get_running_loop()
        if self._clients_loop is not loop:
            import openai

            try:  # the openai SDK 3.x ships its own fork of httpx, named httpx2
                import httpx2 as httpx
            except ImportError:  # pragma: no cover - older SDKs use httpx itself
                import httpx

            if not self.api_key:
                raise UserActionRequired(
                    f"OpenAI: no API key. Set {self.api_key_env} in the environment (for a local server "
                    f"without auth any value works, e.g. {self.api_key_env}=local)."
                )
            limits = httpx.Limits(
                max_connections=self.CONNECTIONS_PER_CLIENT, max_keepalive_connections=self.CONNECTIONS_PER_CLIENT
            )
            self._response_class = httpx.Response
            self._clients = [
                openai.AsyncOpenAI(
                    api_key=self.api_key,
                    base_url=self.base_url,
                    max_retries=0,
                    http_client=openai.DefaultAsyncHttpxClient(limits=limits),
                )
                for _ in range(self.CLIENTS)
            ]
            self._clients_loop = loop
        self._next_client = (self._next_client + 1) % len(self._clients)
        return self._clients[self._next_client]

    async def aclose(self) -> None:
        """Close the clients before their event loop ends (the engine calls this after each run)."""
        if self._clients_loop is asyncio.get_running_loop():
            for client in self._clients:
                await client.close()
        self._clients, self._clients_loop = [], None

    @staticmethod
    def _body(request: ChatRequest, model: ModelConfig) -> dict[str, Any]:
        """The documented Chat Completions request body (online, and each line of a batch)."""
        body: dict[str, Any] = {
            "model": model.model_id,
            "messages": [{"role": role, "content": content} for role, content in request.messages],
            **request.parameters(model),
        }
        schema = request.json_schema()
        if schema is not None and model.json_output == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.response_model.__name__, "schema": schema},
            }
        elif schema is not None and model.json_output == "json_object":
            body["response_format"] = {"type": "json_object"}  # the prompts say "JSON", as this mode requires
        return body

    async def call(self, request: ChatRequest, model: ModelConfig) -> ProviderReply:
        import openai

        client = self._async_client()
        body = self._body(request, model)
        where = self.base_url or "api.openai.com"
        try:
            # The SDK's client does auth, base URL, timeouts and error mapping; posting the body
            # directly skips `chat.completions.create`'s per-call TypedDict transform and response
            # model construction, which profiled at about 1 ms of CPU per call (half our budget at
            # several hundred calls/s). The body is the documented Chat Completions request.
            # cast_to the SDK's own response class: the raw response, for its rate-limit headers.
            response = await client.post(
                "/chat/completions", body=body, cast_to=self._response_class, options={"timeout": model.timeout_seconds}
            )
            completion = response.json()
        except openai.RateLimitError as exc:
            if getattr(exc, "code", None) == "insufficient_quota":
                raise UserActionRequired(
                    f"OpenAI at {where}: the account is out of quota (billing): {exc.message}"
                ) from None
            raise TransientError(
                f"429 from {where}: {exc.message}",
                _retry_after(exc.response.headers),
                rate_limited=True,
                rate_limit=rate_limit_hint(exc.response.headers),
            ) from None
        except openai.InternalServerError as exc:
            raise TransientError(f"{exc.status_code} from {where}", _retry_after(exc.response.headers)) from None
        except openai.APITimeoutError:
            raise TransientError(f"timeout after {model.timeout_seconds}s from {where}") from None
        except openai.APIConnectionError as exc:
            raise TransientError(f"cannot reach {where}: {exc.__cause__ or exc}", unreachable=True) from None
        except openai.AuthenticationError:
            raise UserActionRequired(f"OpenAI at {where} rejected the API key (check {self.api_key_env})") from None
        except openai.PermissionDeniedError as exc:
            raise UserActionRequired(
                f"OpenAI at {where}: no access to model {model.model_id!r}: {exc.message}"
            ) from None
        except openai.NotFoundError as exc:
            if _no_such_path(exc.body):
                base = (self.base_url or DEFAULT_BASE_URL).rstrip("/")
                fix = (
                    f"check the model's base_url (or OPENAI_BASE_URL), {base}"
                    if base.endswith("/v1")
                    else f"the base URL {base} probably lacks /v1; set the model's base_url (or OPENAI_BASE_URL) "
                    f"to {base}/v1"
                )
                raise UserActionRequired(
                    f"OpenAI-compatible server answered 404 for {base}/chat/completions: {fix} "
                    f"(vLLM, Ollama and LiteLLM serve under <server>/v1)"
                ) from None
            message = exc.body["message"]
            raise UserActionRequired(
                f"OpenAI at {where}: model {model.model_id!r} not found (model key {model.key!r}): {message}"
            ) from None
        except openai.APIStatusError as exc:
            raise PermanentError(f"{exc.status_code} from {where}: {exc.message}") from None
        try:
            text = completion["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise TransientError(f"{where} returned no completion: {str(completion)[:200]}") from None
        usage = completion.get("usage") or {}
        return ProviderReply(
            text=text,
            input_tokens=usage.get("prompt_tokens", request.estimated_input_tokens()),
            output_tokens=usage.get("completion_tokens", 0),
            raw_request=body,
            raw_response=completion,
            rate_limit=rate_limit_hint(response.headers),
        )

    # --- the Batch API (files upload, batches.create, poll, output and error files) ----------------

    def batch_line(self, custom_id: str, request: ChatRequest, model: ModelConfig) -> dict:
        return {
            "custom_id": custom_id,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": self._body(request, model),
        }

    async def find_batch(self, local_id: str, recorded: datetime) -> str | None:
        """The provider's id of the batch we submitted with this id in its metadata, if any. The list
        comes newest first: it is read only back to when we recorded the batch (less a margin for
        the two clocks), not through the account's whole history."""
        oldest = recorded.timestamp() - BATCH_CLOCK_MARGIN_SECONDS
        async for batch in self._async_client().batches.list(limit=100):
            if (batch.metadata or {}).get(BATCH_METADATA_KEY) == local_id:
                return batch.id
            if batch.created_at < oldest:
                return None
        return None

    async def submit_batch(self, model: ModelConfig, lines: list[dict], local_id: str) -> str:
        client = self._async_client()
        payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
        uploaded = await client.files.create(file=(f"{local_id}.jsonl", payload), purpose="batch")
        batch = await client.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={BATCH_METADATA_KEY: local_id},
        )
        return batch.id

    async def batch_state(self, batch_id: str) -> dict:
        batch = await self._async_client().batches.retrieve(batch_id)
        return {"status": batch.status, "output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id}

    async def batch_results(self, state: dict) -> dict[str, ProviderReply | str]:
        """Each answered line's reply by custom id; an error line's message instead."""
        client = self._async_client()
        results: dict[str, ProviderReply | str] = {}
        for file_id in (state["output_file_id"], state["error_file_id"]):
            if not file_id:
                continue
            content = await client.files.content(file_id)
            for text in content.text.splitlines():
                try:
                    line = json.loads(text)
                    custom_id = line["custom_id"]
                except (ValueError, KeyError, TypeError):
                    continue  # a malformed line answers nothing: its request is asked again
                response = line.get("response") or {}
                if line.get("error") or response.get("status_code") != 200:
                    results[custom_id] = str(line.get("error") or response)[:500]
                    continue
                body = response.get("body") or {}
                try:
                    reply_text = body["choices"][0]["message"]["content"] or ""
                except (KeyError, IndexError, TypeError):
                    results[custom_id] = f"no completion in the batch line: {str(body)[:200]}"
                    continue
                usage = body.get("usage") or {}
                results[custom_id] = ProviderReply(
                    text=reply_text,
                    input_tokens=usage.get("prompt_tokens", 0),
                    output_tokens=usage.get("completion_tokens", 0),
                    raw_request={"custom_id": custom_id},
                    raw_response=body,
                )
        return results


BATCH_METADATA_KEY = "personality_assets_batch"
BATCH_CLOCK_MARGIN_SECONDS = 900  # our database's clock against the provider's


def _no_such_path(body) -> bool:
    """Whether a 404 is for the URL rather than the model. An error about the model is an OpenAI-style
    object with a message (OpenAI's ``model_not_found``, vLLM's and Ollama's "model ... does not exist");
    a wrong path gets a plain-text page (Ollama), FastAPI's ``{"detail": "Not Found"}`` (vLLM, LiteLLM)
    or OpenAI's "Invalid URL (POST /chat/completions)". (The SDK passes the ``error`` object as ``body``.)"""
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return True
    return body.get("code") != "model_not_found" and body["message"].startswith("Invalid URL")


def rate_limit_hint(headers) -> RateLimitHint | None:
    """OpenAI's ``x-ratelimit-limit-*``, ``x-ratelimit-remaining-*`` and ``x-ratelimit-reset-*`` for
    requests and tokens (the resets as durations such as ``1s``, ``6m0s``, ``20ms``), where the
    server sends them."""
    remaining_requests = _int_header(headers, "x-ratelimit-remaining-requests")
    remaining_tokens = _int_header(headers, "x-ratelimit-remaining-tokens")
    if remaining_requests is None and remaining_tokens is None:
        return None
    return RateLimitHint(
        remaining_requests,
        remaining_tokens,
        _duration(headers.get("x-ratelimit-reset-requests")),
        _duration(headers.get("x-ratelimit-reset-tokens")),
        _int_header(headers, "x-ratelimit-limit-requests"),
        _int_header(headers, "x-ratelimit-limit-tokens"),
    )


def _int_header(headers, name: str) -> int | None:
    try:
        return int(headers[name]) if headers.get(name) is not None else None
    except ValueError:
        return None


def _duration(text: str | None) -> float | None:
    """Seconds in a Go-style duration (``1h2m3.5s``, ``250ms``); None if unreadable."""
    if not text:
        return None
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text.strip():
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(number) * scale[unit] for number, unit in parts)


def _retry_after(headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds), if the server said."""
    if headers is None:
        return None
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        if headers.get("retry-after"):
            return float(headers["retry-after"])
    except ValueError:
        return None
    return None
