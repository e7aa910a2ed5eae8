"""The report tables as a paper prints them: readable column and scale names, APA p values, CIs in one
cell, the original study's Table 4 and Table 6 layouts (model × condition by scale), numbered
captions, and each table exported as CSV and LaTeX (pandas' ``Styler.to_latex``, booktabs rules).

Presentation only: the report files (parquet, CSV) keep their own columns; these functions make a
copy of strings to show. Framework-free, so the tests need no Dagster.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import polars as pl

from personality_assets.questionnaires import QuestionnaireError, get_questionnaire

HUMAN_REFERENCE = "Human reference"
MARKER_LEGEND = "* p < .05, ** p < .01, *** p < .001 after Holm's correction; ns not significant; n/a no test."
GRID_LEGEND = "* p < .05, ** p < .01, *** p < .001 (Welch's t against the human reference, Holm-corrected)."
CI_SUFFIXES = ("ci_low", "ci_high")

# Every column name a reader sees, in one place; a column not listed reads as its name with spaces.
COLUMN_NAMES = {
    "questionnaire": "Questionnaire",
    "scale": "Scale",
    "model": "Model",
    "condition": "Condition",
    "n": "n",
    "mean": "M",
    "sd": "SD",
    "median": "Mdn",
    "reference_n": "n (human)",
    "reference_mean": "M (human)",
    "reference_sd": "SD (human)",
    "difference": "Difference",
    "mean_abs_difference": "Mean |difference| per persona",
    "welch_t": "t",
    "df": "df",
    "p": "p",
    "p_holm": "p (Holm)",
    "significant": "Sig. (Holm)",
    "cohens_d": "d",
    "equivalence_bound_sd": "Equivalence bound (SD)",
    "equivalence_bound": "Equivalence bound",
    "p_tost": "p (TOST)",
    "p_tost_holm": "p (TOST, Holm)",
    "equivalence": "Equivalence",
    "sd_ratio": "SD ratio",
    "p_spread": "p (spread)",
    "p_spread_holm": "p (spread, Holm)",
    "items": "Items",
    "n_missing": "n missing",
    "alpha": "α",
    "standardized_alpha": "Standardised α",
    "resamples": "Resamples",
    "note": "Note",
    "omega": "ω",
    "omega_total": "ω total",
    "omega_resamples": "ω resamples",
    "omega_note": "ω note",
    "lambda6": "λ6",
    "excluded_at_load": "Excluded at load",
    "excluded_reasons": "Exclusion reasons",
    "trait": "Trait",
    "a": "Scale A",
    "b": "Scale B",
    "expected": "Expected sign",
    "pearson_r": "r",
    "pearson_p": "p (r)",
    "spearman_rho": "ρ",
    "spearman_p": "p (ρ)",
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "mae": "MAE",
    "rmse": "RMSE",
    "question_number": "Item no.",
    "item": "Item",
    "wasserstein": "Wasserstein distance",
    "range": "Range",
    "similarity": "Similarity",
    "attribute": "Attribute",
    "category": "Category",
    "base_condition": "Base condition",
    "count": "Count",
    "share": "Share",
    "base_share": "Share (base)",
    "z": "z",
    "chi2": "χ²",
    "total_variation": "Total variation",
    "unlisted": "Unlisted",
    "index": "Index",
    "item_order": "Item order",
    "option_order": "Option order",
    "wording": "Wording",
    "pole": "Desirable pole",
    "scales": "Scales",
    "shift": "Shift (human SD)",
    "mean_r": "Mean r",
    "median_r": "Median r",
    "q1_r": "Q1 r",
    "q3_r": "Q3 r",
    "share_positive": "Share r > 0",
    "undefined": "Undefined",
    "baseline": "Baseline",
    "baseline_n": "Baseline n",
    "baseline_r": "Baseline r",
    "ceiling_n": "Ceiling n",
    "ceiling_r": "Ceiling r",
    "normalised": "Normalised r",
    "purpose": "Purpose",
    "requests": "Requests",
    "verdict": "Verdict",
    "factor": "Factor",
    "level": "Level",
    "mean_shift": "Mean shift",
}

LATEX_SYMBOLS = {
    "<": "$<$",
    ">": "$>$",
    "±": "$\\pm$",
    "α": "$\\alpha$",
    "ω": "$\\omega$",
    "λ": "$\\lambda$",
    "ρ": "$\\rho$",
    "χ": "$\\chi$",
    "²": "$^2$",
    "×": "$\\times$",
    "−": "$-$",
    "≥": "$\\geq$",
    "≤": "$\\leq$",
    "|": "$|$",
}
LATEX_SPECIALS = {
    "\\": "\\textbackslash{}",
    "&": "\\&",
    "%": "\\%",
    "$": "\\$",
    "#": "\\#",
    "_": "\\_",
    "{": "\\{",
    "}": "\\}",
    "~": "\\textasciitilde{}",
    "^": "\\textasciicircum{}",
}
NUMERIC = re.compile(r"^(n/a|[<>]?\s?-?\d*\.?\d+|-?\d*\.?\d+ ± \d*\.?\d+\**|\[-?\d*\.?\d+, -?\d*\.?\d+\]|\*{1,3}|ns)$")


@dataclass
class Table:
    """A table as the report shows it: cells as strings, a caption, and a legend under it."""

    frame: pl.DataFrame
    caption: str
    legend: str = ""
    number: int = 0


@dataclass
class Figure:
    path: Path
    caption: str
    number: int = 0


@dataclass
class Numbered:
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


def column_name(column: str) -> str:
    if column in COLUMN_NAMES:
        return COLUMN_NAMES[column]
    if column.endswith(CI_SUFFIXES[0]):
        prefix = column.removesuffix(CI_SUFFIXES[0]).rstrip("_")
        return f"{column_name(prefix)} 95% CI" if prefix else "95% CI"
    return column.replace("_", " ")


def format_p(value: float | None) -> str:
    """A p value as APA prints it: three decimals without the leading zero, ``< .001`` below that."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value < 0.001:
        return "< .001"
    if value >= 0.9995:
        return "1.000"
    return f"{value:.3f}".removeprefix("0")


