"""Model providers behind one small interface (:class:`Provider`), one module each.

Adding a provider is one module here, named after the provider, with a class that implements
:class:`Provider` (its ``name`` the module's name); a model entry in the models configuration then
names it as its ``provider``. Modules whose name starts with ``_`` are helpers, not providers.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from personality_assets.llm.config import ModelConfig
    from personality_assets.llm.types import ChatRequest, ProviderReply

# name -> "module" (its class is the one named so) or "module:class": every module of this package,
# imported when a model first uses it (boto3 only loads for Bedrock models).
PROVIDERS = {
    module.name: f"{__name__}.{module.name}" for module in pkgutil.iter_modules(__path__) if module.name[0] != "_"
}


class Provider(Protocol):
    name: ClassVar[str]

    @classmethod
    def for_model(cls, model: ModelConfig, environ: Mapping[str, str]) -> Provider:
        """A provider for the model's endpoint: its own settings, else defaults from the environment
        (keys are read from the environment only, never from configuration)."""

    def account(self, model: ModelConfig) -> tuple[str, ...]:
        """Whose rate limits a call counts against: provider, endpoint and provider model id, so two
        model keys for one provider model (a temperature sweep) share one budget."""

    async def call(self, request: ChatRequest, model: ModelConfig) -> ProviderReply:
        """One attempt. Raise ``TransientError`` for what is worth retrying (429, 5xx, timeouts,
        dropped connections), ``UserActionRequired`` for what only the user can fix (a key, an
        endpoint, model access), ``PermanentError`` for a request that would fail again."""

    async def aclose(self) -> None:
        """Release what belongs to the run's event loop (called after each run)."""


def provider_class(name: str) -> type[Provider]:
    module, _, cls = PROVIDERS[name].partition(":")
    imported = importlib.import_module(module)
    if cls:
        return getattr(imported, cls)
    classes = [
        value for value in vars(imported).values() if isinstance(value, type) and getattr(value, "name", None) == name
    ]
    if len(classes) != 1:
        raise ValueError(f"{module}: a provider module holds one class whose name is {name!r}; found {len(classes)}")
    return classes[0]


class Providers:
    """The providers of one engine: one per model endpoint, made on first use from the model's
    settings and the environment. Instances passed by name (tests, benchmarks) serve every model of
    that provider that has no endpoint of its own."""

    def __init__(self, environ: Mapping[str, str] | None = None, **instances: Provider):
        self._environ = os.environ if environ is None else environ
        self._defaults = instances
        self._made: dict[tuple, Provider] = {}

    def for_model(self, model: ModelConfig) -> Provider:
        own_endpoint = model.base_url or model.api_key_env or model.region
        if not own_endpoint and model.provider in self._defaults:
            return self._defaults[model.provider]
        key = (model.provider, model.base_url, model.api_key_env, model.region)
        if key not in self._made:
            self._made[key] = provider_class(model.provider).for_model(model, self._environ)
        return self._made[key]
