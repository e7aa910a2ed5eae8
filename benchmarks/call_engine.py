"""Benchmark: the call engine against the local OpenAI-compatible server (real HTTP, real SDK).

    .venv/bin/python benchmarks/call_engine.py            # about 2.5 minutes
    .venv/bin/python benchmarks/call_engine.py --faults   # rows 3 only, about 2.5 minutes

1. 5,000 requests, concurrency C = 32, fixed 50 ms server latency, no faults: throughput as a
   fraction of the ideal C / latency (640 requests/s) and client CPU per request; and the same
   server driven by a minimal aiohttp client, as the ceiling this server and machine allow.
2. The original design as baseline: a thread pool of 3 workers, the SDK's own 3 retries, no limiter
   (1,000 requests).
3. 10% injected 429/500 faults with rpm = 3,000: every request succeeds, none is stored twice,
   and no 60-second window on the server's clock sees more than 3,000 requests; and the same
   without faults, for the time the rpm alone takes.
The server runs in its own process; results are stored in a temporary SQLite research database
through the engine's own writer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from personality_assets.db import migrate
from personality_assets.db.engine import DatabaseTarget, experiment_transaction
from personality_assets.db.tables.usage import LLMCall
from personality_assets.llm.config import ModelConfig, ModelsConfig
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.providers import Providers
from personality_assets.llm.providers.openai import OpenAIProvider
from personality_assets.llm.providers.simulated import SimulatedProvider
from personality_assets.llm.types import ChatRequest

LATENCY, CONCURRENCY = 0.05, 32


class Server:
    def __init__(self, fault_rate=0.0):
        self.log = tempfile.mktemp(suffix=".json")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "benchmarks/serve_fake_openai.py"),
                "--latency",
                str(LATENCY),
                "--fault-rate",
                str(fault_rate),
                "--log",
                self.log,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.base_url = self.process.stdout.readline().strip()

    def stop(self) -> list[dict]:
        self.process.stdin.close()
        self.process.wait(30)
        return json.loads(Path(self.log).read_text())["requests"]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def engine_for(base_url: str, target: DatabaseTarget, **model) -> CallEngine:
    config = ModelConfig(
        key="bench",
        provider="openai",
        model_id="bench-model",
        max_concurrency=CONCURRENCY,
        max_attempts=8,
        price_input_per_million=2.5,
        price_output_per_million=10,
        **model,
    )
    providers = Providers(openai=OpenAIProvider(api_key="bench-key", base_url=base_url), simulated=SimulatedProvider())
    return CallEngine(
        ModelsConfig(default_model="bench", models={"bench": config}), providers, target=target, progress_every_s=15
    )


def requests(n: int, offset: int = 0) -> list[ChatRequest]:
    return [
        ChatRequest(model="bench", messages=(("user", f"Answer question {offset + i}"),), tag=offset + i)
        for i in range(n)
    ]


async def raw_client(base_url: str, n: int) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:

        async def worker(count: int) -> None:
            for i in range(count):
                body = {"model": "bench-model", "messages": [{"role": "user", "content": f"Answer question {i}"}]}
                async with session.post(f"{base_url}/chat/completions", json=body) as response:
                    await response.read()

        await asyncio.gather(*(worker(n // CONCURRENCY) for _ in range(CONCURRENCY)))


async def sdk_only(base_url: str, n: int) -> None:
    import openai

    clients = [openai.AsyncOpenAI(api_key="bench-key", base_url=base_url, max_retries=0) for _ in range(16)]

    async def worker(index: int, count: int) -> None:
        client = clients[index % len(clients)]
        for i in range(count):
            body = {"model": "bench-model", "messages": [{"role": "user", "content": f"Answer question {i}"}]}
            await client.post("/chat/completions", body=body, cast_to=object)

    await asyncio.gather(*(worker(i, n // CONCURRENCY) for i in range(CONCURRENCY)))
    for client in clients:
        await client.close()


def run_loop(coroutine) -> None:
    """On the same event loop as the engine (uvloop when installed)."""
    from personality_assets.llm.engine import _loop_factory

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(coroutine)


def measure(lines: list[str], label: str, n: int, drive, outcome: str) -> None:
    """Start a fresh server, run ``drive(base_url)``, and add a table row for it."""
    server = Server()
    cpu, start = cpu_seconds(), time.perf_counter()
    result = drive(server.base_url)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    server.stop()
    ideal = CONCURRENCY / LATENCY
    lines.append(
        f"| {label} | {n:,} | {wall:.1f} s | {n / wall:,.0f} | {n / wall / ideal:.2f} "
        f"| {1000 * cpu / n:.2f} ms | {outcome.format(result=result)} |"
    )


def original_design(base_url: str, m: int) -> None:
    """The research scripts' runner: a pool of 3 threads, the SDK's own 3 retries, no limiter."""
    import openai

    client = openai.OpenAI(api_key="bench-key", base_url=base_url, max_retries=3)
    with ThreadPoolExecutor(3) as pool:
        list(
            pool.map(
                lambda i: client.chat.completions.create(
                    model="bench-model", messages=[{"role": "user", "content": f"Answer question {i}"}]
                ),
                range(m),
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faults", action="store_true", help="only the row with faults and an rpm limit")
    args = parser.parse_args()
    lines: list[str] = []
    n, m = 5000, 1000
    if not args.faults:
        benchmark_throughput(lines, n, m)
    benchmark_faults(lines, n)
    print("| run | requests | wall | requests/s | of ideal 640/s | client CPU/request | outcome |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(lines))


def benchmark_throughput(lines: list[str], n: int, m: int) -> None:
    target = DatabaseTarget(f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite")
    migrate.upgrade(target)
    measure(
        lines, "engine, C=32, no faults", n, lambda url: engine_for(url, target).run(requests(n)), "{result.ok:,} ok"
    )
    # What the server and loopback allow, and what the SDK alone does, as the engine posts.
    measure(
        lines,
        "ceiling: minimal aiohttp client, C=32",
        n,
        lambda url: run_loop(raw_client(url, n)),
        "no SDK, no storage",
    )
    measure(
        lines, "ceiling: the openai SDK alone, C=32", n, lambda url: run_loop(sdk_only(url, n)), "no engine, no storage"
    )
    measure(lines, "original: 3 threads, no limiter", m, lambda url: original_design(url, m), "all ok")


def benchmark_faults(lines: list[str], n: int) -> None:
    # 3. 10% faults, rpm 3,000; first without faults, for the time the rpm alone takes.
    for fault_rate in (0.0, 0.10):
        rpm_row(lines, n, 3000, fault_rate)


def rpm_row(lines: list[str], n: int, rpm: int, fault_rate: float) -> None:
    # Into a fresh database so the stored rows are this run's only.
    target = DatabaseTarget(f"sqlite:///{tempfile.mkdtemp()}/faults.sqlite")
    migrate.upgrade(target)
    server = Server(fault_rate=fault_rate)
    start = time.perf_counter()
    summary = engine_for(server.base_url, target, rpm=rpm).run(requests(n, offset=10**6))
    wall = time.perf_counter() - start
    log = server.stop()
    times = sorted(r["time"] for r in log)
    worst, j = 0, 0
    for i, t in enumerate(times):  # most requests in any 60 s window, server side
        while times[j] <= t - 60:
            j += 1
        worst = max(worst, i - j + 1)
    faults = sum(1 for r in log if r["fault"])
    # Every attempt counts against the rpm: the (k * rpm + 1)th cannot go before k windows have passed.
    bound = (len(log) - 1) // rpm * 60
    with experiment_transaction(target) as connection:
        tags = connection.execute(select(LLMCall.tag)).scalars().all()
    label = f"{fault_rate:.0%} 429/500" if fault_rate else "no faults"
    lines.append(
        f"| engine, {label}, rpm {rpm:,} | {n:,} | {wall:.1f} s | {n / wall:,.0f} | - | - | "
        f"{summary.ok:,} ok, {faults:,} faults retried, {len(tags):,} stored ({len(set(tags)):,} distinct), "
        f"max {worst:,} requests in any 60 s; the rpm alone imposes at least {bound:.0f} s |"
    )


if __name__ == "__main__":
    main()
