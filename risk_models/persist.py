"""Save and load fitted models with their metadata, refusing mismatches.

A saved model is two files side by side: ``<stem>.joblib`` (the estimator) and
``<stem>.json`` (metadata: model name, code version, feature list, library
versions, training period, free-form extras). :func:`load` reads the JSON first and
refuses a model whose name, code version or feature list differs from what the
running code expects, before unpickling anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib

__all__ = ["ModelMetadata", "ModelVersionError", "load", "save"]

FORMAT = 1


class ModelVersionError(ValueError):
    """A saved model does not match the code that tries to load it."""


@dataclass
class ModelMetadata:
    """What is stored beside a fitted model."""

    name: str
    version: str
    features: list[str]
    trained_from: str | None = None
    trained_to: str | None = None
    n_samples: int = 0
    n_positive: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT


def _paths(stem: str | Path) -> tuple[Path, Path]:
    stem = Path(stem)
    return stem.with_suffix(".joblib"), stem.with_suffix(".json")


def save(model: Any, stem: str | Path, metadata: ModelMetadata) -> Path:
    """Write ``model`` and ``metadata``; return the path of the JSON file."""
    model_path, meta_path = _paths(stem)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_path)
    meta_path.write_text(json.dumps(asdict(metadata), ensure_ascii=False, indent=2), "utf-8")
    return meta_path


def load(
    stem: str | Path,
    *,
    name: str,
    version: str,
    features: list[str] | tuple[str, ...],
) -> tuple[Any, ModelMetadata]:
    """Load a model saved by :func:`save`, checking it fits the running code.

    Raises
    ------
    FileNotFoundError
        If either file is missing.
    ModelVersionError
        If the stored name, version, feature list or format differs.
    """
    model_path, meta_path = _paths(stem)
    meta = ModelMetadata(**json.loads(meta_path.read_text("utf-8")))
    problems = []
    if meta.format != FORMAT:
        problems.append(f"file format {meta.format} (expected {FORMAT})")
    if meta.name != name:
        problems.append(f"model {meta.name!r} (expected {name!r})")
    if meta.version != version:
        problems.append(f"version {meta.version!r} (expected {version!r})")
    if list(meta.features) != list(features):
        missing = sorted(set(features) - set(meta.features))
        extra = sorted(set(meta.features) - set(features))
        problems.append(f"features differ (missing {missing}, unexpected {extra})")
    if problems:
        raise ModelVersionError(f"refusing to load {model_path}: " + "; ".join(problems))
    return joblib.load(model_path), meta