def format_number(value, digits: int = 3) -> str:
    """A number rounded to ``digits`` (integers as they are), never ``-0.000``; empty as n/a."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        text = f"{value:.{digits}f}"
        return text[1:] if re.fullmatch(r"-0\.?0*", text) else text
    return str(value)


def is_p_column(column: str) -> bool:
    return column == "p" or column.startswith("p_") or column.endswith("_p")


def questionnaire_label(name: str) -> str:
    """A questionnaire's short name for a paper: the abbreviation its title ends with in brackets
    ("... (EPQR-A)" -> "EPQR-A"), the title's first word and item count for "... (50 items)"
    ("IPIP-50"), else its title; its code when not defined here."""
    try:
        title = get_questionnaire(name).title
    except (QuestionnaireError, KeyError, ValueError):
        return name
    bracket = re.search(r"\(([^()]+)\)\s*$", title)
    if bracket:
        inner = bracket.group(1).strip()
        items = re.fullmatch(r"(\d+) items?", inner)
        if items:
            return f"{title.split()[0]}-{items.group(1)}"
        if " " not in inner:
            return inner
    return title


def scale_title(questionnaire: str, scale: str) -> str:
    try:
        return get_questionnaire(questionnaire).scales.get(scale, scale)
    except (QuestionnaireError, KeyError, ValueError):
        return scale


def scale_label(questionnaire: str, scale: str) -> str:
    """ "Agreeableness (IPIP-50)": the scale's title from the questionnaire's definition and the
    questionnaire's short name."""
    return f"{scale_title(questionnaire, scale)} ({questionnaire_label(questionnaire)})"


def trait_label(code: str | None) -> str | None:
    """``bigfive.AGR`` as ``Agreeableness (IPIP-50)``; anything else unchanged."""
    if code is None or "." not in code:
        return code
    questionnaire, scale = code.split(".", 1)
    return scale_label(questionnaire, scale)


def model_label(model: str | None) -> str | None:
    return HUMAN_REFERENCE if model == "reference" else model


def _merge_cis(frame: pl.DataFrame, digits: int) -> pl.DataFrame:
    """Each ``<x>ci_low``/``<x>ci_high`` pair as one ``[low, high]`` string column where the low was."""
    for low in [c for c in frame.columns if c.endswith(CI_SUFFIXES[0])]:
        high = low.removesuffix(CI_SUFFIXES[0]) + CI_SUFFIXES[1]
        if high not in frame.columns:
            continue
        cells = [
            "n/a" if a is None or b is None else f"[{format_number(a, digits)}, {format_number(b, digits)}]"
            for a, b in zip(frame[low].to_list(), frame[high].to_list(), strict=True)
        ]
        frame = frame.with_columns(pl.Series(low, cells, dtype=pl.String)).drop(high)
    return frame


