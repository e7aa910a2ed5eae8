"""AWS Bedrock through boto3's ``bedrock-runtime`` Converse API. Credentials come from the normal AWS
chain (environment, profile, instance role); none are stored or logged. One attempt per call:
the call engine retries what this module marks transient (throttling, 5xx, timeouts)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, ClassVar

from personality_assets.llm.config import ModelConfig
from personality_assets.llm.providers import bedrock_formats
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
                throttled = code in {"ThrottlingException", "ServiceQuotaExceededException"}
                raise TransientError(f"{code} from {where}: {message}", retry_after, rate_limited=throttled) from None
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

    # --- batch inference (CreateModelInvocationJob: JSONL records in S3, native bodies) ------------

    def _control_client(self):
        """The ``bedrock`` control plane (same endpoint setting as the runtime: one test server serves both)."""
        if "control" not in self._clients:
            import boto3

            session = boto3.Session(profile_name=self.profile_name, region_name=self.region_name)
            self._clients["control"] = session.client("bedrock", endpoint_url=self.endpoint_url)
        return self._clients["control"]

    def _s3_client(self):
        """S3 for batch input and output; $PERSONALITY_ASSETS_S3_ENDPOINT_URL for an S3-compatible server."""
        if "s3" not in self._clients:
            import boto3

            session = boto3.Session(profile_name=self.profile_name, region_name=self.region_name)
            self._clients["s3"] = session.client("s3", endpoint_url=os.environ.get(S3_ENDPOINT_VARIABLE) or None)
        return self._clients["s3"]

    def batch_line(self, custom_id: str, request: ChatRequest, model: ModelConfig) -> dict:
        return {"recordId": custom_id, "modelInput": self._native_body(request, model)}

    def _native_body(self, request: ChatRequest, model: ModelConfig) -> dict:
        return bedrock_formats.request_body(request, model.model_id, request.parameters(model))

    async def find_batch(self, local_id: str, recorded: datetime) -> str | None:
        """The job we created with this id in its name, if Bedrock has it (the name selects it: one call)."""
        return await asyncio.to_thread(self._find_job, local_id)

    def _find_job(self, local_id: str) -> str | None:
        response = self._control(
            "ListModelInvocationJobs", lambda c: c.list_model_invocation_jobs(nameContains=_job_name(local_id))
        )
        for job in response.get("invocationJobSummaries", []):
            if job.get("jobName") == _job_name(local_id):
                return job["jobArn"]
        return None

    async def submit_batch(self, model: ModelConfig, lines: list[dict], local_id: str) -> str:
        return await asyncio.to_thread(self._submit_job, model, lines, local_id)

    def _submit_job(self, model: ModelConfig, lines: list[dict], local_id: str) -> str:
        if not model.batch_s3_uri or not model.batch_role_arn:
            raise UserActionRequired(
                f"Bedrock batch inference for model {model.key!r} needs batch_s3_uri (s3://bucket/prefix for input "
                f"and output) and batch_role_arn (a service role Bedrock assumes to read and write it) in its entry "
                f"of the models configuration, or PERSONALITY_ASSETS_MODEL_{model.key.upper()}_BATCH_S3_URI and "
                f"..._BATCH_ROLE_ARN"
            )
        bucket, prefix = _split_s3_uri(model.batch_s3_uri)
        folder = f"{prefix}/{local_id}" if prefix else local_id
        payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self._s3("PutObject", lambda s3: s3.put_object(Bucket=bucket, Key=f"{folder}/input.jsonl", Body=payload))
        response = self._control(
            "CreateModelInvocationJob",
            lambda c: c.create_model_invocation_job(
                jobName=_job_name(local_id),
                clientRequestToken=local_id,  # Bedrock's own guard against a repeated create
                roleArn=model.batch_role_arn,
                modelId=model.model_id,
                inputDataConfig={
                    "s3InputDataConfig": {"s3Uri": f"s3://{bucket}/{folder}/input.jsonl", "s3InputFormat": "JSONL"}
                },
                outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{bucket}/{folder}/output/"}},
            ),
        )
        return response["jobArn"]

    async def batch_state(self, batch_id: str) -> dict:
        job = await asyncio.to_thread(
            self._control, "GetModelInvocationJob", lambda c: c.get_model_invocation_job(jobIdentifier=batch_id)
        )
        return {
            "status": JOB_STATUS.get(job["status"], "in_progress"),
            "provider_status": job["status"],
            "job_arn": job["jobArn"],
            "output_uri": job["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"],
            "model_id": job["modelId"],
        }

    async def batch_results(self, state: dict) -> dict[str, ProviderReply | str]:
        return await asyncio.to_thread(self._job_results, state)

    def _job_results(self, state: dict) -> dict[str, ProviderReply | str]:
        """Each record's reply by record id (an error record's message instead), from the job's output
        files: <output uri>/<job id>/<input file>.out. A malformed line answers nothing."""
        bucket, prefix = _split_s3_uri(state["output_uri"])
        folder = f"{prefix.rstrip('/')}/{state['job_arn'].rsplit('/', 1)[-1]}/".lstrip("/")
        listing = self._s3("ListObjectsV2", lambda s3: s3.list_objects_v2(Bucket=bucket, Prefix=folder))
        results: dict[str, ProviderReply | str] = {}
        for item in listing.get("Contents", []):
            if not item["Key"].endswith(".jsonl.out"):
                continue  # manifest.json.out: counts only
            body = self._s3("GetObject", lambda s3, key=item["Key"]: s3.get_object(Bucket=bucket, Key=key))
            for text in body["Body"].read().decode().splitlines():
                try:
                    record = json.loads(text)
                    record_id = record["recordId"]
                except (ValueError, KeyError, TypeError):
                    continue
                if record.get("error") or not isinstance(record.get("modelOutput"), dict):
                    results[record_id] = str(record.get("error") or "no modelOutput")[:500]
                    continue
                try:
                    reply, input_tokens, output_tokens = bedrock_formats.reply_of(
                        state["model_id"], record["modelOutput"]
                    )
                except (KeyError, IndexError, TypeError):
                    results[record_id] = f"unexpected modelOutput: {str(record['modelOutput'])[:200]}"
                    continue
                results[record_id] = ProviderReply(
                    text=reply,
                    # families that report no tokens: about four characters a token, as for estimates
                    input_tokens=input_tokens
                    if input_tokens is not None
                    else len(json.dumps(record.get("modelInput", ""))) // 4,
                    output_tokens=output_tokens if output_tokens is not None else len(reply) // 4,
                    raw_request={"recordId": record_id},
                    raw_response=record["modelOutput"],
                )
        return results

    def _control(self, operation: str, call):
        return self._aws(operation, call, self._control_client())

    def _s3(self, operation: str, call):
        return self._aws(operation, call, self._s3_client())

    def _aws(self, operation: str, call, client):
        """One control-plane or S3 call, its errors as the engine's kinds (the message names the operation)."""
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

        try:
            return call(client)
        except NoCredentialsError:
            raise UserActionRequired(f"Bedrock batch ({operation}): no AWS credentials found") from None
        except EndpointConnectionError as exc:
            raise TransientError(f"Bedrock batch ({operation}): cannot connect: {exc}", unreachable=True) from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", str(exc))
            if code in BEDROCK_TRANSIENT or code in {"SlowDown", "RequestTimeout"}:
                raise TransientError(f"Bedrock batch ({operation}): {code}: {message}") from None
            raise UserActionRequired(f"Bedrock batch ({operation}): {code}: {message}") from None
        except BotoCoreError as exc:
            raise UserActionRequired(f"Bedrock batch ({operation}): {type(exc).__name__}: {exc}") from None


S3_ENDPOINT_VARIABLE = "PERSONALITY_ASSETS_S3_ENDPOINT_URL"
# Bedrock's job states as the batch module's: PartiallyCompleted has output for the records that
# finished (the rest are asked online), as has Expired.
JOB_STATUS = {
    "Completed": "completed",
    "PartiallyCompleted": "completed",
    "Failed": "failed",
    "Stopped": "cancelled",
    "Expired": "expired",
}


def _job_name(local_id: str) -> str:
    return f"personality-assets-{local_id}"


def _split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise UserActionRequired(f"batch_s3_uri {uri!r} is not an s3:// URI")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    return bucket, prefix.strip("/")
