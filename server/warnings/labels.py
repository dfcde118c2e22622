"""Chinese names of the warning models, for pages and reasons."""

from __future__ import annotations

from functools import cache


@cache
def _labels() -> dict[str, str]:
    from risk_models.registry import get_model_class, list_models

    out = {"credit": "公共信用评价"}
    for name in list_models():
        out[name] = get_model_class(name).description or name
    return out


def model_label(name: str) -> str:
    try:
        return _labels().get(name, name)
    except Exception:  # registry not importable yet: fall back to the code name
        return name
