"""The three model providers behind one interface: ``async call(request, model) -> ProviderReply``.

Each is also a Dagster resource, configured from the environment. Providers make exactly one
attempt per call (the SDKs' own retries are off): retries, rate limits and backoff live in the
call engine, so they are counted and honoured in one place.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import dagster as dg
from pydantic import Field, PrivateAttr

from personality_assets.llm.config import ModelConfig
from personality_assets.llm.simulator import simulate_reply
from personality_assets.llm.types import (
    ChatRequest,
    PermanentError,
    ProviderReply,
    TransientError,
    UserActionRequired,
)


class OpenAIProvider(dg.ConfigurableResource):
    """The official ``openai`` SDK. ``base_url`` makes any OpenAI-compatible server work (vLLM,
    Ollama, llama.cpp, LiteLLM)."""

    api_key: str | None = Field(default=None, description="use EnvVar('OPENAI_API_KEY'); never logged")
    base_url: str | None = Field(default=None, description="default https://api.openai.com/v1")
    _clients: list = PrivateAttr(default_factory=list)
    _clients_loop: Any = PrivateAttr(default=None)
    _next_client: int = PrivateAttr(default=0)

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
                    "OpenAI: no API key. Set OPENAI_API_KEY in the environment (for a local server "
                    "without auth any value works, e.g. OPENAI_API_KEY=local)."
                )
            limits = httpx.Limits(
                max_connections=self.CONNECTIONS_PER_CLIENT, max_keepalive_connections=self.CONNECTIONS_PER_CLIENT
            )
            self._clients = [
                openai.AsyncOpenAI(api_key=self.api_key, base_url=self.base_url, max_retries=0,
                                   http_client=openai.DefaultAsyncHttpxClient(limits=limits))
                for _ in range(self.CLIENTS)
            ]  # fmt: skip
            self._clients_loop = loop
        self._next_client = (self._next_client + 1) % len(self._clients)
        return self._clients[self._next_client]

    async def aclose(self) -> None:
        """Close the clients before their event loop ends (the engine calls this after each run)."""
        if self._clients_loop is asyncio.get_running_loop():
            for client in self._clients:
                await client.close()
        self._clients, self._clients_loop = [], None

    async def call(self, request: ChatRequest, model: ModelConfig) -> ProviderReply:
        import openai

        client = self._async_client()
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
        where = self.base_url or "api.openai.com"
        try:
            # The SDK's client does auth, base URL, timeouts and error mapping; posting the body
            # directly skips `chat.completions.create`'s per-call TypedDict transform and response
            # model construction, which profiled at about 1 ms of CPU per call (half our budget at
            # several hundred calls/s). The body is the documented Chat Completions request.
            completion = await client.post(
                "/chat/completions", body=body, cast_to=object, options={"timeout": model.timeout_seconds}
            )
        except openai.RateLimitError as exc:
            if getattr(exc, "code", None) == "insufficient_quota":
                raise UserActionRequired(f"OpenAI at {where}: the account is out of quota (billing): "
                                         f"{exc.message}") from None  # fmt: skip
            raise TransientError(f"429 from {where}: {exc.message}", _retry_after(exc.response.headers)) from None
        except openai.InternalServerError as exc:
            raise TransientError(f"{exc.status_code} from {where}", _retry_after(exc.response.headers)) from None
        except openai.APITimeoutError:
            raise TransientError(f"timeout after {model.timeout_seconds}s from {where}") from None
        except openai.APIConnectionError as exc:
            raise TransientError(f"cannot reach {where}: {exc.__cause__ or exc}", unreachable=True) from None
        except openai.AuthenticationError:
            raise UserActionRequired(f"OpenAI at {where} rejected the API key (check OPENAI_API_KEY)") from None
        except openai.PermissionDeniedError as exc:
            raise UserActionRequired(
                f"OpenAI at {where}: no access to model {model.model_id!r}: {exc.message}"
            ) from None
        except openai.NotFoundError as exc:
            if not isinstance(exc.body, dict):  # not an OpenAI error: the server has no such path
                url = f"{(self.base_url or 'https://api.openai.com/v1').rstrip('/')}/chat/completions"
                raise UserActionRequired(
                    f"OpenAI-compatible server answered 404 for {url}: the base URL probably lacks /v1 "
                    f"(OpenAI-compatible servers such as vLLM and Ollama serve under <server>/v1)"
                ) from None
            raise UserActionRequired(
                f"OpenAI at {where}: model {model.model_id!r} not found (model key {model.key!r})"
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
        )


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


BEDROCK_TRANSIENT = {
    "ThrottlingException", "ServiceUnavailableException", "InternalServerException", "ModelTimeoutException",
    "ModelNotReadyException", "ServiceQuotaExceededException",
}  # fmt: skip


class BedrockProvider(dg.ConfigurableResource):
    """AWS Bedrock through boto3's ``bedrock-runtime`` Converse API. Credentials come from the
    normal AWS chain (environment, profile, instance role); none are stored or logged."""

    region_name: str | None = Field(default=None, description="default: AWS_REGION / the profile's region")
    profile_name: str | None = Field(default=None, description="an AWS profile from ~/.aws/config")
    endpoint_url: str | None = Field(default=None, description="a non-default endpoint (VPC, local test server)")
    _clients: dict = PrivateAttr(default_factory=dict)
    _executors: dict = PrivateAttr(default_factory=dict)

    def _sync_client(self, model: ModelConfig):
        """One client per read timeout: botocore gives up on a call after the model's own timeout."""
        if model.timeout_seconds not in self._clients:
            import boto3
            from botocore.config import Config

            session = boto3.Session(profile_name=self.profile_name, region_name=self.region_name)
            self._clients[model.timeout_seconds] = session.client(
                "bedrock-runtime",
                endpoint_url=self.endpoint_url,
                # One attempt per call (the engine retries), a pool big enough for the engine's concurrency.
                config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=64,
                              read_timeout=model.timeout_seconds, connect_timeout=10),
            )  # fmt: skip
        return self._clients[model.timeout_seconds]

    async def call(self, request: ChatRequest, model: ModelConfig) -> ProviderReply:
        # boto3 is synchronous: each model gets its own threads, as many as its max_concurrency,
        # so no call waits for a thread (and its timeout clock does not run while it waits).
        executor = self._executors.get(model.key)
        if executor is None or executor._max_workers != model.max_concurrency:
            executor = self._executors[model.key] = ThreadPoolExecutor(
                model.max_concurrency, thread_name_prefix=f"bedrock-{model.key}"
            )
        return await asyncio.get_running_loop().run_in_executor(executor, self._call, request, model)

    def _call(self, request: ChatRequest, model: ModelConfig) -> ProviderReply:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            HTTPClientError,
            NoCredentialsError,
            NoRegionError,
            ReadTimeoutError,
        )

        params = request.parameters(model)
        body: dict[str, Any] = {
            "modelId": model.model_id,
            "messages": [{"role": role, "content": [{"text": text}]} for role, text in request.messages if role != "system"],
            "inferenceConfig": {"temperature": params["temperature"], "topP": params["top_p"],
                                "maxTokens": params["max_tokens"]},
        }  # fmt: skip
        system = [{"text": text} for role, text in request.messages if role == "system"]
        if system:
            body["system"] = system
        where = self.endpoint_url or f"Bedrock ({self.region_name or 'default region'})"
        try:
            response = self._sync_client(model).converse(**body)
        except NoRegionError:
            raise UserActionRequired(
                f"Bedrock: no AWS region for model {model.key!r}: set AWS_REGION (or AWS_DEFAULT_REGION, or a "
                f"region in your AWS profile); Bedrock models are enabled per region"
            ) from None
        except NoCredentialsError:
            raise UserActionRequired(
                "Bedrock: no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            ) from None
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            raise TransientError(f"cannot reach {where}: {exc}", unreachable=True) from None
        except ReadTimeoutError:
            raise TransientError(f"timeout after {model.timeout_seconds}s from {where}") from None
        except (HTTPClientError, ConnectionError) as exc:  # dropped or reset connections
            raise TransientError(f"connection to {where} failed: {type(exc).__name__}") from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", str(exc))
            if code in BEDROCK_TRANSIENT:
                retry_after = _retry_after(exc.response.get("ResponseMetadata", {}).get("HTTPHeaders"))
                raise TransientError(f"{code} from {where}: {message}", retry_after) from None
            if code == "AccessDeniedException":
                raise UserActionRequired(
                    f"Bedrock: access denied to model {model.model_id!r} in {where}: {message} "
                    f"Enable the model under 'Model access' in the Bedrock console for this region, "
                    f"or check the IAM policy allows bedrock:InvokeModel."
                ) from None
            if code in {"UnrecognizedClientException", "ExpiredTokenException"}:
                raise UserActionRequired(f"Bedrock: AWS credentials rejected ({code}): {message}") from None
            if code == "ResourceNotFoundException":
                raise UserActionRequired(f"Bedrock: model {model.model_id!r} not found in {where}") from None
            raise PermanentError(f"{code or 'error'} from {where}: {message}") from None
        except BotoCoreError as exc:
            raise PermanentError(f"Bedrock client error: {type(exc).__name__}: {exc}") from None
        response = {k: v for k, v in response.items() if k != "ResponseMetadata"}  # drop HTTP headers
        content = response.get("output", {}).get("message", {}).get("content", [])
        usage = response.get("usage", {})
        return ProviderReply(
            text="".join(part.get("text", "") for part in content),
            input_tokens=usage.get("inputTokens", request.estimated_input_tokens()),
            output_tokens=usage.get("outputTokens", 0),
            raw_request=body,
            raw_response=json.loads(json.dumps(response, default=str)),
        )


class SimulatedProvider(dg.ConfigurableResource):
    """Offline and deterministic: the reply is seeded from the request, no network. Everything
    it produces is marked ``simulated``."""

    async def call(self, request: ChatRequest, model: ModelConfig) -> ProviderReply:
        started = time.perf_counter()
        text = simulate_reply(request, model)
        input_tokens = request.estimated_input_tokens()
        return ProviderReply(
            text=text,
            input_tokens=input_tokens,
            output_tokens=len(text) // 4 + 1,
            raw_request={
                "model": model.model_id,
                "purpose": request.purpose,
                "messages": request.messages,
                **request.parameters(model),
            },
            raw_response={"simulated": True, "text": text, "seconds": time.perf_counter() - started},
            simulated=True,
        )
