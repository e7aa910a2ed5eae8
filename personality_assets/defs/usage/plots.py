"""Usage figures: latency per model for a day, and cost per day per model."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from personality_assets.defs.figures import has_data, plt, save_figure


def latency_distribution(calls: pl.DataFrame, path: Path) -> Path | None:
    """Box plots of call latency (seconds) per model; none without a call."""
    if not has_data(calls["latency_ms"]):
        return save_figure(None, path)
    models = sorted(calls["model"].unique())
    figure, axis = plt.subplots(figsize=(7, 3.4))
    axis.boxplot(
        [calls.filter(pl.col("model") == m)["latency_ms"].to_numpy() / 1000 for m in models], tick_labels=models
    )
    axis.set_xlabel("model")
    axis.set_ylabel("latency (s)")
    axis.set_yscale("log")
    axis.set_title("call latency per model")
    return save_figure(figure, path)


def cost_per_day(daily: pl.DataFrame, path: Path) -> Path | None:
    """Stacked bars of cost (USD) per day, one colour per model (``daily``: day, model, cost_usd);
    none when every cost is zero (simulated calls cost nothing: an empty chart says nothing)."""
    if not has_data(daily["cost_usd"], zero_is_empty=True):
        return save_figure(None, path)
    wide = daily.pivot(on="model", index="day", values="cost_usd", aggregate_function="sum").sort("day").fill_null(0)
    days = [str(d) for d in wide["day"]]
    figure, axis = plt.subplots(figsize=(8, 3.6))
    bottom = [0.0] * len(days)
    for model in [c for c in wide.columns if c != "day"]:
        values = wide[model].to_list()
        axis.bar(days, values, bottom=bottom, label=model)
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    axis.set_ylabel("cost (USD)")
    axis.set_ylim(bottom=0, top=max(bottom) * 1.1)
    axis.set_xlabel("day (UTC)")
    axis.set_title("cost per day per model")
    axis.tick_params(axis="x", labelrotation=45, labelsize=8)
    axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return save_figure(figure, path)
