"""Provider batch APIs (a model with ``mode: batch``): requests go to the provider as batches of
JSONL lines and come back hours later at half price, through the same validation, writer and
accounting as online calls.

Nothing is submitted twice: a batch and its requests (by cache key) are recorded in the database
before the provider is asked, and the provider gets our id in the batch's metadata. A later run
of the same requests finds them in a recorded batch and collects it instead of submitting them
again; a batch recorded but never confirmed (the process died while submitting) is looked up at
the provider by our id, and submitted only when the provider has never seen it. Requests a batch
did not answer (expired, failed, invalid output) are returned to be asked online.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from pydantic import ValidationError
from sqlalchemy import insert, select, update

from personality_assets.db.engine import DatabaseTarget, experiment_transaction
from personality_assets.db.tables.usage import LLMBatch, LLMBatchRequest
from personality_assets.llm.config import ModelConfig
from personality_assets.llm.types import CallResult, ChatRequest, ProviderReply, strip_fences

TERMINAL = {"completed", "failed", "expired", "cancelled"}


@dataclass
class BatchOutcome:
    retry_online: list[tuple[ChatRequest, str]] = field(default_factory=list)  # (request, cache key)
    waiting: list[str] = field(default_factory=list)  # provider batch ids still running at the deadline
    submitted: int = 0  # batches submitted by this run
    over_budget: int = 0  # requests not submitted: their batch's worst case did not fit the spend cap
    refusal: str | None = None  # the engine's account of that refusal


class SpendGate(Protocol):
    """The engine's spend caps, as batches see them: ``admit`` reserves a batch's worst case if it
    fits (False: do not submit it), ``settle`` replaces the reservation by what was paid."""

    def admit(self, worst_case_usd: float) -> bool: ...

    def settle(self, worst_case_usd: float, cost_usd: float) -> None: ...


def _chunks(lines: list[tuple[str, dict]], max_requests: int, max_bytes: int) -> list[list[tuple[str, dict]]]:
    """Split by the provider's limits on requests and bytes per batch."""
    chunks, current, size = [], [], 0
    for key, line in lines:
        length = len(json.dumps(line)) + 1
        if current and (len(current) >= max_requests or size + length > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append((key, line))
        size += length
    return chunks + ([current] if current else [])


def _recorded(target: DatabaseTarget, keys: Sequence[str]) -> dict[str, dict]:
    """The open (not yet collected) batch of each key that has one."""
    batches, members = LLMBatch.__table__, LLMBatchRequest.__table__
    found: dict[str, dict] = {}
    with experiment_transaction(target) as connection:
        for start in range(0, len(keys), 500):
            rows = connection.execute(
                select(members.c.cache_key, batches)
                .join(batches, batches.c.id == members.c.batch_id)
                .where(
                    members.c.cache_key.in_(keys[start : start + 500]), batches.c.status.in_(["preparing", "submitted"])
                )
            ).mappings()
            found.update({row["cache_key"]: dict(row) for row in rows})
    return found


def _record(target: DatabaseTarget, model: ModelConfig, keys: list[str], run_id: str | None = None) -> dict:
    batches = LLMBatch.__table__
    local_id = uuid.uuid4().hex
    with experiment_transaction(target) as connection:
        batch_id = connection.execute(
            insert(batches)
            .values(
                local_id=local_id,
                provider=model.provider,
                model=model.key,
                status="preparing",
                requests=len(keys),
                run_id=run_id,
            )
            .returning(batches.c.id)
        ).scalar_one()
        connection.execute(insert(LLMBatchRequest), [{"batch_id": batch_id, "cache_key": key} for key in keys])
    return {"id": batch_id, "local_id": local_id, "provider_batch_id": None, "status": "preparing"}


def open_batches(target: DatabaseTarget) -> list[dict]:
    """Batches submitted and not yet collected."""
    batches = LLMBatch.__table__
    with experiment_transaction(target) as connection:
        rows = connection.execute(select(batches).where(batches.c.status == "submitted").order_by(batches.c.id))
        return [dict(row) for row in rows.mappings()]


def _set(target: DatabaseTarget, batch_id: int, **values) -> None:
    batches = LLMBatch.__table__
    with experiment_transaction(target) as connection:
        connection.execute(update(batches).where(batches.c.id == batch_id).values(**values, updated=datetime.now(UTC)))


async def run_batches(
    target: DatabaseTarget,
    model: ModelConfig,
    provider,
    items: list[tuple[ChatRequest, str]],
    finish: Callable[[CallResult], None],
    log,
    run_id: str | None = None,
    gate: SpendGate | None = None,
    worst_case: Callable[[ChatRequest], float] | None = None,
) -> BatchOutcome:
    """Submits what no recorded batch carries, waits up to ``model.batch_wait_seconds`` for every
    batch of these requests, and finishes each answered request. Returns what to ask online and
    which batches were still running.

    A new batch is submitted only if ``gate`` admits its worst case (``worst_case`` of each request,
    at the batch price); batches an earlier run submitted were admitted by that run and are
    collected whatever the cap. A chunk under ``model.batch_min_requests`` is asked online."""
    outcome = BatchOutcome()
    # Identical requests (same cache key) go into a batch once: a custom id is unique in a batch.
    by_key: dict[str, list[ChatRequest]] = {}
    for request, key in items:
        by_key.setdefault(key, []).append(request)
    recorded = _recorded(target, list(by_key))
    batches = {row["id"]: row for row in recorded.values()}
    fresh = [(key, provider.batch_line(key, same[0], model)) for key, same in by_key.items() if key not in recorded]
    for chunk in _chunks(fresh, model.batch_max_requests, model.batch_max_bytes):
        keys = [key for key, _ in chunk]
        if len(chunk) < model.batch_min_requests:
            log.info(f"{model.key}: {len(chunk)} requests, under batch_min_requests: asked online")
            outcome.retry_online += [(request, key) for key in keys for request in by_key[key]]
            continue
        estimate = sum(worst_case(by_key[key][0]) for key in keys) if worst_case else 0.0
        if outcome.over_budget or (gate is not None and not gate.admit(estimate)):
            outcome.over_budget += len(chunk)  # not recorded, not submitted: the next run may
            continue
        row = _record(target, model, keys, run_id)  # recorded first: never submitted twice
        row["lines"] = [line for _, line in chunk]
        row["reserved_usd"] = estimate
        batches[row["id"]] = row
    for row in batches.values():
        if row["provider_batch_id"] is None:
            # Recorded just now: the provider has never seen its id. Recorded by a run that died:
            # the provider may have it already, created after our record.
            found = None if "lines" in row else await provider.find_batch(row["local_id"], _utc(row["created"]))
            if found is None:
                lines = row.get("lines") or [
                    provider.batch_line(k, by_key[k][0], model) for k in _keys_of(target, row) if k in by_key
                ]
                found = await provider.submit_batch(model, lines, row["local_id"])
                outcome.submitted += 1
            row["provider_batch_id"] = found
            _set(target, row["id"], provider_batch_id=found, status="submitted")
            log.info(
                f"{model.key}: batch {found} ({row.get('requests', len(row.get('lines', [])))} requests) submitted"
            )
    deadline = time.monotonic() + model.batch_wait_seconds
    open_batches = dict(batches)
    while open_batches:
        for batch_id, row in list(open_batches.items()):
            state = await provider.batch_state(row["provider_batch_id"])
            if state["status"] not in TERMINAL:
                continue
            answered = await provider.batch_results(state)
            paid = 0.0
            for key in _keys_of(target, row):
                if key not in by_key:
                    continue  # a request this run no longer asks for
                first, *others = by_key[key]
                line = provider.batch_line(key, first, model)
                result = _result(first, key, model, answered.get(key), batch_id, line)
                if result is None:
                    outcome.retry_online += [(request, key) for request in by_key[key]]
                    continue
                finish(result)
                paid += result.cost_usd
                for other in others:  # answered by the same line: no call of their own, no cost
                    finish(replace(result, request=other, cached=True, input_tokens=0, output_tokens=0, cost_usd=0.0))
            _set(
                target,
                batch_id,
                status="collected" if state["status"] == "completed" else "failed",
                error=None if state["status"] == "completed" else f"provider status {state['status']}",
            )
            del open_batches[batch_id]
            if gate is not None and "reserved_usd" in row:
                gate.settle(row["reserved_usd"], paid)
            log.info(f"{model.key}: batch {row['provider_batch_id']} {state['status']}, collected")
        if open_batches:
            if time.monotonic() >= deadline:
                outcome.waiting = [row["provider_batch_id"] for row in open_batches.values()]
                break
            await asyncio.sleep(min(model.batch_poll_seconds, max(deadline - time.monotonic(), 0.01)))
    return outcome


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite returns UTC without a zone


def _keys_of(target: DatabaseTarget, row: dict) -> list[str]:
    members = LLMBatchRequest.__table__
    with experiment_transaction(target) as connection:
        return list(connection.execute(select(members.c.cache_key).where(members.c.batch_id == row["id"])).scalars())


def _result(
    request: ChatRequest, key: str, model: ModelConfig, reply: ProviderReply | str | None, batch_id: int, line: dict
):
    """The request's result from its batch reply, or None when it must be asked online (no reply,
    an error line, or output that does not validate)."""
    if not isinstance(reply, ProviderReply):
        return None
    parsed = None
    if request.response_model is not None:
        try:
            parsed = request.response_model.model_validate_json(strip_fences(reply.text))
        except ValidationError:
            return None
    return CallResult(
        request=request,
        model=model,
        cache_key=key,
        status="ok",
        text=reply.text,
        parsed=parsed,
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        cost_usd=model.cost(reply.input_tokens, reply.output_tokens, batch=True),
        attempts=1,
        raw_request=line,
        raw_response=reply.raw_response,
        json_valid_first=True if request.response_model is not None else None,
        batch_id=batch_id,
    )
