"""Where things live. Every path and URL the project uses is resolved here, from the environment.

| variable | default |
|---|---|
| PERSONALITY_ASSETS_DATA_DIR | ./data (relative to the working directory, i.e. the project root) |
| PERSONALITY_ASSETS_DATABASE_URL | sqlite:///<data dir>/research.sqlite |
| PERSONALITY_ASSETS_EXPERIMENT_SCHEMA | experiments |
| PERSONALITY_ASSETS_REFERENCE_SCHEMA | reference |
| PERSONALITY_ASSETS_DROP_DIR | <data dir>/populations/incoming |
| PERSONALITY_ASSETS_TRAIT_PAIRS | the shipped defs/persona_study/reports/trait_pairs.toml |
| PERSONALITY_ASSETS_WORDINGS | the shipped defs/persona_study/wordings.toml (the persona study's prompt wordings) |
| PERSONALITY_ASSETS_MARGINALS | <data dir>/marginals.csv (optional: no file, no comparison) |
| PERSONALITY_ASSETS_QUESTIONNAIRES_DIR | <data dir>/questionnaires (the user's questionnaire definitions) |
| PERSONALITY_ASSETS_EXPLORER_URL | http://127.0.0.1:3001 (where the results explorer is served; asset metadata links there) |
| PERSONALITY_ASSETS_ESSAY_DIMENSIONS | <data dir>/essay_dimensions.yaml if present, else the shipped defs/essays/dimensions.yaml |
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    return Path(os.environ.get("PERSONALITY_ASSETS_DATA_DIR", "data")).resolve()


def database_url() -> str:
    return os.environ.get("PERSONALITY_ASSETS_DATABASE_URL") or f"sqlite:///{data_dir() / 'research.sqlite'}"


def experiment_schema() -> str:
    return os.environ.get("PERSONALITY_ASSETS_EXPERIMENT_SCHEMA", "experiments")


def reference_schema() -> str:
    return os.environ.get("PERSONALITY_ASSETS_REFERENCE_SCHEMA", "reference")


def drop_dir() -> Path:
    return Path(os.environ.get("PERSONALITY_ASSETS_DROP_DIR") or data_dir() / "populations" / "incoming")


def reports_dir() -> Path:
    return data_dir() / "reports"


def trait_pairs_file() -> Path:
    default = Path(__file__).parent / "defs" / "persona_study" / "reports" / "trait_pairs.toml"
    return Path(os.environ.get("PERSONALITY_ASSETS_TRAIT_PAIRS") or default)


def wordings_file() -> Path:
    """The persona study's named prompt wordings (system role, instruction, item texts)."""
    default = Path(__file__).parent / "defs" / "persona_study" / "wordings.toml"
    return Path(os.environ.get("PERSONALITY_ASSETS_WORDINGS") or default)


def marginals_file() -> Path:
    return Path(os.environ.get("PERSONALITY_ASSETS_MARGINALS") or data_dir() / "marginals.csv")


def essay_dimensions_file() -> Path:
    """The essay track's dimensions: ``$PERSONALITY_ASSETS_ESSAY_DIMENSIONS``, else the user's copy
    <data dir>/essay_dimensions.yaml when there is one, else the shipped defaults."""
    named = os.environ.get("PERSONALITY_ASSETS_ESSAY_DIMENSIONS")
    if named:
        return Path(named)
    user = data_dir() / "essay_dimensions.yaml"
    return user if user.exists() else Path(__file__).parent / "defs" / "essays" / "dimensions.yaml"


def questionnaires_dir() -> Path:
    """The user's questionnaire definitions (``*.toml`` + items CSV), read beside the shipped ones."""
    return Path(os.environ.get("PERSONALITY_ASSETS_QUESTIONNAIRES_DIR") or data_dir() / "questionnaires")


def explorer_url() -> str:
    """The results explorer's address, without a trailing slash."""
    return os.environ.get("PERSONALITY_ASSETS_EXPLORER_URL", "http://127.0.0.1:3001").rstrip("/")
