"""Partitions definitions shared by the assets."""

from dagster import DynamicPartitionsDefinition

# One partition per reference population (e.g. sample, sample_maxN, a dropped file's name).
population_partitions = DynamicPartitionsDefinition(name="population")
