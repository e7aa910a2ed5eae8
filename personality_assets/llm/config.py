"""The models configuration: which model key means which provider, model id, prices and limits.

Read from the package's ``models.yaml``, then a user file ($PERSONALITY_ASSETS_MODELS_FILE)
merged over it entry by entry, then single fields from the environment
(``PERSONALITY_ASSETS_MODEL_<KEY>_<FIELD>``, e.g. ``PERSONALITY_ASSETS_MODEL_GPT4O_RPM=500``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from personality_assets.llm.providers import PROVIDERS

PACKAGE_MODELS_FILE = Path(__file__).with_name("models.yaml")
MODELS_FILE_ENV = "PERSONALITY_ASSETS_MODELS_FILE"
FIELD_ENV_PREFIX = "PERSONALITY_ASSETS_MODEL_"


class ModelConfigError(ValueError):
    """The models configuration is invalid, or a model key is unknown."""


class ResponseStyle(BaseModel):
    """How the offline simulator answers questionnaires beyond each person's own answers, so the
    persona study's robustness and response-style reports can be tested on known effects. Only
    simulated models read it; all zero (the default) changes nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    acquiescence: float = Field(
        0.0, ge=-5, le=5, description="answers shifted toward agreement by this many answer units, whatever the key"
    )
    primacy: float = Field(0.0, ge=0, le=1, description="probability an answer is the first option shown")
    spread: float = Field(0.0, ge=0, le=1, description="shrinkage of answers toward the scale's midpoint (1: all)")
    order_drift: float = Field(
        0.0,
        ge=-5,
        le=5,
        description="shift toward agreement growing linearly to this many units at the last item shown",
    )

    @property
    def active(self) -> bool:
        return any(self.model_dump().values())


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    provider: str = Field(description="a provider module's name (personality_assets.llm.providers.PROVIDERS)")
    model_id: str
    base_url: str | None = Field(
        None,
        description="this model's endpoint: an OpenAI-compatible base URL "
        "(ending in /v1) or a Bedrock endpoint URL; default: the provider's",
    )
    api_key_env: str | None = Field(
        None,
        description="name of the environment variable holding this model's key "
        "(the key itself never goes in configuration); default OPENAI_API_KEY",
    )
    region: str | None = Field(None, description="Bedrock: this model's AWS region; default AWS_REGION")
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(2048, gt=0)
    price_input_per_million: float = Field(0.0, ge=0)
    price_output_per_million: float = Field(0.0, ge=0)
    price_batch_input_per_million: float | None = Field(None, ge=0, description="the provider's batch API price")
    price_batch_output_per_million: float | None = Field(None, ge=0)
    mode: Literal["online", "batch"] = Field(
        "online", description="batch: send this model's requests through the provider's batch API (half price)"
    )
    batch_poll_seconds: float = Field(30.0, gt=0, description="how often a submitted batch is polled")
    batch_wait_seconds: float = Field(
        3600.0, ge=0, description="how long a step waits for its batches before leaving them for the next run"
    )
    batch_max_requests: int = Field(50_000, gt=0, description="requests per batch (OpenAI: 50,000)")
    batch_max_bytes: int = Field(190_000_000, gt=0, description="bytes of input file per batch (OpenAI: 200 MB)")
    batch_min_requests: int = Field(
        0, ge=0, description="fewer requests than this go online, not in a batch (Bedrock's quota: 100 records a job)"
    )
    batch_s3_uri: str | None = Field(
        None, description="Bedrock batch inference: s3://bucket/prefix where job input and output are written"
    )
    batch_role_arn: str | None = Field(
        None, description="Bedrock batch inference: the service role Bedrock assumes to read and write batch_s3_uri"
    )
    max_cost_usd: float | None = Field(
        None, gt=0, description="the most one step may spend on this model (USD); None = no cap"
    )
    rpm: int | None = Field(None, gt=0, description="requests per minute; None = unlimited")
    tpm: int | None = Field(None, gt=0, description="tokens (in + out) per minute; None = unlimited")
    pacing: Literal["burst", "even"] = Field(
        "burst",
        description="burst: each window's requests go as fast as the calls in flight allow; even: at most one "
        "request every 60/rpm seconds, for providers that count the limit over shorter windows (Azure OpenAI); "
        "needs rpm",
    )
    max_concurrency: int = Field(8, gt=0, description="calls in flight at once in one process")
    account_max_concurrency: int | None = Field(
        None,
        gt=0,
        description="calls in flight at once for the account over every process and machine (needs the "
        "shared limiter, PERSONALITY_ASSETS_REDIS_URL); None: no shared cap",
    )
    cache: bool = Field(False, description="reuse a stored response for an identical request")
    timeout_seconds: float = Field(120.0, gt=0)
    max_attempts: int = Field(5, gt=0, description="attempts per request, for transient errors and invalid output")
    response_style: ResponseStyle = Field(
        default_factory=ResponseStyle, description="simulated models only: planted response styles"
    )
    json_output: Literal["json_schema", "json_object", "prompt"] = Field(
        "json_object",
        description="how JSON replies are requested from an OpenAI-compatible server: structured outputs with "
        "the reply's schema (newer OpenAI models, vLLM), JSON mode (most servers), or the prompt alone",
    )

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, provider: str) -> str:
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; known: {sorted(PROVIDERS)}")
        return provider

    @model_validator(mode="after")
    def _pacing_needs_rpm(self) -> ModelConfig:
        if self.pacing == "even" and self.rpm is None:
            raise ValueError(f"model {self.key!r}: pacing: even spreads rpm requests over the minute; set rpm")
        return self

    def cost(self, input_tokens: int, output_tokens: int, batch: bool = False) -> float:
        return self.input_cost(input_tokens, batch) + self.output_cost(output_tokens, batch)

    def input_cost(self, tokens: int, batch: bool = False) -> float:
        price = self.price_batch_input_per_million if batch else None
        return tokens * (self.price_input_per_million if price is None else price) / 1e6

    def output_cost(self, tokens: int, batch: bool = False) -> float:
        price = self.price_batch_output_per_million if batch else None
        return tokens * (self.price_output_per_million if price is None else price) / 1e6


