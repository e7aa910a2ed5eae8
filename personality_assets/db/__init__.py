"""The research database: engines and transactions (engine.py), its tables by owner (tables/), the
Alembic migrations of both schemas (migrate.py, migrations/). Framework-free: no Dagster here."""
