"""User-editable YAML files validated by a pydantic model: every problem is reported at once,
naming the file and the field (e.g. ``quality_levels.2.min_words: ...``)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def read_yaml_as(path: Path, model: type[Model], error: type[Exception] = ValueError) -> Model:
    try:
        raw = yaml.safe_load(path.read_text())
        return model.model_validate(raw)
    except OSError as exc:
        raise error(f"{path}: cannot read it: {exc}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            ": ".join(filter(None, [".".join(str(p) for p in e["loc"]), e["msg"].removeprefix("Value error, ")]))
            for e in exc.errors()
        )
        raise error(f"{path}: {problems}") from None
