"""Local fake LLM servers that the real SDK clients talk to over real HTTP on 127.0.0.1.

* ``FakeOpenAIServer``  - OpenAI Chat Completions (``POST /v1/chat/completions``) for the ``openai`` SDK:
  ``OpenAI(base_url=server.base_url, api_key="test")``. Any other path gets a 404 with ``not_found_body``.
* ``FakeBedrockServer`` - AWS Bedrock Runtime *Converse* (``POST /model/{modelId}/converse``) for boto3:
  ``boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1", ...)``.

Each server runs aiohttp on its own asyncio loop in a daemon thread, bound to 127.0.0.1 on a free port.
Per-request work is kept minimal (no access log, one small dict appended to ``requests``), so a
benchmark can push several hundred requests per second through it.

Switches (plain attributes, or ``configure(**kw)``; settable while the server runs):

``latency``       seconds slept before every reply (default 0).
``fault_rate``    probability (0..1) that a request gets a fault drawn from ``fault_kinds``; drawn from a
                  seeded ``random.Random`` so a run with the same request order is reproducible.
``fault_kinds``   kinds drawn by ``fault_rate`` (default ``["429", "500"]``; any kind below is allowed).
``retry_after``   seconds announced in ``Retry-After`` (and ``retry-after-ms`` for OpenAI) on 429s.
``hang_seconds``  how long a ``"hang"`` request sleeps before replying normally (default 30).
``reply``         ``(request_json) -> str`` giving the assistant text; a non-str result is JSON-encoded.
                  Default: ``json.dumps({"echo": <last user message text>})``.
``not_found_body`` (OpenAI) the 404 body for a path the server does not serve, as real servers answer a
                  base URL without /v1: a dict is sent as JSON (default ``{"detail": "Not Found"}``, as vLLM
                  and LiteLLM; OpenAI's own is ``{"error": {"message": "Invalid URL (POST /...)", ...}}``),
                  a str as plain text (Ollama: ``"404 page not found"``). Logged in ``requests`` (fault None).

``fail_next(n, kind)`` queues ``kind`` for the next ``n`` requests (before ``fault_rate`` applies). Kinds:
``"429"`` throttled, ``"500"`` server error, ``"403"`` access denied, ``"404"`` unknown model (OpenAI),
``"400"`` validation error,
``"hang"`` sleep ``hang_seconds`` then reply (``stop()`` wakes it), ``"malformed"`` 200 whose content is
not valid JSON, ``"bad_json_shape"`` 200 whose content is ``{"unexpected": true}``.

``requests`` logs every request as ``{"time": time.monotonic() at arrival, "path", "json", "headers"
(lower-case keys), "fault": kind or None}``; ``request_count`` is its length. ``reset()`` clears the log,
the queued faults and restores the switches given to the constructor (and re-seeds the fault draw).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp import web

__all__ = [
    "FAULT_KINDS",
    "FakeBedrockServer",
    "FakeLLMServer",
    "FakeOpenAIServer",
    "bedrock_server",
    "default_reply",
    "last_user_text",
    "openai_server",
]

FAULT_KINDS = frozenset({"429", "500", "403", "404", "400", "hang", "malformed", "bad_json_shape"})
MALFORMED_CONTENT = '{"answer": "this reply was cut off mid-way, "score": '
BAD_SHAPE_CONTENT = '{"unexpected": true}'
_SWITCHES = ("latency", "fault_rate", "fault_kinds", "retry_after", "hang_seconds", "reply", "not_found_body")
_JSON = "application/json"


def _text_of(content: Any) -> str:
    """Text of an OpenAI content (str or list of parts) or a Bedrock content block list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def last_user_text(request_json: dict) -> str:
    """The last user message's text, for both the OpenAI and the Bedrock Converse request shapes."""
    for message in reversed(request_json.get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def default_reply(request_json: dict) -> str:
    return json.dumps({"echo": last_user_text(request_json)})


def _estimate_tokens(text: str) -> int:
    return len(text) // 4 + 1


def _format_seconds(seconds: float) -> str:
    return format(float(seconds), "g")


class FakeLLMServer:
    """Shared machinery: the background loop, the switches, the request log and fault selection."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        fault_kinds: Iterable[str] = ("429", "500"),
        retry_after: float = 0.05,
        hang_seconds: float = 30.0,
        reply: Callable[[dict], Any] | None = None,
        not_found_body: dict | str | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        shutdown_timeout: float = 0.5,
    ) -> None:
        self.host, self._requested_port, self.seed = host, port, seed
        self.shutdown_timeout = shutdown_timeout
        self._defaults = {
            "latency": latency,
            "fault_rate": fault_rate,
            "fault_kinds": list(fault_kinds),
            "retry_after": retry_after,
            "hang_seconds": hang_seconds,
            "reply": reply or default_reply,
            "not_found_body": {"detail": "Not Found"} if not_found_body is None else not_found_body,
        }
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._pending: deque[str] = deque()
        self._ids = itertools.count(1)
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self.configure(**self._defaults)
        self._rng = random.Random(seed)

    # ----------------------------------------------------------------- switches and log
    def configure(self, **switches: Any) -> FakeLLMServer:
        unknown = set(switches) - set(_SWITCHES)
        if unknown:
            raise TypeError(f"unknown switch(es) {sorted(unknown)}; known: {list(_SWITCHES)}")
        if "fault_kinds" in switches:
            kinds = list(switches["fault_kinds"])
            bad = set(kinds) - FAULT_KINDS
            if bad or not kinds:
                raise ValueError(f"fault_kinds must be a non-empty list among {sorted(FAULT_KINDS)}, got {kinds}")
            switches["fault_kinds"] = kinds
        if "fault_rate" in switches and not 0.0 <= switches["fault_rate"] <= 1.0:
            raise ValueError(f"fault_rate must be within 0..1, got {switches['fault_rate']}")
        if switches.get("reply", 1) is None:
            switches["reply"] = default_reply
        for name, value in switches.items():
            setattr(self, name, value)
        return self

    def fail_next(self, n: int = 1, kind: str = "500") -> FakeLLMServer:
        """The next ``n`` requests get fault ``kind`` (queued after any faults already pending)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(FAULT_KINDS)}")
        with self._lock:
            self._pending.extend([kind] * n)
        return self

    def reset(self) -> FakeLLMServer:
        """Clear the request log and queued faults; restore the constructor's switches and seed."""
        with self._lock:
            self._pending.clear()
            self._rng = random.Random(self.seed)
            self.requests.clear()
        return self.configure(**self._defaults)

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def _next_fault(self) -> str | None:
        if self._pending:
            with self._lock:
                if self._pending:
                    return self._pending.popleft()
        rate = self.fault_rate
        if rate > 0.0:
            with self._lock:
                if self._rng.random() < rate:
                    return self._rng.choice(self.fault_kinds)
        return None

    # ----------------------------------------------------------------- lifecycle
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not running; call start() first")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> FakeLLMServer:
        if self.running:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open(loop))
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=serve, name=f"{type(self).__name__}:{id(self):x}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start within 10 s")
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"{type(self).__name__} failed to start") from failure[0]
        return self

    async def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=self.shutdown_timeout)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port, backlog=1024)
        await site.start()
        self._loop, self._runner, self._stopping = loop, runner, asyncio.Event()
        self._port = runner.addresses[0][1]

    async def _close(self) -> None:
        self._stopping.set()  # wakes "hang" requests
        await self._runner.cleanup()

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None and thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._close(), loop).result(self.shutdown_timeout + 5)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(5)
        self._thread = self._loop = self._runner = self._stopping = None
        self._port = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "stopped"
        return f"<{type(self).__name__} {where} requests={self.request_count}>"

    # ----------------------------------------------------------------- request handling
    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def _receive(self, request: web.Request) -> tuple[dict, str | None, float]:
        """Log the request, pick its fault and wait out the latency (and a hang)."""
        arrived = time.monotonic()
        body = await request.read()
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            payload = {"_unparsable_body": body.decode("utf-8", "replace")}
        fault = self._next_fault()
        self.requests.append(
            {
                "time": arrived,
                "path": request.path,
                "json": payload,
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "fault": fault,
            }
        )
        latency = self.latency
        if latency > 0:
            await asyncio.sleep(latency)
        if fault == "hang":
            try:
                await asyncio.wait_for(self._stopping.wait(), self.hang_seconds)
            except TimeoutError:
                pass
        return payload, fault, arrived

    def _assistant_text(self, payload: dict, fault: str | None) -> str:
        if fault == "malformed":
            return MALFORMED_CONTENT
        if fault == "bad_json_shape":
            return BAD_SHAPE_CONTENT
        text = self.reply(payload)
        return text if isinstance(text, str) else json.dumps(text)

    @staticmethod
    def _json(body: dict, status: int = 200, headers: dict | None = None) -> web.Response:
        return web.Response(body=json.dumps(body).encode(), status=status, headers=headers, content_type=_JSON)


