"""Dagster resources."""


from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field

from personality_assets import settings
from personality_assets.db import migrate
from personality_assets.db.engine import DatabaseTarget


class ResearchDatabase(ConfigurableResource):
    """The research database (SQLite file by default, PostgreSQL for real use).

    Left unset, each field is read from the environment when a step starts (see
    ``personality_assets.settings``), so a URL holding a password never appears in run config.
    """

    url: str | None = Field(default=None, description="SQLAlchemy URL; default $PERSONALITY_ASSETS_DATABASE_URL "
                            "or sqlite:///<data dir>/research.sqlite")
    reference_schema: str | None = Field(default=None, description="default $PERSONALITY_ASSETS_REFERENCE_SCHEMA "
                                         "or 'reference'")
    experiment_schema: str | None = Field(default=None, description="default $PERSONALITY_ASSETS_EXPERIMENT_SCHEMA "
                                          "or 'experiments'")
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