def readable(frame: pl.DataFrame, digits: int = 3) -> pl.DataFrame:
    """A report table for readers: questionnaire and scale as one "Scale" column ("Agreeableness
    (IPIP-50)"), the reference people as "Human reference", CIs merged, p values APA style, numbers
    rounded (no -0.000), columns named by ``COLUMN_NAMES``. Every cell a string."""
    if {"questionnaire", "scale"} <= set(frame.columns):
        pairs = list(zip(frame["questionnaire"], frame["scale"], strict=True))
        names = {pair: scale_label(*pair) for pair in set(pairs)}  # the definitions read once per scale
        labels = [names[pair] for pair in pairs]
        position = frame.columns.index("questionnaire")
        frame = frame.drop("questionnaire", "scale").insert_column(position, pl.Series("scale", labels))
    elif "questionnaire" in frame.columns:
        names = {name: questionnaire_label(name) for name in frame["questionnaire"].unique().drop_nulls()}
        frame = frame.with_columns(pl.col("questionnaire").replace(names))
    for column in ("a", "b"):
        if column in frame.columns and frame.schema[column] == pl.String:
            names = {code: trait_label(code) for code in frame[column].unique().drop_nulls()}
            frame = frame.with_columns(pl.col(column).replace(names))
    if "model" in frame.columns:
        frame = frame.with_columns(pl.col("model").replace({"reference": HUMAN_REFERENCE}))
    frame = _merge_cis(frame, digits)
    columns = {}
    for name in frame.columns:
        values = frame[name].to_list()
        if is_p_column(name) and frame.schema[name].is_numeric():
            columns[column_name(name)] = [format_p(v) for v in values]
        else:
            columns[column_name(name)] = [format_number(v, digits) for v in values]
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))


def _marker(p_holm: float | None) -> str:
    if p_holm is None:
        return ""
    return "***" if p_holm < 0.001 else "**" if p_holm < 0.01 else "*" if p_holm < 0.05 else ""


