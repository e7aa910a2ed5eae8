"""The research database on both engines for every test that asks (db_target, empty_target), and an
isolated data folder for every test."""

import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from personality_assets.db import migrate
from personality_assets.db.engine import DatabaseTarget, dispose_engines, reference_transaction
from personality_assets_tests.support.helpers import POSTGRES_URL, require_postgres


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch) -> Path:
    """Every test gets its own data folder and drop folder, never the project's ./data."""
    data = tmp_path / "data"
    monkeypatch.setenv("PERSONALITY_ASSETS_DATA_DIR", str(data))
    monkeypatch.delenv("PERSONALITY_ASSETS_DATABASE_URL", raising=False)
    monkeypatch.delenv("PERSONALITY_ASSETS_DROP_DIR", raising=False)
    monkeypatch.delenv("PERSONALITY_ASSETS_EPQR_A_TEXTS", raising=False)
    monkeypatch.delenv("PERSONALITY_ASSETS_QUESTIONNAIRES_DIR", raising=False)
    return data


def unique_target(url: str) -> DatabaseTarget:
    suffix = uuid.uuid4().hex[:8]
    return DatabaseTarget(url, reference_schema=f"ref_{suffix}", experiment_schema=f"exp_{suffix}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_target(request, tmp_path) -> DatabaseTarget:
    """A database target with fresh schema names and no tables yet, on each engine."""
    if request.param == "sqlite":
        target = unique_target(f"sqlite:///{tmp_path / 'research.sqlite'}")
        yield target
        dispose_engines(target)
        return
    require_postgres()
    target = unique_target(POSTGRES_URL)
    yield target
    with reference_transaction(target) as connection:  # the reference schema's guards let only loaders drop it
        for schema in target.schema_map.values():
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    dispose_engines(target)  # each test's schemas get their own pools: close them, or the server runs out


@pytest.fixture
def db_target(empty_target) -> DatabaseTarget:
    """A migrated database with the questionnaire definitions loaded."""
    from personality_assets.questionnaires import all_questionnaires
    from personality_assets.questionnaires.store import store_questionnaires

    migrate.upgrade(empty_target)
    store_questionnaires(empty_target, list(all_questionnaires().values()))
    return empty_target
