"""The shared Dagster resources: the research database and the model call engine, declared once."""

import os
from pathlib import Path

import dagster as dg
from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field

from personality_assets import settings
from personality_assets.db import migrate
from personality_assets.db.engine import DatabaseTarget
from personality_assets.llm.config import ModelsConfig, load_models_config
from personality_assets.llm.engine import CallEngine, Providers
from personality_assets.llm.providers._all import BedrockProvider, OpenAIProvider, SimulatedProvider


class ResearchDatabase(ConfigurableResource):
    """The research database (SQLite file by default, PostgreSQL for real use).

    Left unset, each field is read from the environment when a step starts (see
    ``personality_assets.settings``), so a URL holding a password never appears in run config.
    """

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default $PERSONALITY_ASSETS_DATABASE_URL or sqlite:///<data dir>/research.sqlite",
    )
    reference_schema: str | None = Field(
        default=None, description="default $PERSONALITY_ASSETS_REFERENCE_SCHEMA or 'reference'"
    )
    experiment_schema: str | None = Field(
        default=None, description="default $PERSONALITY_ASSETS_EXPERIMENT_SCHEMA or 'experiments'"
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
    """The call engine with its providers and the models configuration. Assets call
    ``llm.engine(context, research_db)`` and then ``.run(requests, persist=...)``."""

    openai: OpenAIProvider
    bedrock: BedrockProvider
    simulated: SimulatedProvider
    models_file: str | None = Field(
        default=None, description="default $PERSONALITY_ASSETS_MODELS_FILE, merged over the package's models.yaml"
    )
    cache: bool | None = Field(default=None, description="force the response cache on/off; default per model")
    progress_every_s: float = Field(default=10.0, description="seconds between progress lines in the log")

    def models(self) -> ModelsConfig:
        return load_models_config(Path(self.models_file) if self.models_file else None)

    def engine(self, context=None, research_db: ResearchDatabase | None = None) -> CallEngine:
        """The engine for a step (its log and run id), or, without a context, for scripts."""
        if context is None:
            # Outside a run nothing has resolved the EnvVar fields (keys, endpoints): resolve them
            # as Dagster would, from the environment, so scripts and notebooks reach real providers.
            with self.process_config_and_initialize_cm() as resolved:
                return resolved._engine(None, research_db)
        return self._engine(context, research_db)

    def _engine(self, context, research_db: ResearchDatabase | None) -> CallEngine:
        return CallEngine(
            self.models(),
            Providers(openai=self.openai, bedrock=self.bedrock, simulated=self.simulated),
            target=research_db.target if research_db is not None else None,
            log=context.log if context is not None else None,  # None: the module's own logger
            run_id=context.run.run_id if context is not None and hasattr(context, "run") else None,
            progress_every_s=self.progress_every_s,
            cache=self.cache,
        )


def default_llm_resource() -> LLMEngineResource:
    """Secrets and endpoints from the environment, as Dagster EnvVars (never stored in config).
    An EnvVar is only bound when its variable is set, so the offline default needs none."""

    def env(name: str):
        return dg.EnvVar(name) if os.environ.get(name) else None

    return LLMEngineResource(
        openai=OpenAIProvider(api_key=env("OPENAI_API_KEY"), base_url=env("OPENAI_BASE_URL")),
        bedrock=BedrockProvider(
            region_name=env("AWS_REGION"),
            profile_name=env("AWS_PROFILE"),
            endpoint_url=env("PERSONALITY_ASSETS_BEDROCK_ENDPOINT_URL"),
        ),
        simulated=SimulatedProvider(),
    )


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"research_db": ResearchDatabase(), "llm": default_llm_resource()})
