"""AWS Bedrock through boto3's ``bedrock-runtime`` Converse API. Credentials come from the normal AWS
chain (environment, profile, instance role); none are stored or logged. One attempt per call:
the call engine retries what this module marks transient (throttling, 5xx, timeouts)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from personality_assets.llm.config import ModelConfig
from personality_assets.llm.providers.openai import _retry_after
from personality_assets.llm.types import (
    ChatRequest,
    PermanentError,
    ProviderReply,
    TransientError,
    UserActionRequired,
)

BEDROCK_TRANSIENT = {
    "ThrottlingException",
    "ServiceUnavailableException",
    "InternalServerException",
    "ModelTimeoutException",
    "ModelNotReadyException",
    "ServiceQuotaExceededException",
}


class BedrockProvider:
    """AWS Bedrock through boto3's ``bedrock-runtime`` Converse API. Credentials come from the
    normal AWS chain (environment, profile, instance role); none are stored or logged."""

    name: ClassVar[str] = "bedrock"

    def __init__(
        self, region_name: str | None = None, profile_name: str | None = None, endpoint_url: str | None = None
    ):
        # region None: boto3's own chain (AWS_REGION, the profile's region); endpoint_url: a VPC or test endpoint
        self.region_name, self.profile_name, self.endpoint_url = region_name, profile_name, endpoint_url
        self._clients: dict = {}
        self._executors: dict = {}

    @classmethod
    def for_model(cls, model: ModelConfig, environ: Mapping[str, str]) -> BedrockProvider:
        """The model's own region and endpoint, else AWS_REGION, AWS_PROFILE and
        PERSONALITY_ASSETS_BEDROCK_ENDPOINT_URL; credentials from the normal AWS chain."""
        return cls(
            region_name=model.region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
            profile_name=environ.get("AWS_PROFILE"),
            endpoint_url=model.base_url or environ.get("PERSONALITY_ASSETS_BEDROCK_ENDPOINT_URL"),
        )

    def account(self, model: ModelConfig) -> tuple[str, ...]:
        return (self.name, self.endpoint_url or self.region_name or "default region", model.model_id)

    async def aclose(self) -> None:
        """Nothing to close per run: boto3 clients and threads are reused across runs."""

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
                config=Config(
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    max_pool_connections=64,
                    read_timeout=model.timeout_seconds,
                    connect_timeout=10,
                ),
            )
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
            ProfileNotFound,
            ReadTimeoutError,
        )

        params = request.parameters(model)
        body: dict[str, Any] = {
            "modelId": model.model_id,
            "messages": [
                {"role": role, "content": [{"text": text}]} for role, text in request.messages if role != "system"
            ],
            "inferenceConfig": {
                "temperature": params["temperature"],
                "topP": params["top_p"],
                "maxTokens": params["max_tokens"],
            },
        }
        system = [{"text": text} for role, text in request.messages if role == "system"]
        if system:
            body["system"] = system
        where = self.endpoint_url or f"Bedrock ({self.region_name or 'default region'})"
        # Making the client fails only on configuration, the same way for every call: stop the batch.
        try:
            client = self._sync_client(model)
        except NoRegionError:
            raise UserActionRequired(
                f"Bedrock: no AWS region for model {model.key!r}: set `region` in its entry of the models "
                f"configuration (models.yaml, or the file in $PERSONALITY_ASSETS_MODELS_FILE), or AWS_REGION in "
                f"the environment; Bedrock models are enabled per region"
            ) from None
        except ProfileNotFound:
            raise UserActionRequired(
                f"Bedrock: AWS profile {self.profile_name!r} not found (set by AWS_PROFILE): fix AWS_PROFILE or add "
                f"the profile to your AWS config"
            ) from None
        except BotoCoreError as exc:  # e.g. an invalid region name
            raise UserActionRequired(f"Bedrock: cannot make a client for model {model.key!r}: {exc}") from None
        try:
            response = client.converse(**body)
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
