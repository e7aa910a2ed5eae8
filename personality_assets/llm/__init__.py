"""The model call engine: models and prices (models.yaml), providers, the response cache and call
record, spend caps, the shared rate limiter, provider batches. Framework-free: no Dagster here."""
