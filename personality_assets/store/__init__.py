"""Files the tracks keep outside the research database: parquet under a local folder or an S3
prefix (``store.parquet.ParquetStore``), replaced atomically and updated without losing a
concurrent writer's changes. Framework-free, like ``llm`` and ``db``."""
