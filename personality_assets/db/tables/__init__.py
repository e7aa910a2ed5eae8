"""SQLAlchemy tables of the research database, one module per owner.

| module | tables |
|---|---|
| ``base`` | the schemas' names and declarative bases (one metadata per schema), the naming convention |
| ``questionnaires`` | questionnaire definitions, a copy in each schema |
| ``reference`` | the reference populations (reference schema) |
| ``persona_study`` | personas, experiments, answers, scores |
| ``essays`` | the essay track |
| ``usage`` | the call engine's calls, cache hits, batches and prices |

The value-alignment track has no tables: its files are parquet (``personality_assets.store``).

Two schemas, named symbolically here and mapped to real names at connection time
(``schema_translate_map``): ``reference`` (reference populations and questionnaire
definitions; written only by the reference loaders) and ``experiment`` (everything else; the user
picks its real name, so several experiments can share one reference schema). On PostgreSQL these
are schemas; on SQLite attached database files.

Importing any of these modules imports them all (below), so each schema's metadata, which Alembic
compares with the migrations, holds every table.
"""

from personality_assets.db.tables import essays, persona_study, questionnaires, reference, usage  # noqa: F401