class ModelsConfig(BaseModel):
    default_model: str
    models: dict[str, ModelConfig]

    def get(self, key: str | None) -> ModelConfig:
        key = key or self.default_model
        if key not in self.models:
            raise ModelConfigError(f"unknown model key {key!r}; configured: {sorted(self.models)}")
        return self.models[key]


def _read_yaml(path: Path) -> dict:
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ModelConfigError(f"{path}: cannot read the models configuration: {exc}") from exc
    if not isinstance(content, dict):
        raise ModelConfigError(f"{path}: expected a mapping with default_model and models")
    return content


def load_models_config(path: Path | None = None, environ: dict[str, str] | None = None) -> ModelsConfig:
    environ = os.environ if environ is None else environ
    raw = _read_yaml(PACKAGE_MODELS_FILE)
    user_file = path or (Path(environ[MODELS_FILE_ENV]) if environ.get(MODELS_FILE_ENV) else None)
    sources = [str(PACKAGE_MODELS_FILE)]
    if user_file:
        user = _read_yaml(user_file)
        sources.append(str(user_file))
        raw["default_model"] = user.get("default_model", raw["default_model"])
        for key, entry in (user.get("models") or {}).items():
            raw["models"][key] = {**raw["models"].get(key, {}), **(entry or {})}
    for name, value in environ.items():
        if name.startswith(FIELD_ENV_PREFIX):
            rest = name[len(FIELD_ENV_PREFIX) :].lower()
            key = next((k for k in sorted(raw["models"], key=len, reverse=True) if rest.startswith(k + "_")), None)
            if key is None:
                raise ModelConfigError(f"{name}: no configured model key matches; keys: {sorted(raw['models'])}")
            raw["models"][key][rest[len(key) + 1 :]] = value
    try:
        return ModelsConfig(
            default_model=raw["default_model"],
            models={key: ModelConfig(key=key, **entry) for key, entry in raw["models"].items()},
        )
    except ValidationError as exc:
        raise ModelConfigError(f"invalid models configuration ({' + '.join(sources)}, environment): {exc}") from exc
