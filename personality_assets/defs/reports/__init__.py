"""Research reports across the study's partitions (the analysis the original paper published)."""
