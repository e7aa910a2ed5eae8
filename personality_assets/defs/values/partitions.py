"""The value-alignment track's partitions: one per batch of personas (e.g. wave1), named by the
population naming rule."""

from personality_assets.defs.partitions import dynamic_partitions, name_problem

value_batch_partitions = dynamic_partitions(
    "value_batch", "value batch", name_problem, "python -m personality_assets.cli batches add NAME"
)
