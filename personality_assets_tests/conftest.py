"""The fixtures every test may name, from the support package: the research database on both engines
(SQLite and the PostgreSQL of $PERSONALITY_ASSETS_TEST_POSTGRES_URL), an isolated data folder, and
the local fake OpenAI, Bedrock, Redis and S3 servers."""

pytest_plugins = [
    "personality_assets_tests.support.databases",
    "personality_assets_tests.support.llm_servers",
    "personality_assets_tests.support.redis_server",
    "personality_assets_tests.support.s3_server",
]
