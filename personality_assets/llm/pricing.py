"""Price history: ``model_pricing`` keeps every price a model has had, with the dates it was in
force. The engine syncs the prices of the models it is about to call from the models
configuration before the first call: a model seen for the first time gets its price; a changed
price closes the old row (``effective_to``) and opens a new one. Each call is costed with the row
in force, and records it (``llm_calls.pricing_id``), so a later change never rewrites past costs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from personality_assets.db.engine import DatabaseTarget, experiment_transaction
from personality_assets.db.tables.usage import ModelPricing
from personality_assets.llm.config import ModelConfig

PRICE_FIELDS = {
    "input_per_million": "price_input_per_million",
    "output_per_million": "price_output_per_million",
    "batch_input_per_million": "price_batch_input_per_million",
    "batch_output_per_million": "price_batch_output_per_million",
}


def _prices(model: ModelConfig) -> dict:
    return {
        "model": model.key,
        "provider": model.provider,
        "provider_model_id": model.model_id,
        **{column: getattr(model, field) for column, field in PRICE_FIELDS.items()},
    }


def sync_prices(target: DatabaseTarget, models: Iterable[ModelConfig], now: datetime | None = None) -> dict[str, int]:
    """The id of the price in force for each model, after recording any change. Two processes
    syncing at once: the partial unique index lets one open the new row; the other reads it."""
    models = list({model.key: model for model in models}.values())
    for attempt in Retrying(stop=stop_after_attempt(3), retry=retry_if_exception_type(IntegrityError), reraise=True):
        with attempt, experiment_transaction(target) as connection:
            return {model.key: _sync_one(connection, model, now or datetime.now(UTC)) for model in models}
    raise AssertionError("unreachable")


def _sync_one(connection: Connection, model: ModelConfig, now: datetime) -> int:
    table = ModelPricing.__table__
    wanted = _prices(model)
    current = (
        connection.execute(select(table).where(table.c.model == model.key, table.c.effective_to.is_(None)))
        .mappings()
        .first()
    )
    if current is not None and all(current[column] == value for column, value in wanted.items()):
        return current["id"]
    if current is not None:
        connection.execute(update(table).where(table.c.id == current["id"]).values(effective_to=now))
    return connection.execute(insert(table).values(**wanted, effective_from=now).returning(table.c.id)).scalar_one()


def price_history(connection: Connection, model: str) -> list[dict]:
    """Every price the model has had, oldest first."""
    table = ModelPricing.__table__
    rows = connection.execute(select(table).where(table.c.model == model).order_by(table.c.effective_from))
    return [dict(row) for row in rows.mappings()]
