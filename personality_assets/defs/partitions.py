"""Partitions definitions shared by the assets."""

import dagster as dg

from personality_assets.llm.config import load_models_config

# One partition per reference population (e.g. sample, sample_maxN, a dropped file's name).
population_partitions = dg.DynamicPartitionsDefinition(name="population")

# One per configured model key (models.yaml and $PERSONALITY_ASSETS_MODELS_FILE, read when the
# code location loads).
model_partitions = dg.StaticPartitionsDefinition(sorted(load_models_config().models))

# Dimensions are ordered by name: a key is written "<model>|<population>", e.g. "simulated|sample".
experiment_partitions = dg.MultiPartitionsDefinition({"model": model_partitions, "population": population_partitions})


def model_and_population(context) -> tuple[str, str]:
    """The partition's dimensions. Runs launched with only the dagster/partition tag can hand
    over a plain string key, so normalise it first."""
    key = context.partition_key
    if not isinstance(key, dg.MultiPartitionKey):
        key = experiment_partitions.get_partition_key_from_str(key)
    dimensions = key.keys_by_dimension
    return dimensions["model"], dimensions["population"]


# One per essay topic; the key is the topic's text (e.g. "Should college tuition be free?").
essay_topic_partitions = dg.DynamicPartitionsDefinition(name="essay_topic")
