"""Partitions definitions shared by the tracks (population, model), how a track declares a dynamic
one of its own (``dynamic_partitions``), and the check every partitioned asset makes first: that
its run's partition key is one of them."""

from collections.abc import Callable

import dagster as dg

from personality_assets.defs.steps import MODEL_KEY_RULE, MODEL_KEYS
from personality_assets.populations.names import RULE as NAME_RULE
from personality_assets.populations.names import PopulationNameError, check_population_name

# What a key of each dynamic partitions definition names, its naming rule, and how one is added.
_NAMING: dict[str, tuple[str, Callable[[str], str | None], str]] = {}


def dynamic_partitions(
    name: str, what: str, rule_problem: Callable[[str], str | None], add: str
) -> dg.DynamicPartitionsDefinition:
    """A dynamic partitions definition whose keys name a ``what`` (e.g. "topic"): ``rule_problem``
    says what is wrong with a key (None: nothing), ``add`` is the command that adds one. A run
    with a key that is not a partition fails first, saying so."""
    _NAMING[name] = (what, rule_problem, add)
    return dg.DynamicPartitionsDefinition(name=name)


def name_problem(key: str) -> str | None:
    """The population naming rule, which other partition keys of ours follow too."""
    try:
        check_population_name(key)
    except PopulationNameError:
        return f"a name must {NAME_RULE}"
    return None


# One partition per reference population (e.g. sample, sample_maxN, a dropped file's name).
population_partitions = dynamic_partitions(
    "population", "population", name_problem, "python -m personality_assets.cli populations add NAME"
)


def model_problem(key: str) -> str | None:
    """A model partition is a configured model key."""
    return None if key in MODEL_KEYS else MODEL_KEY_RULE


# One per model the user enabled (`models add`), each a configured model key: the persona study
# covers the models asked for, not every model the configuration knows (the UI's "filled" counts
# only these).
model_partitions = dynamic_partitions(
    "model", "model", model_problem, "python -m personality_assets.cli models add KEY"
)

# Dimensions are ordered by name: a key is written "<model>|<population>", e.g. "simulated|sample".
experiment_partitions = dg.MultiPartitionsDefinition({"model": model_partitions, "population": population_partitions})


def model_and_population(context) -> tuple[str, str]:
    """The partition's dimensions. Runs launched with only the dagster/partition tag can hand
    over a plain string key, so normalise it first."""
    key = partition_key(context)
    if not isinstance(key, dg.MultiPartitionKey):
        key = experiment_partitions.get_partition_key_from_str(key)
    dimensions = key.keys_by_dimension
    return dimensions["model"], dimensions["population"]


def partition_key(context: dg.AssetExecutionContext) -> str | dg.MultiPartitionKey:
    """The run's partition key, once it is a partition of the asset; else the step fails here,
    before anything is asked or written, naming the rule and how to add the partition. Dagster
    checks the key of a run it starts from a partition selection, but a run submitted with only
    the dagster/partition tag (the GraphQL API, a script) reaches the step with any string."""
    key = context.partition_key
    problems = _key_problems(context.assets_def.partitions_def, key, context.instance)
    if problems:
        raise dg.Failure(description="; ".join(problems), allow_retries=False)
    return key


def _key_problems(definition, key, instance) -> list[str]:
    if isinstance(definition, dg.MultiPartitionsDefinition):
        names = definition.partition_dimension_names
        if not isinstance(key, dg.MultiPartitionKey) and len(key.split("|")) != len(names):
            shape = "|".join(f"<{name}>" for name in names)
            return [f"partition key {key!r} is not written {shape} (e.g. 'simulated|sample')"]
        parts = key if isinstance(key, dg.MultiPartitionKey) else definition.get_partition_key_from_str(key)
        return [
            problem
            for dimension in definition.partitions_defs
            for problem in _key_problems(dimension.partitions_def, parts.keys_by_dimension[dimension.name], instance)
        ]
    if isinstance(definition, dg.DynamicPartitionsDefinition):
        what, rule_problem, add = _NAMING[definition.name]
        problem = rule_problem(key)
        if problem:
            return [f"{key!r} is not a {what} partition: {problem}; add a {what} with `{add}`"]
        if not instance.has_dynamic_partition(definition.name, key):
            return [f"{key!r} is not a {what} partition: add it with `{add}` (or in the UI), then run again"]
        return []
    if isinstance(definition, dg.TimeWindowPartitionsDefinition):
        with dg.partition_loading_context(dynamic_partitions_store=instance):
            if definition.has_partition_key(key):
                return []
        first = definition.start.strftime(definition.fmt)
        return [f"{key!r} is not a day partition: a UTC day written like {first}, from {first} to tomorrow"]
    if definition.has_partition_key(key):
        return []
    return [f"{key!r} is not a partition: one of {', '.join(definition.get_partition_keys())}"]
