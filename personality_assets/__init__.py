"""personality_assets: LLM persona research as reproducible Dagster assets.

The Dagster definitions are in ``personality_assets.definitions`` (the code location); this package
imports nothing itself, so ``llm``, ``db``, ``questionnaires``, ``populations`` and ``store`` load
without Dagster or the reports' plotting and statistics libraries."""