class FakeOpenAIServer(FakeLLMServer):
    """OpenAI-compatible ``POST /v1/chat/completions`` only (as vLLM and Ollama); ``base_url`` ends in /v1."""

    _ERRORS = {
        "429": (429, "Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded"),
        "500": (500, "The server had an error while processing your request. Sorry about that!", "server_error", None),
        "403": (
            403,
            "You don't have access to the model with the specified model ID.",
            "invalid_request_error",
            "model_not_found",
        ),
        "400": (
            400,
            "Invalid request: the fake server was told to reject this request.",
            "invalid_request_error",
            None,
        ),
        "404": (
            404,
            "The model `gpt-test` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        ),
    }

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    # The Batch API, as OpenAI's wire format has it: upload a JSONL file (``POST /v1/files``),
    # create a batch (``POST /v1/batches``, with metadata), poll it (``GET /v1/batches/{id}``, or the
    # list), then read the output and error files (``GET /v1/files/{id}/content``). A batch
    # completes ``batch_seconds`` after it was created; its lines are answered by ``reply`` like
    # online requests. Plain attributes (not reset): ``batch_seconds``, ``batch_expire_after`` (a
    # number of lines: the rest expire, status "expired", each in the error file), and
    # ``batch_malformed_lines`` (the first N output lines are not JSON). ``batches`` and
    # ``batch_lines`` record what was submitted.
    batch_seconds: float = 0.2
    batch_expire_after: int | None = None
    batch_malformed_lines: int = 0

    def _add_routes(self, app: web.Application) -> None:
        self.files: dict[str, str] = {}
        self.batches: dict[str, dict] = {}
        self.batch_lines = 0
        self._last_second: deque[float] = deque()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{file_id}/content", self._file_content)
        app.router.add_post("/v1/batches", self._create_batch)
        app.router.add_get("/v1/batches", self._list_batches)
        app.router.add_get("/v1/batches/{batch_id}", self._get_batch)
        app.router.add_route("*", "/{tail:.*}", self._not_found)

    def _log(self, request: web.Request, payload=None) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(
            {"time": time.monotonic(), "path": request.path, "json": payload, "headers": headers, "fault": None}
        )

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        file_id = f"file-fake{next(self._ids)}"
        self.files[file_id] = upload.file.read().decode()
        self._log(request, {"purpose": form.get("purpose")})
        return self._json(
            {
                "id": file_id,
                "object": "file",
                "bytes": len(self.files[file_id]),
                "created_at": int(time.time()),
                "filename": upload.filename,
                "purpose": form.get("purpose"),
                "status": "processed",
            }
        )

    async def _file_content(self, request: web.Request) -> web.Response:
        self._log(request)
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            return self._json(
                {
                    "error": {
                        "message": f"No such File object: {file_id}",
                        "type": "invalid_request_error",
                        "param": "id",
                        "code": None,
                    }
                },
                404,
            )
        return web.Response(text=self.files[file_id], content_type="application/octet-stream")

    async def _create_batch(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self._log(request, payload)
        lines = [json.loads(line) for line in self.files[payload["input_file_id"]].splitlines() if line.strip()]
        self.batch_lines += len(lines)
        batch_id = f"batch_fake{next(self._ids)}"
        output, errors = [], []
        for number, line in enumerate(lines):
            if self.batch_expire_after is not None and number >= self.batch_expire_after:
                errors.append(
                    json.dumps(
                        {
                            "id": f"batch_req_{number}",
                            "custom_id": line["custom_id"],
                            "response": None,
                            "error": {
                                "code": "batch_expired",
                                "message": "This request could not be executed before the completion window expired.",
                            },
                        }
                    )
                )
                continue
            if number < self.batch_malformed_lines:
                output.append(
                    json.dumps({"id": f"batch_req_{number}", "custom_id": line["custom_id"]})[:-10]  # cut off
                )
                continue
            text = self._assistant_text(line["body"], None)
            prompt = "\n".join(_text_of(m.get("content")) for m in line["body"].get("messages") or ())
            usage = {"prompt_tokens": _estimate_tokens(prompt), "completion_tokens": _estimate_tokens(text)}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            body = {
                "id": f"chatcmpl-fake{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": line["body"].get("model"),
                "usage": usage,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            }
            output.append(
                json.dumps(
                    {
                        "id": f"batch_req_{number}",
                        "custom_id": line["custom_id"],
                        "response": {"status_code": 200, "request_id": f"req_{number}", "body": body},
                        "error": None,
                    }
                )
            )
        output_id, error_id = f"file-fake{next(self._ids)}", f"file-fake{next(self._ids)}"
        self.files[output_id], self.files[error_id] = "\n".join(output) + "\n", "\n".join(errors) + "\n"
        self.batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": payload["endpoint"],
            "errors": None,
            "input_file_id": payload["input_file_id"],
            "completion_window": payload["completion_window"],
            "created_at": int(time.time()),
            "metadata": payload.get("metadata"),
            "ready_at": time.monotonic() + self.batch_seconds,
            "final_status": "expired" if errors else "completed",
            "output": output_id if output else None,
            "error": error_id if errors else None,
            "counts": {"total": len(lines), "completed": len(output), "failed": len(errors)},
        }
        return self._json(self._batch_view(batch_id))

    def _batch_view(self, batch_id: str) -> dict:
        batch = self.batches[batch_id]
        done = time.monotonic() >= batch["ready_at"]
        view = {k: v for k, v in batch.items() if k not in ("ready_at", "final_status", "output", "error", "counts")}
        return {
            **view,
            "status": batch["final_status"] if done else "in_progress",
            "output_file_id": batch["output"] if done else None,
            "error_file_id": batch["error"] if done else None,
            "request_counts": batch["counts"]
            if done
            else {"total": batch["counts"]["total"], "completed": 0, "failed": 0},
        }

    async def _get_batch(self, request: web.Request) -> web.Response:
        self._log(request)
        batch_id = request.match_info["batch_id"]
        if batch_id not in self.batches:
            return self._json(
                {
                    "error": {
                        "message": f"No batch {batch_id}",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
                404,
            )
        return self._json(self._batch_view(batch_id))

    async def _list_batches(self, request: web.Request) -> web.Response:
        """Newest first, in pages of ``limit`` (default 20, at most 100) after the id ``after``, as
        OpenAI pages its list. Each page is logged with its query (``after``, ``limit``)."""
        self._log(request, dict(request.query))
        ids = list(reversed(self.batches))
        after = request.query.get("after")
        start = ids.index(after) + 1 if after in ids else 0
        limit = min(int(request.query.get("limit", 20)), 100)
        data = [self._batch_view(batch_id) for batch_id in ids[start : start + limit]]
        return self._json(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": start + limit < len(ids),
            }
        )

    def add_old_batches(self, count: int, age_seconds: float) -> None:
        """An account's history: ``count`` completed batches created ``age_seconds`` ago, not ours."""
        created = int(time.time() - age_seconds)
        for _ in range(count):
            batch_id = f"batch_fake{next(self._ids)}"
            self.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": "/v1/chat/completions",
                "errors": None,
                "input_file_id": None,
                "completion_window": "24h",
                "created_at": created,
                "metadata": {"owner": "another tool"},
                "ready_at": 0.0,
                "final_status": "completed",
                "output": None,
                "error": None,
                "counts": {"total": 1, "completed": 1, "failed": 0},
            }

    async def _not_found(self, request: web.Request) -> web.Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        entry = {"time": time.monotonic(), "path": request.path, "json": None, "headers": headers, "fault": None}
        self.requests.append(entry)
        body = self.not_found_body
        if isinstance(body, str):
            return web.Response(text=body, status=404)
        return self._json(body, 404)

    def _error(self, kind: str, rate_headers: dict | None = None) -> web.Response:
        status, message, error_type, code = self._ERRORS[kind]
        headers = None
        if kind == "429":
            headers = {
                "Retry-After": _format_seconds(self.retry_after),
                "retry-after-ms": str(round(self.retry_after * 1000)),
                **(rate_headers or {}),
            }
        return self._json(
            {"error": {"message": message, "type": error_type, "param": None, "code": code}}, status, headers
        )

    # A provider's own rate limit, on the server's clock, enforced as OpenAI's are: ``limit_rpm``
    # requests that refill at an even rate over ``limit_window`` seconds (so no window of that
    # length sees more than twice the limit, and a client keeping a strict window never meets a
    # 429). Past it, a 429 with Retry-After (counted in ``limited``, not logged in ``requests``).
    # Accepted replies carry OpenAI's x-ratelimit-* headers (the reset: the time until the limit is
    # whole again) unless ``send_rate_headers`` is False; so do 429s drawn as faults (their headers
    # then show room left, as a provider's 429 for an overloaded model does).
    # ``limit_per_second``: besides, at most that many requests in any second (as Azure OpenAI
    # evaluates a minute's limit over 1 s windows); past it, a 429 too.
    limit_rpm: int | None = None
    limit_window: float = 60.0
    send_rate_headers: bool = True
    limit_per_second: int | None = None
    limited: int = 0

    def _refuse(self, wait: float) -> web.Response:
        self.limited += 1
        headers = {"retry-after-ms": str(max(1, round(wait * 1000))), "retry-after": f"{wait:.3f}"}
        error = {"message": "Rate limit reached for requests", "type": "requests", "param": None, "code": None}
        return self._json({"error": error}, 429, headers)

    def _admit(self) -> tuple[web.Response | None, dict]:
        """A 429 if the server's own limit is spent, else the rate-limit headers of the reply."""
        now = time.monotonic()
        if self.limit_per_second is None:
            return self._admit_rpm(now)
        second = self._last_second  # arrival times of the requests accepted in the last second
        while second and second[0] <= now - 1.0:
            second.popleft()
        if len(second) >= self.limit_per_second:
            return self._refuse(second[0] + 1.0 - now), {}
        refused, headers = self._admit_rpm(now)
        if refused is None:
            second.append(now)
        return refused, headers

    def _admit_rpm(self, now: float) -> tuple[web.Response | None, dict]:
        if self.limit_rpm is None:
            return None, {}
        per_second = self.limit_rpm / self.limit_window
        if getattr(self, "_bucket_limit", None) != self.limit_rpm:  # a new limit starts whole
            self._bucket_limit, self._level, self._level_at = self.limit_rpm, float(self.limit_rpm), now
        self._level = min(float(self.limit_rpm), self._level + (now - self._level_at) * per_second)
        self._level_at = now
        if self._level < 1:
            return self._refuse((1 - self._level) / per_second), {}
        self._level -= 1
        if not self.send_rate_headers:
            return None, {}
        return None, {
            "x-ratelimit-limit-requests": str(self.limit_rpm),
            "x-ratelimit-remaining-requests": str(int(self._level)),
            "x-ratelimit-reset-requests": f"{(self.limit_rpm - self._level) / per_second:.3f}s",
        }

    async def _chat(self, request: web.Request) -> web.Response:
        refused, rate_headers = self._admit()
        if refused is not None:
            return refused
        payload, fault, _ = await self._receive(request)
        if fault in self._ERRORS:
            return self._error(fault, rate_headers)
        if payload.get("stream"):
            return self._json(
                {
                    "error": {
                        "message": "stream=true is not supported by FakeOpenAIServer",
                        "type": "invalid_request_error",
                        "param": "stream",
                        "code": None,
                    }
                },
                400,
            )
        try:
            text = self._assistant_text(payload, fault)
        except Exception as exc:
            return self._json(
                {
                    "error": {
                        "message": f"reply callable failed: {exc!r}",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                },
                500,
            )
        prompt = "\n".join(_text_of(m.get("content")) for m in payload.get("messages") or () if isinstance(m, dict))
        prompt_tokens, completion_tokens = _estimate_tokens(prompt), _estimate_tokens(text)
        return self._json(
            {
                "id": f"chatcmpl-fake{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": payload.get("model") or "fake-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
            headers=rate_headers or None,
        )


class FakeBedrockServer(FakeLLMServer):
    """AWS Bedrock Runtime Converse: ``POST /model/{modelId}/converse`` with Bedrock-style errors."""

    _ERRORS = {
        "429": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
        "500": (500, "InternalServerException", "The server encountered an internal error."),
        "403": (403, "AccessDeniedException", "You don't have access to the model with the specified model ID."),
        "400": (400, "ValidationException", "The fake server was told to reject this request as invalid."),
    }

    # Batch inference, as the Bedrock control plane has it: ``POST /model-invocation-job`` (a job
    # reading JSONL records from S3, idempotent on clientRequestToken), ``GET
    # /model-invocation-job/{arn or id}``, ``GET /model-invocation-jobs?nameContains=``. A job reads
    # its input from the S3-compatible server at ``s3_endpoint`` when created, and ``batch_seconds``
    # later (at the first poll after that) writes ``<output uri><job id>/<input file>.out`` with one
    # record per input record in the model family's native reply format, and manifest.json.out.
    # Records are answered by ``reply`` from the native body as a chat payload. Plain attributes, as
    # on the OpenAI server: ``batch_seconds``, ``batch_expire_after`` (records past it are not
    # answered: status Expired), ``batch_malformed_lines``; ``jobs`` and ``batch_lines`` record what
    # was submitted.
    s3_endpoint: str | None = None
    batch_seconds: float = 0.2
    batch_expire_after: int | None = None
    batch_malformed_lines: int = 0

    def _add_routes(self, app: web.Application) -> None:
        self.jobs: dict[str, dict] = {}
        self.batch_lines = 0
        # A catch-all: the model id is taken from the raw path, so any percent-encoding (':' or an ARN's '/')
        # survives exactly as the SDK sent it.
        app.router.add_post("/model/{tail:.+}", self._converse)
        app.router.add_post("/model-invocation-job", self._create_job)
        app.router.add_get("/model-invocation-job/{tail:.+}", self._get_job)
        app.router.add_get("/model-invocation-jobs", self._list_jobs)

    def _s3(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def _log(self, request: web.Request, payload=None) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(
            {"time": time.monotonic(), "path": request.path, "json": payload, "headers": headers, "fault": None}
        )

    def _validation_error(self, message: str) -> web.Response:
        return self._json({"message": message}, 400, {"x-amzn-ErrorType": "ValidationException"})

    async def _create_job(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self._log(request, payload)
        missing = [
            k for k in ("jobName", "roleArn", "modelId", "inputDataConfig", "outputDataConfig") if k not in payload
        ]
        if missing:
            return self._validation_error(f"missing required fields: {missing}")
        token = payload.get("clientRequestToken")
        for job in self.jobs.values():
            if token and job["clientRequestToken"] == token:
                return self._json({"jobArn": job["jobArn"]})
            if job["jobName"] == payload["jobName"]:
                return self._json(
                    {"message": "a job with this name exists"}, 409, {"x-amzn-ErrorType": "ConflictException"}
                )
        input_uri = payload["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
        bucket, _, key = input_uri[len("s3://") :].partition("/")
        text = self._s3().get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        self.batch_lines += len(records)
        job_id = f"{next(self._ids):012d}"
        self.jobs[job_id] = {
            **payload,
            "clientRequestToken": token,
            "jobArn": f"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{job_id}",
            "submitTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "records": records,
            "input_name": key.rsplit("/", 1)[-1],
            "ready_at": time.monotonic() + self.batch_seconds,
            "status": "InProgress",
            "expire_after": self.batch_expire_after,
            "malformed": self.batch_malformed_lines,
        }
        return self._json({"jobArn": self.jobs[job_id]["jobArn"]})

    def _finish(self, job_id: str) -> None:
        """Writes the job's output to S3 and sets its final status (at the first poll after ready_at)."""
        job = self.jobs[job_id]
        lines, answered = [], 0
        for number, record in enumerate(job["records"]):
            if job["expire_after"] is not None and number >= job["expire_after"]:
                continue  # never processed
            if number < job["malformed"]:
                lines.append(json.dumps({"recordId": record["recordId"], "modelOutput": {}})[:-5])
                continue
            try:
                output = _native_reply(
                    job["modelId"],
                    record["modelInput"],
                    self._assistant_text(_native_as_chat(record["modelInput"]), None),
                )
                lines.append(json.dumps({**record, "modelOutput": output}))
                answered += 1
            except Exception as exc:  # a reply callable's failure: an error record, as Bedrock writes them
                lines.append(json.dumps({**record, "error": {"errorCode": 400, "errorMessage": repr(exc)}}))
        output_uri = job["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"]
        bucket, _, prefix = output_uri[len("s3://") :].partition("/")
        folder = f"{prefix.rstrip('/')}/{job_id}/".lstrip("/")
        s3 = self._s3()
        s3.put_object(Bucket=bucket, Key=f"{folder}{job['input_name']}.out", Body="\n".join(lines).encode() + b"\n")
        manifest = {
            "totalRecordCount": len(job["records"]),
            "processedRecordCount": len(lines),
            "successRecordCount": answered,
            "errorRecordCount": len(lines) - answered,
        }
        s3.put_object(Bucket=bucket, Key=f"{folder}manifest.json.out", Body=json.dumps(manifest).encode())
        job["status"] = "Expired" if job["expire_after"] is not None else "Completed"

    def _job_view(self, job_id: str) -> dict:
        job = self.jobs[job_id]
        if job["status"] == "InProgress" and time.monotonic() >= job["ready_at"]:
            self._finish(job_id)
        fields = (
            "jobArn",
            "jobName",
            "modelId",
            "clientRequestToken",
            "roleArn",
            "status",
            "submitTime",
            "inputDataConfig",
            "outputDataConfig",
        )
        return {name: job[name] for name in fields if job.get(name) is not None}

    async def _get_job(self, request: web.Request) -> web.Response:
        self._log(request)
        identifier = unquote(request.raw_path.split("?", 1)[0][len("/model-invocation-job/") :])
        job_id = identifier.rsplit("/", 1)[-1]
        if job_id not in self.jobs:
            return self._json(
                {"message": f"no job {identifier}"}, 404, {"x-amzn-ErrorType": "ResourceNotFoundException"}
            )
        return self._json(self._job_view(job_id))

    async def _list_jobs(self, request: web.Request) -> web.Response:
        self._log(request)
        needle = request.query.get("nameContains", "")
        summaries = [self._job_view(job_id) for job_id, job in self.jobs.items() if needle in job["jobName"]]
        return self._json({"invocationJobSummaries": summaries})

    def _error(self, kind: str, message: str | None = None) -> web.Response:
        status, error_type, default_message = self._ERRORS[kind]
        headers = {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": f"fake-{next(self._ids)}"}
        if kind == "429":
            headers["Retry-After"] = _format_seconds(self.retry_after)
        return self._json({"message": message or default_message}, status, headers)

    async def _converse(self, request: web.Request) -> web.Response:
        raw = request.raw_path.split("?", 1)[0]
        if not raw.endswith("/converse"):
            return web.Response(
                status=404,
                headers={"x-amzn-ErrorType": "UnknownOperationException"},
                body=b'{"message": "only /model/{modelId}/converse is faked"}',
                content_type=_JSON,
            )
        payload, fault, arrived = await self._receive(request)
        payload.setdefault("modelId", unquote(raw[len("/model/") : -len("/converse")]))
        if fault in self._ERRORS:
            return self._error(fault)
        if not payload.get("messages"):
            return self._error("400", "A conversation must start with a user message.")
        try:
            text = self._assistant_text(payload, fault)
        except Exception as exc:
            return self._error("500", f"reply callable failed: {exc!r}")
        prompt = "\n".join(
            [_text_of(payload.get("system"))]
            + [_text_of(m.get("content")) for m in payload["messages"] if isinstance(m, dict)]
        )
        input_tokens, output_tokens = _estimate_tokens(prompt), _estimate_tokens(text)
        return self._json(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                "stopReason": "end_turn",
                "usage": {
                    "inputTokens": input_tokens,
                    "outputTokens": output_tokens,
                    "totalTokens": input_tokens + output_tokens,
                },
                "metrics": {"latencyMs": int((time.monotonic() - arrived) * 1000)},
            },
            headers={"x-amzn-RequestId": f"fake-{next(self._ids)}"},
        )


def _native_as_chat(body: dict) -> dict:
    """A native Bedrock body as a chat payload (messages, system) for ``reply`` callables."""
    if "messages" in body:  # Anthropic, Nova
        system = body.get("system")
        system_text = system if isinstance(system, str) else _text_of(system)
        return {"messages": ([{"role": "system", "content": system_text}] if system_text else []) + body["messages"]}
    prompt = body["prompt"]
    if "<|start_header_id|>" in prompt:  # Llama 3
        parts = prompt.split("<|start_header_id|>")[1:]
        messages = []
        for part in parts:
            role, _, text = part.partition("<|end_header_id|>\n\n")
            if text:
                messages.append({"role": role, "content": text.removesuffix("<|eot_id|>")})
        return {"messages": messages}
    user = prompt.rsplit("[INST] ", 1)[-1].split(" [/INST]", 1)[0]  # Mistral
    return {"messages": [{"role": "user", "content": user}]}


def _native_reply(model_id: str, body: dict, text: str) -> dict:
    """The model family's native reply body for ``text``."""
    prompt_tokens = _estimate_tokens(json.dumps(body))
    output_tokens = _estimate_tokens(text)
    if "anthropic." in model_id:
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "stop_reason": "end_turn",
            "content": [{"type": "text", "text": text}],
            "usage": {"input_tokens": prompt_tokens, "output_tokens": output_tokens},
        }
    if "amazon.nova" in model_id:
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {
                "inputTokens": prompt_tokens,
                "outputTokens": output_tokens,
                "totalTokens": prompt_tokens + output_tokens,
            },
        }
    if "meta." in model_id:
        return {
            "generation": text,
            "prompt_token_count": prompt_tokens,
            "generation_token_count": output_tokens,
            "stop_reason": "stop",
        }
    return {"outputs": [{"text": text, "stop_reason": "stop"}]}


@pytest.fixture
def openai_server():
    """A running FakeOpenAIServer for one test (``OpenAI(base_url=openai_server.base_url, api_key="test")``)."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def bedrock_server():
    """A running FakeBedrockServer for one test (``boto3.client("bedrock-runtime", endpoint_url=....url)``)."""
    with FakeBedrockServer() as server:
        yield server
