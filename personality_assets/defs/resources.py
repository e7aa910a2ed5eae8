"""The shared Dagster resources: the research database and the model call engine, declared once.

A resource's docstring and its fields' descriptions are what the UI shows (Deployment, launchpad)
as plain text: no reStructuredText markup in them."""

import inspect
import os

import dagster as dg
from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field

from personality_assets import settings
from personality_assets.db import migrate
from personality_assets.db.engine import DatabaseTarget
from personality_assets.llm.config import load_models_config
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.providers import Providers
from personality_assets.llm.ratelimit import REDIS_URL_VARIABLE


class ResearchDatabase(ConfigurableResource):
    """The research database: a SQLite file by default, PostgreSQL for real use. Each field left
    unset is read from the environment when a step starts (see personality_assets/settings.py), so
    a URL holding a password never appears in run config."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: $PERSONALITY_ASSETS_DATABASE_URL, else research.sqlite in $PERSONALITY_ASSETS_DATA_DIR (default ./data)",
    )
    reference_schema: str | None = Field(
        default=None,
        description="schema of the reference data; default: $PERSONALITY_ASSETS_REFERENCE_SCHEMA, else reference",
    )
    experiment_schema: str | None = Field(
        default=None,
        description="schema of the experiments; default: $PERSONALITY_ASSETS_EXPERIMENT_SCHEMA, else experiments",
    )
    auto_migrate: bool = Field(default=True, description="bring both schemas to the latest migration on step start")

    @property
    def target(self) -> DatabaseTarget:
        return DatabaseTarget(
            url=self.url or settings.database_url(),
            reference_schema=self.reference_schema or settings.reference_schema(),
            experiment_schema=self.experiment_schema or settings.experiment_schema(),
        )

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if self.auto_migrate:
            migrate.upgrade(self.target)


class LLMEngineResource(ConfigurableResource):
    """The call engine that makes every model call and records it in the research database (assets
    call llm.engine(context, max_cost_usd), then run the requests). Models come from
    personality_assets/llm/models.yaml merged with $PERSONALITY_ASSETS_MODELS_FILE, as the
    partitions do; each model's provider reads its endpoint and key from the environment when the
    step runs, so no key is ever part of Dagster's configuration, logs or metadata."""

    research_db: ResearchDatabase
    cache: bool | None = Field(default=None, description="force the response cache on/off; default per model")
    progress_every_s: float = Field(default=10.0, description="seconds between progress lines in the log")
    rate_window_s: float = Field(
        default=60.0, gt=0, description="the window rpm and tpm count over (providers count per minute)"
    )

    def engine(self, context=None, max_cost_usd: float | None = None) -> CallEngine:
        """The engine for a step (its log and run id), or, without a context, for scripts and notebooks."""
        if context is None:
            self.research_db.setup_for_execution(None)  # what Dagster does at step start: migrate the schemas
        return CallEngine(
            load_models_config(),
            Providers(),
            target=self.research_db.target,
            log=context.log if context is not None else None,  # None: the module's own logger
            run_id=context.run.run_id if context is not None else None,
            progress_every_s=self.progress_every_s,
            cache=self.cache,
            max_cost_usd=max_cost_usd,
            rate_window_s=self.rate_window_s,
            # The shared limiter's Redis comes from the environment (a URL may hold a password).
            redis_url=os.environ.get(REDIS_URL_VARIABLE) or None,
        )


# The docstrings without their indentation: the UI shows the description as it is.
for _resource in (ResearchDatabase, LLMEngineResource):
    _resource.__doc__ = inspect.cleandoc(_resource.__doc__)


def default_llm_resource(research_db: ResearchDatabase | None = None) -> LLMEngineResource:
    """The engine resource on ``research_db`` (default: the one the environment names)."""
    return LLMEngineResource(research_db=research_db or ResearchDatabase())


@dg.definitions
def resources() -> dg.Definitions:
    # Configured at launch, so the engine records its calls in the very database the step uses,
    # whatever the launchpad sets for research_db.
    research_db = ResearchDatabase.configure_at_launch()
    return dg.Definitions(resources={"research_db": research_db, "llm": LLMEngineResource(research_db=research_db)})
