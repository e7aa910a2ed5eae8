"""Benchmark: consolidating the value-alignment track's judge labels, and the published system's example queries on them.

    .venv/bin/python benchmarks/values_consolidation.py                 # 1,000 batches x 1,000 entries
    .venv/bin/python benchmarks/values_consolidation.py --batches 100   # quicker

Writes N batch files of labelled entries in the published judge-label schema (+ rationales_json) and a registry,
then times the consolidation the judge_labels asset runs (ParquetStore.update_lazy over a scan of
every batch file, streamed) with the process's peak memory before and after, and each of the
seed's example queries on the consolidated file.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from personality_assets.defs.values.contract import LABEL_FILE_SCHEMA, REGISTRY_SCHEMA, VALUE_COLUMNS, VALUE_NAMES
from personality_assets.store.parquet import ParquetStore


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batch_labels(batch: int, entries: int, rng: np.random.Generator) -> pl.DataFrame:
    personas = entries // 6
    labels = rng.choice([-1, 0, 1], size=(entries, 10), p=[0.07, 0.76, 0.17])
    frame = pl.DataFrame(
        {
            "persona_id": [f"{batch:04x}{i % personas:04x}" for i in range(entries)],
            "t_index": [i // personas for i in range(entries)],
            "date": "2025-03-01",
            **{column: labels[:, k] for k, column in enumerate(VALUE_COLUMNS)},
            "rationales_json": json.dumps({"benevolence": "helped a colleague"}),
        }
    )
    return (
        frame.with_columns(pl.concat_list(VALUE_COLUMNS).alias("alignment_vector"))
        .select(list(LABEL_FILE_SCHEMA))
        .cast(LABEL_FILE_SCHEMA)
    )


def _child(root: str, consolidate: bool) -> dict:
    command = [sys.executable, __file__, "--consolidate-root", root] + ([] if consolidate else ["--imports-only"])
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1])


def consolidate(root: str, imports_only: bool) -> None:
    store = ParquetStore(root)
    start = time.perf_counter()
    if not imports_only:
        store.update_lazy("judge_labels/judge_labels.parquet", lambda _: store.scan("batches/*/judge_labels.parquet"))
    # VmHWM: this process image's own peak (ru_maxrss would carry the forking parent's over exec).
    high_water = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    print(json.dumps({"wall_s": time.perf_counter() - start, "peak_mb": int(high_water.split()[1]) / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--consolidate-root", help=argparse.SUPPRESS)
    parser.add_argument("--imports-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=1000, help="labelled entries per batch")
    args = parser.parse_args()
    if args.consolidate_root:
        consolidate(args.consolidate_root, args.imports_only)
        return
    store = ParquetStore(tempfile.mkdtemp())
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    names = list(VALUE_NAMES.values())
    for batch in range(args.batches):
        store.write(f"batches/b{batch:04d}/judge_labels.parquet", batch_labels(batch, args.entries, rng))
    personas = args.batches * (args.entries // 6)
    registry = pl.DataFrame(
        {
            "persona_id": [f"{b:04x}{i:04x}" for b in range(args.batches) for i in range(args.entries // 6)],
            "name": "A Person",
            "age": "25-34",
            "profession": "Teacher",
            "culture": "East Asian",
            "core_values": [[names[i % 10]] for i in range(personas)],
            "entry_count": 6,
            "created_at": datetime.now(UTC),
            "stage_synthetic": True,
            "stage_wrangled": True,
            "stage_labeled": True,
            "nudge_enabled": True,
        }
    ).cast(REGISTRY_SCHEMA)
    store.write("registry/personas.parquet", registry)
    written = time.perf_counter() - start
    on_disk = sum(p.stat().st_size for p in Path(store.root).rglob("*.parquet"))
    print(
        f"{args.batches:,} batch files, {args.batches * args.entries:,} entries written in {written:.1f} s "
        f"({on_disk / 1e6:.0f} MB on disk); peak memory so far {peak_mb():,.0f} MB"
    )

    # Consolidate in a fresh process, and import the same modules in another: the difference of
    # their peaks is what consolidation itself needs.
    baseline = _child(store.root, consolidate=False)
    child = _child(store.root, consolidate=True)
    labels_path = store.uri("judge_labels/judge_labels.parquet")
    in_memory = pl.read_parquet(labels_path).estimated_size() / 1e6
    print("\n| step | wall | peak memory |\n|---|---|---|")
    print(
        f"| consolidation ({args.batches * args.entries:,} entries; {in_memory:,.0f} MB once read into memory) "
        f"| {child['wall_s']:.2f} s | {child['peak_mb']:,.0f} MB, of which {child['peak_mb'] - baseline['peak_mb']:,.0f} MB "
        f"above the imports' {baseline['peak_mb']:,.0f} MB |"
    )

    # The published system's example queries, on the consolidated file.
    registry = pl.read_parquet(store.uri("registry/personas.parquet"))
    labels = pl.read_parquet(labels_path)
    value_cols = [c for c in labels.columns if c.startswith("alignment_") and "vector" not in c]

    def join_with_registry():
        return labels.join(
            registry.select(["persona_id", "name", "age", "culture", "profession", "core_values"]),
            on="persona_id",
            how="left",
        )

    def distribution():
        return [labels.group_by(col).len().sort(col) for col in value_cols]

    def high_signal():
        with_signal = labels.with_columns(
            pl.sum_horizontal([(pl.col(c) != 0).cast(pl.Int64) for c in value_cols]).alias("signal_count")
        )
        return with_signal.filter(pl.col("signal_count") >= 3)

    def persona_means():
        return labels.group_by("persona_id").agg([pl.col(c).mean().alias(f"{c}_mean") for c in value_cols])

    def load():
        return pl.read_parquet(labels_path), pl.read_parquet(store.uri("registry/personas.parquet"))

    for name, query in [
        ("load both files", load),
        ("join labels with the registry", join_with_registry),
        ("label distribution per value", distribution),
        ("entries with 3+ signals", high_signal),
        ("mean alignment per persona", persona_means),
    ]:
        start = time.perf_counter()
        query()
        print(f"| query: {name} | {time.perf_counter() - start:.3f} s | |")


if __name__ == "__main__":
    main()
