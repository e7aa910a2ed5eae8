"""The explorer's value-alignment pages: the journal entries of every batch with their judge labels,
read from the track's parquet store (``values_store()``: a local folder or an S3 prefix) with polars
lazy scans, filtered and sliced before anything is collected.

``entries_page`` and ``entry`` know no web framework; ``ROUTES`` are the Starlette pages over them.

The list joins the batches' journal_entries (``batches/<batch>/``, see defs/values/assets.py;
one glob scan per kind of file, over every batch) with each entry's labels: consensus_labels when
the entry has more than one judge pass, else judge_labels (a single pass's labels are its
consensus), and with judge_passes, which say per value whether the passes disagree. A batch whose
judge has not run yet lists its entries unlabelled."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields

import polars as pl
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from personality_assets.defs.values.assets import REGISTRY, batch_file
from personality_assets.defs.values.contract import VALUE_NAMES
from personality_assets.defs.values.replies import SCHWARTZ_VALUES
from personality_assets.defs.values.storage import values_store
from personality_assets.explorer.web import page_number, render
from personality_assets.store.parquet import ParquetStore

PAGE_SIZE = 50
LABELS = ("-1", "0", "+1")
AGREEMENT = ("agree", "disagree")
KEY = ["persona_id", "t_index"]
LABEL_COLUMNS = [f"alignment_{value}" for value in SCHWARTZ_VALUES]
DISAGREE_COLUMNS = [f"disagree_{value}" for value in SCHWARTZ_VALUES]


@dataclass(frozen=True)
class ValueFilter:
    """The filters of the entries list; empty strings mean "any".

    ``value`` and ``label`` work together: a value and a label keep the entries whose consensus
    label on that value is the label; a label alone, the entries with that label on some value; a
    value alone, the entries with a signal (-1 or +1) on it. ``agreement`` is about the selected
    value, or about any value when none is selected: ``disagree`` keeps the entries on which the
    judge's passes gave different labels, ``agree`` those labelled on which they did not."""

    batch: str = ""
    persona: str = ""  # a persona id
    value: str = ""  # a key of SCHWARTZ_VALUES
    label: str = ""  # one of LABELS
    agreement: str = ""  # one of AGREEMENT

    @classmethod
    def from_query(cls, params) -> ValueFilter:
        return cls(**{f.name: (params.get(f.name) or "").strip() for f in fields(cls)})

    def as_query(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


def batches(store: ParquetStore, files: list[str] | None = None) -> list[str]:
    """The batches that have journal entries, by name (``files``: the store's list of batches/)."""
    files = store.list("batches/") if files is None else files
    return sorted(path.split("/")[1] for path in files if path.endswith("/journal_entries.parquet"))


def _labels_file(store: ParquetStore, batch: str, passes: int) -> str | None:
    """An entry's consensus labels: the consensus file after several passes (a consensus file left
    by an earlier run with more passes is not the current one), else the single pass's labels."""
    consensus, single = batch_file(batch, "consensus_labels"), batch_file(batch, "judge_labels")
    if passes > 1 and store.exists(consensus):
        return consensus
    return single if store.exists(single) else None


def _scan(store: ParquetStore, batch: str, name: str, columns: list[str]) -> pl.LazyFrame:
    """The batch files ``name`` of one batch, or of every batch (a glob: a single scan), with the
    batch each row comes from."""
    pattern = batch_file(batch or "*", name)
    return store.scan(pattern, include_file_paths="_path", extra_columns="ignore").select(
        pl.col("_path").str.extract(r"batches/([^/]+)/[^/]+\.parquet$", 1).alias("batch"), *columns
    )


def _conditions(selected: ValueFilter) -> list[pl.Expr]:
    conditions = []
    if selected.persona:
        conditions.append(pl.col("persona_id") == selected.persona)
    value = selected.value if selected.value in SCHWARTZ_VALUES else ""
    if selected.label in LABELS:
        label = int(selected.label)
        if value:
            conditions.append(pl.col(f"alignment_{value}") == label)
        else:
            conditions.append(pl.any_horizontal(pl.col(c) == label for c in LABEL_COLUMNS))
    elif value:
        conditions.append(pl.col(f"alignment_{value}") != 0)
    if selected.agreement in AGREEMENT:
        disagree = pl.col(f"disagree_{value}") if value else pl.any_horizontal(DISAGREE_COLUMNS)
        conditions.append(disagree if selected.agreement == "disagree" else ~disagree)
    return conditions


def entries_frame(store: ParquetStore, selected: ValueFilter) -> pl.LazyFrame:
    """Every entry matching ``selected`` (lazy: nothing is read until it is collected), with its
    consensus labels, how many judge passes it has and per value whether they disagree: one scan
    of each kind of batch file, over every batch or the selected one. Batches in name order, each
    in its file's order (persona, then position in the journal)."""
    files = store.list("batches/")
    names = [name for name in batches(store, files) if name == selected.batch or not selected.batch]
    if not names:
        return pl.LazyFrame(schema={"batch": pl.String, "persona_id": pl.String, "t_index": pl.Int64})
    batch = selected.batch if selected.batch else ""
    present = {path.rsplit("/", 1)[1].removesuffix(".parquet") for path in files if path.split("/")[1] in names}
    key = ["batch", *KEY]
    frame = _scan(
        store, batch, "journal_entries", [*KEY, "date", "title", pl.col("nudge_question").is_not_null().alias("nudged")]
    )
    if "judge_passes" in present:
        agreement = (
            _scan(store, batch, "judge_passes", [*KEY, *LABEL_COLUMNS])
            .group_by(key)
            .agg(
                pl.len().cast(pl.Int64).alias("passes"),
                *(
                    (pl.col(c).max() != pl.col(c).min()).alias(d)
                    for c, d in zip(LABEL_COLUMNS, DISAGREE_COLUMNS, strict=True)
                ),
            )
        )
        frame = frame.join(agreement, on=key, how="left", maintain_order="left")
    else:
        frame = frame.with_columns(
            pl.lit(None, pl.Int64).alias("passes"), *(pl.lit(None, pl.Boolean).alias(d) for d in DISAGREE_COLUMNS)
        )
    single = [pl.col(c).alias(f"_single_{c}") for c in LABEL_COLUMNS]
    if "judge_labels" in present:
        frame = frame.join(
            _scan(store, batch, "judge_labels", [*KEY, *single]), on=key, how="left", maintain_order="left"
        )
    else:
        frame = frame.with_columns(pl.lit(None, pl.Int64).alias(f"_single_{c}") for c in LABEL_COLUMNS)
    if "consensus_labels" in present:
        consensus = [pl.col(c).alias(f"_consensus_{c}") for c in LABEL_COLUMNS]
        frame = frame.join(
            _scan(store, batch, "consensus_labels", [*KEY, *consensus]), on=key, how="left", maintain_order="left"
        )
        labels = [
            pl.when((pl.col("passes") > 1) & pl.col(f"_consensus_{c}").is_not_null())
            .then(pl.col(f"_consensus_{c}"))
            .otherwise(pl.col(f"_single_{c}"))
            .alias(c)
            for c in LABEL_COLUMNS
        ]
    else:
        labels = [pl.col(f"_single_{c}").alias(c) for c in LABEL_COLUMNS]
    frame = frame.select(
        "batch", *KEY, "date", "title", "nudged", pl.col("passes").fill_null(0), *labels, *DISAGREE_COLUMNS
    )
    conditions = _conditions(selected)
    return frame.filter(*conditions) if conditions else frame


def _with_names(store: ParquetStore, frame: pl.LazyFrame) -> pl.LazyFrame:
    """The persona's name from the registry beside each entry."""
    if not store.exists(REGISTRY):
        return frame.with_columns(pl.lit(None, pl.String).alias("name"))
    return frame.join(
        store.scan(REGISTRY).select("persona_id", "name"), on="persona_id", how="left", maintain_order="left"
    )


def entries_page(
    store: ParquetStore, selected: ValueFilter, page: int = 1, size: int = PAGE_SIZE
) -> tuple[list[dict], int]:
    """One page of entries matching ``selected`` and how many match: the filtered scan, sliced."""
    frame = entries_frame(store, selected)
    # One run of both: the count and the page share the scans and joins (common subplans).
    shown, counted = pl.collect_all(
        [_with_names(store, frame.slice((max(page, 1) - 1) * size, size)), frame.select(pl.len())]
    )
    rows, total = shown.to_dicts(), counted.item()
    for row in rows:
        row["labels"] = [
            (value, row.get(f"alignment_{value}"), row.get(f"disagree_{value}")) for value in SCHWARTZ_VALUES
        ]
    return rows, total


def _one(store: ParquetStore, path: str, persona_id: str, t_index: int | None = None) -> pl.DataFrame:
    if not store.exists(path):
        return pl.DataFrame()
    condition = pl.col("persona_id") == persona_id
    if t_index is not None:
        condition &= pl.col("t_index") == t_index
    return store.scan(path).filter(condition).collect()


def _reasons(rationales_json: str | None) -> dict[str, str]:
    return json.loads(rationales_json) if rationales_json else {}


def entry(store: ParquetStore, batch: str, persona_id: str, t_index: int) -> dict | None:
    """An entry in full: the journal entry and its follow-up, each judge pass's labels and reasons
    per value beside the consensus, and its persona (registry row and the batch's details)."""
    if batch not in batches(store):  # also keeps a crafted name from reaching the store's paths
        return None
    found = _one(store, batch_file(batch, "journal_entries"), persona_id, t_index)
    if found.is_empty():
        return None
    passes = _one(store, batch_file(batch, "judge_passes"), persona_id, t_index).sort("pass")
    labels_file = _labels_file(store, batch, passes.height)
    consensus = _one(store, labels_file, persona_id, t_index) if labels_file else pl.DataFrame()
    consensus_row = consensus.row(0, named=True) if consensus.height else None
    pass_rows = [(row["pass"], row, _reasons(row["rationales_json"])) for row in passes.iter_rows(named=True)]
    values = []
    for value in SCHWARTZ_VALUES:
        column = f"alignment_{value}"
        labels = [row[column] for _, row, _ in pass_rows]
        values.append(
            {
                "value": value,
                "name": VALUE_NAMES[value],
                "passes": [{"label": row[column], "reason": reasons.get(value)} for _, row, reasons in pass_rows],
                "consensus": consensus_row[column] if consensus_row else None,
                "confidence": (consensus_row or {}).get(f"confidence_{value}"),
                "disagree": len(set(labels)) > 1,
            }
        )
    registry = _one(store, REGISTRY, persona_id)
    details = _one(store, batch_file(batch, "persona_details"), persona_id)
    return {
        "batch": batch,
        "entry": found.row(0, named=True),
        "pass_numbers": [number for number, _, _ in pass_rows],
        "values": values,
        "consensus_file": labels_file,
        "persona": registry.row(0, named=True) if registry.height else None,
        "details": details.row(0, named=True) if details.height else None,
    }


def filter_choices(store: ParquetStore) -> dict[str, list[tuple[str, str]]]:
    """The values each select filter can take, as (value, shown) pairs."""
    return {
        "batch": [(name, name) for name in batches(store)],
        "value": [(value, VALUE_NAMES[value]) for value in SCHWARTZ_VALUES],
        "label": [(label, label) for label in LABELS],
        "agreement": [("agree", "passes agree"), ("disagree", "passes disagree")],
    }


# --- pages -----------------------------------------------------------------------------------------


def values_list(request: Request):
    store = values_store()
    selected = ValueFilter.from_query(request.query_params)
    page = page_number(request)
    rows, total = entries_page(store, selected, page)
    return render(
        request,
        "values.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, math.ceil(total / PAGE_SIZE)),
            "selected": selected,
            "choices": filter_choices(store),
            "value_names": VALUE_NAMES,
            "root": store.root,
        },
    )


def entry_page(request: Request):
    params = request.path_params
    shown = entry(values_store(), params["batch"], params["persona_id"], params["t_index"])
    if shown is None:
        raise HTTPException(404, f"no entry {params['t_index']} of persona {params['persona_id']} in {params['batch']}")
    return render(request, "values_entry.html", shown)


ROUTES = [
    Route("/values", values_list, name="values"),
    Route("/values/{batch}/{persona_id}/{t_index:int}", entry_page, name="value_entry"),
]
