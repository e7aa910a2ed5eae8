"""The persona study's research reports across its partitions (the analysis the original paper
published); their assets keep a group of their own, reports."""
