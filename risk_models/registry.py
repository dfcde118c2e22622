"""Registry of the warning models (after timm's ``_registry`` and redash's runners).

Modules are listed explicitly in :data:`MODEL_MODULES`, not found by crawling; each
ends with ``register(TheModel)``. Registering a second class under a taken name is
refused.
"""

from __future__ import annotations

import fnmatch
import importlib
from typing import Any

from risk_models.base import RiskModel
from risk_models.features import feature

__all__ = [
    "MODEL_MODULES",
    "MODEL_NAMES",
    "get_model",
    "get_model_class",
    "list_models",
    "register",
]

#: The 15 warning models, in the catalogue order of DESIGN.md.
MODEL_NAMES: tuple[str, ...] = (
    "food_safety",
    "drug_device_retail",
    "special_equipment",
    "product_quality",
    "abnormal_operation",
    "registration_fraud",
    "complaint_surge",
    "price_violation",
    "advertising",
    "online_trade",
    "unlicensed_operation",
    "metrology",
    "trademark_ip",
    "prepaid_consumer",
    "certification",
)

#: Modules that register models, imported on first use.
MODEL_MODULES: tuple[str, ...] = ("risk_models.models",)

_REGISTRY: dict[str, type[RiskModel]] = {}
_loaded = False


def register(cls: type[RiskModel]) -> type[RiskModel]:
    """Register ``cls`` under ``cls.name``; usable as a class decorator.

    Raises
    ------
    ValueError
        If the name is empty or already registered to another class.
    KeyError
        If the class reads a feature that is not in the catalogue.
    """
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    for name in cls.features:
        feature(name)  # raises KeyError naming close features
    other = _REGISTRY.get(cls.name)
    if other is not None and other is not cls:
        raise ValueError(
            f"model name {cls.name!r} is already registered by "
            f"{other.__module__}.{other.__qualname__}"
        )
    _REGISTRY[cls.name] = cls
    return cls


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in MODEL_MODULES:
            importlib.import_module(module)
        _loaded = True


def list_models(pattern: str = "*") -> list[str]:
    """Return the registered names matching the shell-style ``pattern``, in catalogue order."""
    _load()
    order = {n: i for i, n in enumerate(MODEL_NAMES)}
    names = [n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern)]
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


def get_model_class(name: str) -> type[RiskModel]:
    """Return the class registered as ``name``.

    Raises
    ------
    KeyError
        If no model has that name.
    """
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(list_models())}") from None


def get_model(name: str, **params: Any) -> RiskModel:
    """Return a new, unfitted instance of model ``name`` with ``params``."""
    return get_model_class(name)(**params)