def _grid_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows model × condition, the human reference first within each condition."""
    order = (pl.col("model") != "reference").cast(pl.Int8)
    return frame.select("model", "condition").unique().sort("condition", order, "model")


def _grid(frame: pl.DataFrame, questionnaire: str, cell) -> pl.DataFrame:
    frame = frame.filter(pl.col("questionnaire") == questionnaire)
    scales = list(dict.fromkeys(frame["scale"]))
    try:
        defined = list(get_questionnaire(questionnaire).scales)
        scales = [s for s in defined if s in scales] + [s for s in scales if s not in defined]
    except (QuestionnaireError, KeyError, ValueError):
        pass
    cells = {(r["model"], r["condition"], r["scale"]): cell(r) for r in frame.iter_rows(named=True)}
    rows = _grid_rows(frame)
    columns = {
        "Model": [model_label(m) for m in rows["model"]],
        "Condition": rows["condition"].to_list(),
    }
    for scale in scales:
        columns[scale_title(questionnaire, scale)] = [
            cells.get((m, c, scale), "") for m, c in zip(rows["model"], rows["condition"], strict=True)
        ]
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))


def score_grid(scale_scores: pl.DataFrame, questionnaire: str, digits: int = 2) -> pl.DataFrame:
    """The original study's Table 4 layout for one questionnaire: rows model × condition (the human
    reference of each condition first), a column per scale, cells "mean ± sd" with a marker where
    the difference from the human reference is significant after Holm."""

    def cell(row: dict) -> str:
        if row["mean"] is None:
            return "n/a"
        marker = "" if row["model"] == "reference" else _marker(row.get("p_holm"))
        return f"{format_number(row['mean'], digits)} ± {format_number(row['sd'], digits)}{marker}"

    return _grid(scale_scores, questionnaire, cell)


def alpha_grid(reliability: pl.DataFrame, questionnaire: str, digits: int = 2) -> pl.DataFrame:
    """The original study's Table 6 layout for one questionnaire: Cronbach's α per scale, rows model ×
    condition; n/a where α is undefined (the report's note says why)."""
    return _grid(reliability, questionnaire, lambda row: format_number(row["alpha"], digits))


def _range(values: pl.Series) -> str:
    low, high = int(values.min()), int(values.max())
    return str(low) if low == high else f"{low}–{high}"


def n_phrase(frame: pl.DataFrame, per_group: bool = False) -> str:
    """n from a table's n column: "n = 18–20 per row (column n)", or with ``per_group`` (a grid
    without the column) "n = 20 per model × condition; human reference n = 300"; empty without n."""
    if "n" not in frame.columns or frame.is_empty() or not frame.schema["n"].is_numeric():
        return ""
    if not per_group:
        ns = frame["n"].drop_nulls()
        return "" if ns.is_empty() else f"n = {_range(ns)} per row (column n)."
    parts = []
    personas = frame.filter(pl.col("model") != "reference")["n"].drop_nulls()
    humans = frame.filter(pl.col("model") == "reference")["n"].drop_nulls()
    if not personas.is_empty():
        parts.append(f"n = {_range(personas)} per model × condition")
    if not humans.is_empty():
        parts.append(f"human reference n = {_range(humans)}")
    return "; ".join(parts) + "." if parts else ""


def caption(what: str, source: pl.DataFrame | None = None, per_group: bool = False) -> str:
    """A caption: what is compared, the test and the correction (``what``), then n from the table."""
    what = what.strip()
    if what and not what.endswith("."):
        what += "."
    n = n_phrase(source, per_group) if source is not None else ""
    return f"{what} {n}".strip()


def report_table(source: pl.DataFrame, what: str, digits: int = 3) -> Table:
    """A report table made readable, with its caption and, where it has markers, their legend."""
    legend = MARKER_LEGEND if "significant" in source.columns else ""
    return Table(readable(source, digits), caption(what, source), legend)


def number(items: list) -> Numbered:
    """Numbers tables and figures in the order given (two sequences, as papers do)."""
    numbered = Numbered()
    for item in items:
        if isinstance(item, Table):
            numbered.tables.append(item)
            item.number = len(numbered.tables)
        elif isinstance(item, Figure):
            numbered.figures.append(item)
            item.number = len(numbered.figures)
    return numbered


def is_numeric_column(values: list[str]) -> bool:
    present = [v for v in values if v not in ("", "n/a")]
    return bool(present) and all(NUMERIC.match(v) for v in present)


def latex_text(text: str) -> str:
    """Text safe inside LaTeX: its specials escaped, the symbols the report uses as math."""
    escaped = "".join(LATEX_SPECIALS.get(char, char) for char in text)
    return latex_symbols(escaped)


def latex_symbols(text: str) -> str:
    return "".join(LATEX_SYMBOLS.get(char, char) for char in text)


def to_latex(table: Table) -> str:
    """A booktabs ``table`` with a ``tabular`` (numbers right-aligned), caption and label
    ``tab:<number>``, the legend as a note under it. Needs ``\\usepackage{booktabs}``."""
    frame = pd.DataFrame(table.frame.to_dict(as_series=False), columns=table.frame.columns)
    align = "".join("r" if is_numeric_column(table.frame[c].to_list()) else "l" for c in table.frame.columns)
    styler = frame.style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
    label = f"Table {table.number}" if table.number else "Table"
    latex = styler.to_latex(
        column_format=align,
        hrules=True,
        position_float="centering",
        caption="CAPTIONPLACEHOLDER",
        label=f"tab:{table.number}" if table.number else None,
    )
    latex = latex_symbols(latex).replace("CAPTIONPLACEHOLDER", latex_text(table.caption))
    if table.legend:
        note = f"\\par\\smallskip\\footnotesize\\textit{{Note.}} {latex_text(table.legend)}\n\\end{{table}}"
        latex = latex.replace("\\end{table}", note)
    return f"% {label}\n{latex}"


def export_tables(tables: list[Table], folder: Path) -> list[Path]:
    """Writes each numbered table as ``table_<n>.csv`` (the strings shown) and ``table_<n>.tex``;
    returns the files written. Old tables of a previous, longer report are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [*folder.glob("table_*.csv"), *folder.glob("table_*.tex")]:
        stale.unlink()
    written = []
    for table in tables:
        csv, tex = folder / f"table_{table.number}.csv", folder / f"table_{table.number}.tex"
        table.frame.write_csv(csv)
        tex.write_text(to_latex(table))
        written += [csv, tex]
    return written
