"""Where call results go: ``llm_calls`` (accounting and the response cache), written by one
background thread that commits whatever has arrived in one transaction (group commit).

A caller's own rows for the results (answers, request metadata) are written by ``persist`` in
the same transaction as the results' ``llm_calls`` rows, so a killed run keeps every result that
was committed and nothing half of one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import OperationalError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from personality_assets.db.engine import DatabaseTarget, experiment_transaction
from personality_assets.db.tables.usage import LLMCacheHits, LLMCall
from personality_assets.llm.types import CallResult

Persist = Callable[[Connection, list[CallResult]], None]  # called once per committed group
_STOP = object()


def lookup_cached(target: DatabaseTarget, cache_keys: Iterable[str]) -> dict[str, dict]:
    """The latest successful call for each key that has one."""
    keys = sorted(set(cache_keys))
    found: dict[str, dict] = {}
    table = LLMCall.__table__
    with experiment_transaction(target) as connection:
        for start in range(0, len(keys), 500):
            rows = connection.execute(
                select(
                    table.c.cache_key,
                    table.c.response_text,
                    table.c.response_json,
                    table.c.input_tokens,
                    table.c.output_tokens,
                    table.c.simulated,
                    table.c.id,
                )
                .where(table.c.cache_key.in_(keys[start : start + 500]), table.c.status == "ok")
                .order_by(table.c.id)
            ).mappings()
            for row in rows:
                found[row["cache_key"]] = dict(row)
    return found


def recent_calls(
    target: DatabaseTarget, provider: str, provider_model_id: str, window_seconds: float
) -> list[tuple[float, int]]:
    """(seconds ago, tokens) of every attempt stored in the last window for this provider model (the
    account's calls, whichever model key made them). ``llm_calls`` does not record the endpoint, so
    calls to the same model id on another endpoint count too: the safe side of a rate limit."""
    now = datetime.now(UTC)
    table = LLMCall.__table__
    since = now - timedelta(seconds=window_seconds)
    with experiment_transaction(target) as connection:
        rows = connection.execute(
            select(table.c.created, table.c.attempts, table.c.input_tokens + table.c.output_tokens).where(
                table.c.provider == provider,
                table.c.provider_model_id == provider_model_id,
                table.c.created >= since.replace(tzinfo=None if connection.dialect.name == "sqlite" else UTC),
            )
        ).all()
    recent = []
    for created, attempts, tokens in rows:
        created = created if created.tzinfo else created.replace(tzinfo=UTC)  # SQLite keeps UTC, naive
        age = max((now - created).total_seconds(), 0.0)
        recent += [(age, tokens // max(attempts, 1))] * max(attempts, 1)
    return recent


def call_row(result: CallResult, run_id: str | None, pricing_id: int | None = None) -> dict:
    """The llm_calls row of a call, costed with the price in force (``pricing_id``: its
    model_pricing row; the model's configured prices are that row's, synced at the run's start)."""
    model = result.model
    return {
        "pricing_id": pricing_id,
        "input_cost_usd": model.input_cost(result.input_tokens, batch=result.batch_id is not None),
        "output_cost_usd": model.output_cost(result.output_tokens, batch=result.batch_id is not None),
        "json_valid_first": result.json_valid_first,
        "batch_id": result.batch_id,
        "created": result.finished_at,
        "run_id": run_id,
        "model": result.model.key,
        "provider": result.model.provider,
        "provider_model_id": result.model.model_id,
        "purpose": result.request.purpose,
        "cache_key": result.cache_key,
        "tag": None if result.request.tag is None else str(result.request.tag)[:128],
        "status": result.status,
        "attempts": result.attempts,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "latency_ms": result.latency_s * 1000,
        "cost_usd": result.cost_usd,
        "simulated": result.simulated,
        "error": result.error,
        "response_text": result.text,
        "request_json": result.raw_request,
        "response_json": result.raw_response,
    }


class ResultWriter:
    """Background thread: takes results from a queue and commits them in groups."""

    def __init__(
        self,
        target: DatabaseTarget,
        persist: Persist | None = None,
        run_id: str | None = None,
        max_group: int = 500,
        pricing_ids: dict[str, int] | None = None,
    ):
        self.target, self.persist, self.run_id, self.max_group = target, persist, run_id, max_group
        self.pricing_ids = pricing_ids or {}  # model key -> the model_pricing row in force
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self.write_seconds = 0.0  # time inside database transactions, for benchmarks
        self._thread = threading.Thread(target=self._loop, name="llm-result-writer", daemon=True)
        self._thread.start()

    def put(self, result: CallResult) -> None:
        if self._error is not None:
            raise RuntimeError(f"storing results failed: {self._error!r}") from self._error
        self._queue.put(result)

    def close(self) -> None:
        """Write everything queued, stop the thread, and raise if a write failed."""
        self._queue.put(_STOP)
        self._thread.join()
        if self._error is not None:
            raise RuntimeError(f"storing results failed: {self._error!r}") from self._error

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            group = [self._queue.get()]
            while len(group) < self.max_group:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if _STOP in group:
                stopping = True
                group = [item for item in group if item is not _STOP]
            if not group or self._error is not None:
                continue
            try:
                self._write_with_retries(group)
            except BaseException as exc:
                self._error = exc

    def _write_with_retries(self, group: list) -> None:
        # A busy database (SQLite's "database is locked", a PostgreSQL failover) is worth a few
        # tries: these results are paid for. Each try is one whole transaction.
        for attempt in Retrying(
            stop=stop_after_attempt(4),
            wait=wait_exponential(multiplier=0.5, max=5),
            retry=retry_if_exception_type(OperationalError),
            reraise=True,
        ):
            with attempt:
                self._write(group)

    def _write(self, group: list) -> None:
        started = time.perf_counter()
        with experiment_transaction(self.target) as connection:
            rows = [call_row(r, self.run_id, self.pricing_ids.get(r.model.key)) for r in group if not r.cached]
            if rows:
                connection.execute(insert(LLMCall), rows)
            hits = Counter((r.model.key, r.model.provider, r.request.purpose) for r in group if r.cached)
            if hits:
                now = datetime.now(UTC)
                connection.execute(
                    insert(LLMCacheHits),
                    [
                        {"created": now, "run_id": self.run_id, "model": m, "provider": p, "purpose": u, "hits": n}
                        for (m, p, u), n in hits.items()
                    ],
                )
            if self.persist is not None:
                self.persist(connection, group)
        self.write_seconds += time.perf_counter() - started
