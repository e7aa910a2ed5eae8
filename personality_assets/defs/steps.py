"""What every step shares, declared once: the step that fails clearly (a `NoRetryError` or a stop
fails it at once with its message, not after the retry policy's next attempt) and the model-calling
step (the `llm` pool, the retry policy, a spend cap in its config, model keys checked at launch),
and the checks declared on an asset (`check_specs`). A track's asset names only what is particular to it."""

import functools
import inspect
import warnings
from typing import Literal

import dagster as dg
from pydantic import Field

from personality_assets.defs.metadata import OWNERS
from personality_assets.errors import NoRetryError
from personality_assets.llm.config import load_models_config
from personality_assets.llm.engine import RunInterrupted

# Steps that call models use the `llm` pool (dagster.yaml, run granularity): queued runs wait for
# room in it, so parallel runs cannot pile onto a provider; within a run the engine's limiter keeps
# each account under its rpm/tpm.
LLM_POOL = "llm"
RETRY_ONCE = dg.RetryPolicy(max_retries=1, delay=30)

# The configured model keys (models.yaml and $PERSONALITY_ASSETS_MODELS_FILE, read when the code
# location loads): the persona study's model partitions and every model-key config field.
MODEL_KEYS: tuple[str, ...] = tuple(sorted(load_models_config().models))

# A model-key config field: Dagster checks it at launch (the launchpad too) and names the
# configured keys when a value is not one of them.
ModelKey = Literal[MODEL_KEYS]


def check_specs(asset: str, descriptions: dict[str, str]) -> list[dg.AssetCheckSpec]:
    """The checks declared on an asset (its ``check_specs``): each check's name and what it checks."""
    return [dg.AssetCheckSpec(name, asset=asset, description=description) for name, description in descriptions.items()]


def model_key_field(description: str):
    """A config field holding a model key, "simulated" unless set."""
    return Field(default="simulated", description=f"{description}; one of the configured model keys")


# What a model key is, and how one is added: said wherever a key is refused.
MODEL_KEY_RULE = (
    f"a model key of the models configuration ({', '.join(MODEL_KEYS)}); add the model to models.yaml or the "
    "file in $PERSONALITY_ASSETS_MODELS_FILE and reload the code location"
)


class SpendCapConfig(dg.Config):
    """Config of every asset that calls models: a cap on what the step may spend."""

    max_cost_usd: float | None = Field(
        default=None,
        gt=0,
        description="stop before this step's model calls cost more than this (USD); stored results are kept "
        "and a re-run with a higher cap asks only for what is missing. Each model's max_cost_usd "
        "(models.yaml) applies too",
    )


def step(owners: list[str] = OWNERS, **asset_args):
    """``dg.asset`` for a step whose ``NoRetryError`` or stop (SIGTERM/SIGINT, a spend cap: the
    engine stored what was answered) fails it at once with its message."""

    def decorate(function):
        @functools.wraps(function)
        def failing_clearly(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except (NoRetryError, RunInterrupted) as exc:
                raise dg.Failure(description=str(exc), allow_retries=False) from None

        # The asset's code reference is the track's function, not this wrapper. Code references are
        # "beta" in Dagster 1.13: silenced here as in definitions.py, or every import of a track warns.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.BetaWarning)
            reference = dg.LocalFileCodeReference(
                file_path=inspect.getsourcefile(function), line_number=inspect.getsourcelines(function)[1]
            )
            references = dg.CodeReferencesMetadataValue(code_references=[reference])
        metadata = {**asset_args.pop("metadata", {}), "dagster/code_references": references}
        return dg.asset(owners=owners, metadata=metadata, **asset_args)(failing_clearly)

    return decorate


def model_step(retry_policy: dg.RetryPolicy | None = RETRY_ONCE, **asset_args):
    """A step that calls models: in the `llm` pool, retried once by default, its config a
    `SpendCapConfig` (it asks ``llm.engine(context, config.max_cost_usd)``)."""

    def decorate(function):
        config = inspect.signature(function).parameters.get("config")
        if config is None or not issubclass(config.annotation, SpendCapConfig):
            raise TypeError(f"{function.__name__}: a model step's config must be a SpendCapConfig")
        return step(pool=LLM_POOL, retry_policy=retry_policy, **asset_args)(function)

    return decorate
