"""The fixtures every test may name, from the support package: the research database on both engines
(SQLite and the PostgreSQL of $PERSONALITY_ASSETS_TEST_POSTGRES_URL), an isolated data folder, and
the local fake OpenAI, Bedrock, Redis and S3 servers."""

import gc

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
    (a context variable Dagster sets when an instance is entered and resets when it is left). In CI
    a temporary instance of an earlier test on the same worker was found installed again later, most
    likely by the garbage collector finalising that test's context manager (its reset restores the
    value it replaced): every later `dg.materialize` then failed with "unable to open database file"
    or "undefined DagsterInstance weakref". So collect first, then start from none."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    gc.collect()
    with set_defs_state_storage(None):
        yield
