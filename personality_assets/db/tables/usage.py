"""The call engine's record of its use (experiment schema): every model call (also the response
cache), cache hits, provider batches and prices. Written by ``llm/``, whichever track calls;
reported by the usage track."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from personality_assets.db.tables.base import EXPERIMENT, ExperimentBase, JSONDocument, created_column


class LLMCall(ExperimentBase):
    """Every model call (one row per request, after its retries) with tokens, latency, cost and
    status. Successful rows double as the response cache, looked up by ``cache_key``."""

    __tablename__ = "llm_calls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created: Mapped[datetime] = created_column()
    run_id: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(32))
    provider_model_id: Mapped[str] = mapped_column(String(256))
    purpose: Mapped[str] = mapped_column(String(32))
    cache_key: Mapped[str] = mapped_column(String(64), index=True)
    tag: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # ok | invalid | failed
    attempts: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    cost_usd: Mapped[float] = mapped_column(Float)
    simulated: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    response_text: Mapped[str | None] = mapped_column(Text)
    request_json: Mapped[dict | None] = mapped_column(JSONDocument)
    response_json: Mapped[dict | None] = mapped_column(JSONDocument)
    # Migration e0007: accounting.
    pricing_id: Mapped[int | None] = mapped_column(Integer, doc="the model_pricing row the cost was computed with")
    input_cost_usd: Mapped[float | None] = mapped_column(Float)
    output_cost_usd: Mapped[float | None] = mapped_column(Float)
    json_valid_first: Mapped[bool | None] = mapped_column(
        Boolean, doc="the first reply was valid JSON (NULL when no JSON was asked for)"
    )
    batch_id: Mapped[int | None] = mapped_column(Integer, doc="the llm_batches row that answered it (NULL: online)")
    __table_args__ = (
        Index("ix_llm_calls_model_created", "model", "created"),  # migration e0002
        Index("ix_llm_calls_created", "created"),  # e0007: usage by day
    )


class LLMCacheHits(ExperimentBase):
    """Requests answered from the response cache (no call: no llm_calls row), counted per writer
    transaction, run, model and purpose (migration e0007)."""

    __tablename__ = "llm_cache_hits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    run_id: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(32))
    hits: Mapped[int] = mapped_column(Integer)


class LLMBatch(ExperimentBase):
    """A batch submitted to a provider's batch API (migration e0008). Recorded, with its requests,
    before the provider is asked, so a process killed at any point never submits them twice."""

    __tablename__ = "llm_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    local_id: Mapped[str] = mapped_column(String(36), unique=True, doc="ours; sent as the batch's metadata")
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    provider_batch_id: Mapped[str | None] = mapped_column(String(256), doc="NULL until the provider accepted it")
    status: Mapped[str] = mapped_column(String(16), doc="preparing | submitted | collected | failed")
    requests: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(64), doc="the Dagster run that submitted it")
    error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = created_column()
    updated: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LLMBatchRequest(ExperimentBase):
    __tablename__ = "llm_batch_requests"
    batch_id: Mapped[int] = mapped_column(
        ForeignKey(f"{EXPERIMENT}.llm_batches.id", ondelete="CASCADE"), primary_key=True
    )
    cache_key: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class ModelPricing(ExperimentBase):
    """Prices with effective dates (migration e0007): the row in force has no ``effective_to``.
    A call's cost is computed with the row in force when it is made, so a later price never
    rewrites it; ``current_model_pricing`` is the view of the rows in force."""

    __tablename__ = "model_pricing"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(32))
    provider_model_id: Mapped[str] = mapped_column(String(256))
    input_per_million: Mapped[float] = mapped_column(Float, doc="USD per million input tokens")
    output_per_million: Mapped[float] = mapped_column(Float, doc="USD per million output tokens")
    batch_input_per_million: Mapped[float | None] = mapped_column(Float)
    batch_output_per_million: Mapped[float | None] = mapped_column(Float)
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    effective_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        UniqueConstraint("model", "effective_from"),
        Index(
            "uq_model_pricing_current",
            "model",
            unique=True,
            postgresql_where=text("effective_to IS NULL"),
            sqlite_where=text("effective_to IS NULL"),
        ),
    )
