"""The call engine: every model call of the project goes through :meth:`CallEngine.run`.

Per model: ``max_concurrency`` workers, a strict RPM/TPM limiter shared by them, retries with
exponential backoff and jitter (tenacity) on transient errors honouring ``Retry-After``, a
per-request timeout, pydantic validation of JSON replies (an invalid reply is retried with the
validation error fed back), the response cache, cost accounting, progress in the log, and
totals for the materialisation metadata. Errors only the user can fix stop the batch with a
message that says what to do.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import signal
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import polars as pl
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from personality_assets.db.engine import DatabaseTarget
from personality_assets.llm.batches import BatchOutcome, run_batches
from personality_assets.llm.config import ModelConfig, ModelsConfig
from personality_assets.llm.pricing import sync_prices
from personality_assets.llm.providers import Providers
from personality_assets.llm.purposes import get_purpose
from personality_assets.llm.ratelimit import shared_limiter
from personality_assets.llm.store import Persist, ResultWriter, lookup_cached, recent_calls
from personality_assets.llm.types import (
    CallResult,
    ChatRequest,
    InvalidOutput,
    PermanentError,
    ProviderReply,
    RunSummary,
    TransientError,
    UserActionRequired,
    strip_fences,
)


class CallEngine:
    def __init__(
        self,
        models: ModelsConfig,
        providers: Providers,
        target: DatabaseTarget | None = None,
        log: logging.Logger | Any = None,
        run_id: str | None = None,
        progress_every_s: float = 10.0,
        rate_window_s: float = 60.0,  # tests shorten it; limits are per minute
        feedback_on_invalid: bool = True,
        cache: bool | None = None,  # None: each model's own setting
        max_cost_usd: float | None = None,  # the cap on this engine's spend over all its runs
        redis_url: str | None = None,  # the shared limiter's Redis; None: each process its own limiter
    ):
        self.models, self.providers, self.target = models, providers, target
        # Spend caps: the engine's (every model) and each model's own (models.yaml max_cost_usd),
        # counted over the engine's runs, so a step that runs the engine per round has one budget.
        self.budget = Budget(max_cost_usd, "this step's max_cost_usd")
        self.model_budgets: dict[str, Budget] = {}
        self.log = log or logging.getLogger(__name__)
        self.run_id, self.progress_every_s, self.rate_window_s = run_id, progress_every_s, rate_window_s
        self.feedback_on_invalid, self.cache, self.redis_url = feedback_on_invalid, cache, redis_url

    # --- estimate --------------------------------------------------------------------------------

    def estimate(self, requests: Sequence[ChatRequest]) -> pl.DataFrame:
        """What a batch will do before any call: calls, cache hits, tokens and cost per model."""
        rows = []
        cached = self._cached(requests)
        for request in requests:
            model = self.models.get(request.model)
            hit = request.cache_key(model) in cached
            in_tokens, out_tokens = _estimated_tokens(request, model)
            rows.append(
                {
                    "model": model.key,
                    "provider": model.provider,
                    "calls": 0 if hit else 1,
                    "cached": int(hit),
                    "input_tokens": 0 if hit else in_tokens,
                    "output_tokens": 0 if hit else out_tokens,
                    "cost_usd": 0.0 if hit else model.cost(in_tokens, out_tokens, batch=model.mode == "batch"),
                    "mode": model.mode,
                }
            )
        if not rows:
            return pl.DataFrame(schema={"model": pl.String, "calls": pl.Int64, "cost_usd": pl.Float64})
        return (
            pl.DataFrame(rows)
            .group_by("model", "provider", "mode")
            .agg(pl.col("calls", "cached", "input_tokens", "output_tokens", "cost_usd").sum())
            .with_columns(pl.col("cost_usd").round(4))
            .sort("model")
        )

    # --- run -------------------------------------------------------------------------------------

    def run(self, requests: Sequence[ChatRequest], persist: Persist | None = None) -> RunSummary:
        """Make every request; each result is stored (and ``persist`` called in the same
        transaction) as soon as it is final. Returns the totals."""
        writer = None
        if self.target is not None:
            # Record today's prices before the first call: each call is costed with the price in force.
            pricing_ids = sync_prices(self.target, [self.models.get(key) for key in {r.model for r in requests}])
            writer = ResultWriter(self.target, persist, self.run_id, pricing_ids=pricing_ids)
        # Each call allocates many short-lived objects (SDK, HTTP); collecting the young
        # generation less often cut per-call latency under load by about 10% (measured).
        thresholds = gc.get_threshold()
        gc.set_threshold(max(thresholds[0], 50_000), *thresholds[1:])
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                summary = runner.run(self._run(list(requests), writer))
        finally:
            gc.set_threshold(*thresholds)
            if writer is not None:
                writer.close()
        summary.storage_s = writer.write_seconds if writer is not None else 0.0
        if summary.budget_stop:
            raise BudgetExceeded(
                f"{summary.budget_stop}: {summary.calls:,} of {len(requests):,} results stored, "
                f"${summary.cost_usd:.4f} spent in this run; the rest were not asked. Raise the cap and run "
                f"again: the stored results are kept and only what is missing is asked for"
            )
        if summary.batches_waiting:
            raise BatchesPending(
                f"{summary.batches_waiting} after waiting batch_wait_seconds; {summary.calls:,} of "
                f"{len(requests):,} results stored. Run again later to collect them: nothing is submitted twice"
            )
        if summary.interrupted_by:
            raise RunInterrupted(
                f"stopped by {summary.interrupted_by}: {summary.calls:,} of {len(requests):,} "
                f"results stored; calls in flight were dropped and are asked again by the next run"
            )
        return summary

    def _uses_cache(self, model: ModelConfig) -> bool:
        return self.target is not None and (model.cache if self.cache is None else self.cache)

    def _cached(self, requests: Sequence[ChatRequest]) -> dict[str, dict]:
        keys = [r.cache_key(m) for r in requests if self._uses_cache(m := self.models.get(r.model))]
        return lookup_cached(self.target, keys) if keys else {}

    async def _run(self, requests, writer) -> RunSummary:
        started = time.perf_counter()
        summary = RunSummary()
        # Unknown model keys and providers fail here, before any call.
        models = {r.model: self.models.get(r.model) for r in requests}
        providers = {key: self.providers.for_model(model) for key, model in models.items()}
        # Rate limits are kept per account (provider, endpoint, provider model id): model keys on one
        # account share one limiter, at the strictest of their limits (even pacing if any asks for it).
        accounts: dict[tuple, tuple[int | None, int | None]] = {}
        slots: dict[tuple, int | None] = {}  # the account's shared concurrency (shared limiter only)
        even: dict[tuple, bool] = {}
        for key, model in models.items():
            account = providers[key].account(model)
            rpm, tpm = accounts.get(account, (None, None))
            accounts[account] = (_strictest(rpm, model.rpm), _strictest(tpm, model.tpm))
            slots[account] = _strictest(slots.get(account), model.account_max_concurrency)
            even[account] = even.get(account, False) or model.pacing == "even"
        limiters: dict[int, Any] = {}

        def finish(result: CallResult) -> None:
            summary.add(result)
            if writer is not None:
                writer.put(result)

        cached = self._cached(requests)
        queues: dict[str, asyncio.Queue] = {}
        batched: dict[str, list[tuple[ChatRequest, str]]] = {}
        online_estimate = 0.0
        for request in requests:
            model = models[request.model]
            key = request.cache_key(model)
            if key in cached:
                finish(self._from_cache(request, model, key, cached[key]))
            elif model.mode == "batch":
                batched.setdefault(model.key, []).append((request, key))
            else:
                queues.setdefault(model.key, asyncio.Queue()).put_nowait((request, key))
                online_estimate += model.cost(*_estimated_tokens(request, model))
        # Batch-mode models first: what their batches do not answer is asked online below.
        for key, items in batched.items():
            outcome = await self._run_batches(models[key], providers[key], items, finish)
            for item in outcome.retry_online:
                queues.setdefault(key, asyncio.Queue()).put_nowait(item)
            if outcome.waiting:
                summary.batches_waiting = f"{key}: batches {', '.join(outcome.waiting)} still running"
            if outcome.refusal:
                summary.budget_stop = outcome.refusal
        total = len(requests)
        self.log.info(
            f"{total:,} requests: {summary.cached:,} from cache, {total - summary.cached:,} to call "
            f"({', '.join(f'{k}: {q.qsize():,}' for k, q in queues.items()) or 'none'}); "
            f"estimated cost of the online calls ${online_estimate:.4f}"
        )

        stop = asyncio.Event()
        settled = asyncio.Condition()  # a call's cost is settled against the spend caps
        fatal: list[BaseException] = []
        workers = []
        for key, work in queues.items():
            model, provider = models[key], providers[key]
            account = provider.account(model)
            rpm, tpm = accounts[account]
            history = (
                (lambda a=account: recent_calls(self.target, a[0], a[-1], self.rate_window_s)) if self.target else None
            )
            limiter = shared_limiter(
                account,
                rpm,
                tpm,
                self.rate_window_s,
                history,
                redis_url=self.redis_url,
                concurrency=slots[account],
                even=even[account],
                # longer than any attempt lives (the provider's timeout, then the engine's safety net)
                lease_seconds=model.timeout_seconds + 6,
            )
            limiters[id(limiter)] = limiter
            for _ in range(min(model.max_concurrency, work.qsize())):
                workers.append(
                    asyncio.create_task(
                        self._worker(work, model, provider, limiter, finish, stop, fatal, summary, settled)
                    )
                )
        progress = asyncio.create_task(self._progress(summary, total, started))
        interrupted: list[str] = []
        try:
            with _stop_on_signals(lambda name: (interrupted.append(name), [w.cancel() for w in workers])):
                outcomes = await asyncio.gather(*workers, return_exceptions=True)
            errors = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, asyncio.CancelledError)]
            if errors:
                raise errors[0]
        finally:
            progress.cancel()
            for provider in {id(p): p for p in providers.values()}.values():
                await provider.aclose()
            for limiter in limiters.values():
                await limiter.aclose()
        summary.wall_s = time.perf_counter() - started
        self._log_progress(summary, total, started, final=True)
        if interrupted:
            summary.interrupted_by = interrupted[0]
            return summary  # raised by run(), outside the event loop, once everything is stored
        if fatal:
            raise fatal[0]
        return summary

    async def _run_batches(self, model: ModelConfig, provider, items, finish) -> BatchOutcome:
        estimate = sum(model.cost(*_estimated_tokens(request, model), batch=True) for request, _ in items)
        self.log.info(f"{model.key}: estimated cost of {len(items):,} requests at the batch price ${estimate:.4f}")
        if self.target is None:
            raise UserActionRequired(f"model {model.key!r} is in batch mode, which needs the research database")
        if not hasattr(provider, "submit_batch"):
            raise UserActionRequired(
                f"the {model.provider} provider has no batch API: set mode: online for model {model.key!r}"
            )
        self.log.info(f"{model.key}: {len(items):,} requests through the batch API")
        gate = _BatchGate(self.budget, self._model_budget(model))
        outcome = await run_batches(
            self.target,
            model,
            provider,
            items,
            finish,
            self.log,
            self.run_id,
            gate,
            lambda request: _worst_case(request, model, batch=True),
        )
        if outcome.over_budget:
            outcome.refusal = (
                f"{gate.refusing.refusal()}: {outcome.over_budget:,} requests of model {model.key!r} not submitted "
                f"in a batch (worst case at the batch price)"
            )
        if outcome.retry_online:
            self.log.info(
                f"{model.key}: {len(outcome.retry_online):,} requests the batches did not answer, asked online"
            )
        return outcome

    def _model_budget(self, model: ModelConfig) -> Budget:
        return self.model_budgets.setdefault(
            model.key, Budget(model.max_cost_usd, f"model {model.key!r}'s max_cost_usd (models.yaml)")
        )

    async def _worker(self, work, model, provider, limiter, finish, stop, fatal, summary, settled) -> None:
        model_budget = self._model_budget(model)
        while not stop.is_set():
            try:
                request, key = work.get_nowait()
            except asyncio.QueueEmpty:
                return
            # Start a call only if what is spent, the worst cases of the calls in flight and this
            # call's worst case (its prompt, with a margin, and max_tokens of reply) fit under both
            # caps, so a cap is not passed while providers honour max_tokens. Near a cap a call
            # waits for those in flight (which mostly cost far less than their worst case): the
            # calls in flight thin out, and the run stops only when none is left and it still does
            # not fit.
            estimate = _worst_case(request, model)
            budgets = (self.budget, model_budget)
            async with settled:
                while (refused := next((b for b in budgets if not b.fits(estimate)), None)) is not None:
                    if stop.is_set():
                        return
                    if refused.in_flight == 0:
                        summary.budget_stop = refused.refusal()
                        stop.set()
                        settled.notify_all()
                        return
                    await settled.wait()
                for budget in budgets:
                    budget.reserve(estimate)
            result = None
            try:
                result = await self._call(request, key, model, provider, limiter)
                finish(result)
            except UserActionRequired as exc:
                fatal.append(exc)
                stop.set()  # nothing else can succeed until the user acts
            except Exception as exc:
                finish(
                    CallResult(
                        request=request,
                        model=model,
                        cache_key=key,
                        status="failed",
                        error=f"unexpected: {type(exc).__name__}: {exc}"[:500],
                    )
                )
            finally:
                spent = result.cost_usd if result is not None else 0.0
                async with settled:
                    for budget in budgets:
                        budget.settle(estimate, spent)
                    settled.notify_all()

    async def _call(self, request: ChatRequest, key: str, model: ModelConfig, provider, limiter) -> CallResult:
        result = CallResult(request=request, model=model, cache_key=key, status="failed")
        messages = request.messages
        started = time.perf_counter()

        async def attempt() -> tuple[ProviderReply, Any]:
            nonlocal messages
            result.attempts += 1
            this_request = request if messages is request.messages else _with_messages(request, messages)
            reserved = this_request.estimated_input_tokens() + get_purpose(request.purpose).typical_output_tokens
            await limiter.adaptive.wait()  # the provider said its window is spent, or sent a 429
            reservation = await limiter.acquire(reserved)
            used = None
            try:
                # A safety net over the provider's own timeout (asyncio.timeout adds no task, unlike wait_for).
                async with asyncio.timeout(model.timeout_seconds + 5):
                    reply = await provider.call(this_request, model)
                used = reply.input_tokens + reply.output_tokens
            except TimeoutError:
                raise TransientError(f"timeout after {model.timeout_seconds}s") from None
            except TransientError as exc:
                if exc.rate_limited:
                    limiter.adaptive.on_throttled(exc.retry_after, exc.rate_limit, reserved)
                raise
            finally:
                await limiter.release(reservation, used)
            limiter.adaptive.on_answer(reply.rate_limit, model.max_concurrency, reserved)
            result.input_tokens += reply.input_tokens
            result.output_tokens += reply.output_tokens
            result.raw_request, result.raw_response, result.text = reply.raw_request, reply.raw_response, reply.text
            result.simulated = reply.simulated
            if request.response_model is None:
                return reply, None
            try:
                parsed = request.response_model.model_validate_json(strip_fences(reply.text))
                if result.json_valid_first is None:
                    result.json_valid_first = True
                return reply, parsed
            except ValidationError as exc:
                if result.json_valid_first is None:
                    result.json_valid_first = False
                problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in exc.errors()[:5])
                if self.feedback_on_invalid:
                    messages = (
                        *request.messages,
                        ("assistant", reply.text),
                        (
                            "user",
                            f"That reply was not valid: {problem}. Reply again with only the JSON "
                            f"object, matching this schema: {request.json_schema()}",
                        ),
                    )
                raise InvalidOutput(problem) from None

        retrying = AsyncRetrying(
            stop=stop_after_attempt(model.max_attempts),
            wait=_wait_honouring_retry_after,
            retry=retry_if_exception_type((TransientError, InvalidOutput)),
            reraise=True,
        )
        try:
            _, parsed = await retrying(attempt)
            result.status, result.parsed = "ok", parsed
        except InvalidOutput as exc:
            result.status, result.error = "invalid", f"invalid output after {result.attempts} attempts: {exc}"
        except TransientError as exc:
            if exc.unreachable:
                raise UserActionRequired(
                    f"{model.provider} endpoint unreachable for model {model.key!r}: {exc}. "
                    f"Check base_url / endpoint_url and that the server runs."
                ) from None
            result.error = f"gave up after {result.attempts} attempts: {exc}"
        except PermanentError as exc:
            result.error = f"not retried: {exc}"
        result.latency_s = time.perf_counter() - started
        # When the last attempt came back: llm_calls.created, which recent_calls counts from.
        result.finished_at = datetime.now(UTC)
        result.cost_usd = model.cost(result.input_tokens, result.output_tokens)
        return result

    def _from_cache(self, request, model, key, row) -> CallResult:
        parsed = None
        if request.response_model is not None:
            parsed = request.response_model.model_validate_json(strip_fences(row["response_text"]))
        return CallResult(
            request=request,
            model=model,
            cache_key=key,
            status="ok",
            text=row["response_text"],
            parsed=parsed,
            cached=True,
            simulated=row["simulated"],
            raw_response=row["response_json"],
            error=None,
        )

    async def _progress(self, summary: RunSummary, total: int, started: float) -> None:
        while True:
            await asyncio.sleep(self.progress_every_s)
            self._log_progress(summary, total, started)

    def _log_progress(self, summary: RunSummary, total: int, started: float, final: bool = False) -> None:
        elapsed = max(time.perf_counter() - started, 1e-9)
        called = summary.calls - summary.cached
        rate = called / elapsed
        remaining = total - summary.calls
        eta = f"{remaining / rate:,.0f}s" if rate > 0 and remaining else "-"
        self.log.info(
            f"{'done: ' if final else ''}{summary.calls:,}/{total:,} ({100 * summary.calls / max(total, 1):.0f}%), "
            f"{rate:,.1f} calls/s, ETA {eta}, failed {summary.failed + summary.invalid:,}, "
            f"tokens {summary.input_tokens:,} in / {summary.output_tokens:,} out, ${summary.cost_usd:,.4f}"
        )


def _strictest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


class RunInterrupted(KeyboardInterrupt):
    """SIGTERM or SIGINT arrived during a batch: what was answered is stored, the rest is not asked.
    A KeyboardInterrupt, so callers stop as on Ctrl-C (Dagster fails the run without retrying)."""


class BudgetExceeded(RunInterrupted):
    """The next call would have passed a spend cap: what was answered is stored, the rest is not
    asked (callers handle it as an interruption: the step fails at once, saying how to go on)."""


class BatchesPending(RunInterrupted):
    """Batches submitted to a provider were still running when the step stopped waiting: they are
    recorded, and the next run of the same requests collects them."""


class Budget:
    """A spend cap: spent + reserved (worst cases of calls in flight) never passes ``cap_usd``."""

    def __init__(self, cap_usd: float | None, name: str):
        self.cap_usd, self.name = cap_usd, name
        self.spent_usd = self.reserved_usd = 0.0
        self.in_flight = 0  # calls (or batches) holding a reservation

    def fits(self, estimate: float) -> bool:
        return self.cap_usd is None or self.spent_usd + self.reserved_usd + estimate <= self.cap_usd

    def reserve(self, estimate: float) -> None:
        self.reserved_usd += estimate
        self.in_flight += 1

    def settle(self, estimate: float, cost: float) -> None:
        self.reserved_usd -= estimate
        self.spent_usd += cost
        self.in_flight -= 1

    def refusal(self) -> str:
        return f"stopped before passing {self.name} of ${self.cap_usd:.4f} (${self.spent_usd:.4f} spent)"


class _BatchGate:
    """Both caps (the engine's and the model's) for a batch: admitted only if it fits both."""

    def __init__(self, *budgets: Budget):
        self.budgets = budgets
        self.refusing: Budget | None = None

    def admit(self, worst_case_usd: float) -> bool:
        self.refusing = next((b for b in self.budgets if not b.fits(worst_case_usd)), None)
        if self.refusing is not None:
            return False
        for budget in self.budgets:
            budget.reserve(worst_case_usd)
        return True

    def settle(self, worst_case_usd: float, cost_usd: float) -> None:
        for budget in self.budgets:
            budget.settle(worst_case_usd, cost_usd)


def _worst_case(request: ChatRequest, model: ModelConfig, batch: bool = False) -> float:
    """A call's most likely cost ceiling: its prompt with a margin, and max_tokens of reply."""
    return model.cost(request.estimated_input_tokens() * 5 // 4, request.parameters(model)["max_tokens"], batch)


def _estimated_tokens(request: ChatRequest, model: ModelConfig) -> tuple[int, int]:
    """Input tokens from the prompt's length; output: the purpose's typical reply, at most max_tokens."""
    out_tokens = min(request.parameters(model)["max_tokens"], get_purpose(request.purpose).typical_output_tokens)
    return request.estimated_input_tokens(), out_tokens


@contextmanager
def _stop_on_signals(on_signal: Callable[[str], None]):
    """While a batch runs, SIGTERM/SIGINT stop it at once (Dagster's CLI only notes a signal and
    acts between steps, so a step waiting on a slow model would otherwise ignore it). Outside the
    main thread signals cannot be handled here and nothing changes. The previous handlers
    (Dagster's) are put back afterwards."""
    loop = asyncio.get_running_loop()
    installed = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        try:
            loop.add_signal_handler(sig, on_signal, sig.name)
        except (RuntimeError, ValueError, NotImplementedError):
            continue
        installed[sig] = previous
    try:
        yield
    finally:
        for sig, previous in installed.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)


def _loop_factory():
    """uvloop when installed: the engine is CPU-bound in the event loop at hundreds of calls/s."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return None
    return uvloop.new_event_loop


MAX_WAIT_S = 120.0
_backoff = wait_exponential_jitter(multiplier=0.5, max=30, jitter=0.5)


def _wait_honouring_retry_after(retry_state) -> float:
    """The server's Retry-After when it gave one (plus up to 10% jitter), else exponential backoff."""
    exc = retry_state.outcome.exception()
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        # A Retry-After of hours means a quota, not a busy server: wait at most MAX_WAIT_S, and
        # the attempts run out with the reason recorded.
        return min(retry_after, MAX_WAIT_S) * (1 + random.random() * 0.1)
    if isinstance(exc, InvalidOutput):
        return 0.0  # a new answer, not a busy server: no need to wait
    return _backoff(retry_state)


def _with_messages(request: ChatRequest, messages) -> ChatRequest:
    from dataclasses import replace

    return replace(request, messages=messages)
