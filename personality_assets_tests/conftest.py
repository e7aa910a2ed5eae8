"""The fixtures every test may name, from the support package: the research database on both engines
(SQLite and the PostgreSQL of $PERSONALITY_ASSETS_TEST_POSTGRES_URL), an isolated data folder, and
the local fake OpenAI, Bedrock, Redis and S3 servers."""

import pytest

pytest_plugins = [
    "personality_assets_tests.support.databases",
    "personality_assets_tests.support.llm_servers",
    "personality_assets_tests.support.redis_server",
    "personality_assets_tests.support.s3_server",
]


@pytest.fixture(autouse=True)
def no_current_dagster_state_storage():
    """Each test starts with no Dagster instance installed as the current definitions-state storage
    (a context variable Dagster sets when an instance is entered). One left behind by an earlier test
    on the same worker, once its temporary instance is gone, fails every later `dg.materialize` with
    "unable to open database file" or "undefined DagsterInstance weakref" (seen once in CI)."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield
