"""Where the value-alignment track keeps its parquet files: a ``ParquetStore`` (the general store,
``personality_assets.store``) under one root, a local folder or an S3 prefix.

| variable | default |
|---|---|
| PERSONALITY_ASSETS_VALUES_ROOT | <data dir>/values (a folder, or ``s3://bucket/prefix``) |
"""

import os

from personality_assets.settings import data_dir
from personality_assets.store.parquet import ParquetStore

ROOT_VARIABLE = "PERSONALITY_ASSETS_VALUES_ROOT"


def values_root() -> str:
    """$PERSONALITY_ASSETS_VALUES_ROOT, else ``<data dir>/values``."""
    return os.environ.get(ROOT_VARIABLE) or str(data_dir() / "values")


def values_store() -> ParquetStore:
    """The track's store, at ``values_root()``."""
    return ParquetStore(values_root())
