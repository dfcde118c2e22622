"""The 15 risk-warning models; importing this package registers them all.

=====================  ==========================  ============================
model                  module                      kind
=====================  ==========================  ============================
food_safety            :mod:`.learned`             lightgbm
drug_device_retail     :mod:`.learned`             lightgbm
special_equipment      :mod:`.equipment`           rules+lightgbm
product_quality        :mod:`.quality`             statistical+lightgbm
abnormal_operation     :mod:`.operation`           rules+logistic
registration_fraud     :mod:`.registration`        graph+lightgbm
complaint_surge        :mod:`.complaints`          statistical
price_violation        :mod:`.price`               statistical
advertising            :mod:`.advertising`         rules
online_trade           :mod:`.learned`             lightgbm
unlicensed_operation   :mod:`.operation`           rules
metrology              :mod:`.equipment`           rules+lightgbm
trademark_ip           :mod:`.learned`             lightgbm
prepaid_consumer       :mod:`.learned`             lightgbm
certification          :mod:`.operation`           rules
=====================  ==========================  ============================

Besides the models, this package gives the server two helpers:
:func:`make_model_matrix` (catalogue columns → a model's ``X``) and
:func:`score_all` (every model over a population, with levels and the warned rows'
reasons).

How to use a model
------------------
* **Score** the whole population of the model's business types at once:
  ``s = model.score_samples(X)`` (0 where the model does not apply),
  ``levels = model.warning_levels(s)``. Do not pre-filter ``X`` to the applicable
  rows: ``registration_fraud`` (graph) and ``complaint_surge`` (peers) compute
  context over the rows passed.
* **Explain** the warned rows within that population:
  ``model.explain(X, top=3, rows=np.flatnonzero(levels > 0))``; cite
  ``model.cited_articles(explanation.codes)``; ``explanation.details`` holds the
  matched advert term or the count test that fired.
* **Train** with ``model.fit(X, y, population=X_latest)``: ``y`` is 1/0 for
  inspected rows and may be NaN for rows not inspected; ``population`` (the latest
  snapshot) bounds the warning volume. For context models pass a whole snapshot
  with NaN labels, or stacked snapshots with ``groups=snapshot_date``. With fewer
  than ``min_labels`` outcomes (or one class) the model stays on its cold-start
  prior (``cold_start_``) and still warns by volume.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from risk_models.base import BIAS_CODE, Explanation, RiskModel
from risk_models.features import feature
from risk_models.models import (  # noqa: F401 - imported to register the models
    advertising,
    complaints,
    equipment,
    learned,
    operation,
    price,
    quality,
    registration,
)

__all__ = ["ModelScores", "make_model_matrix", "reason_label", "score_all"]


def make_model_matrix(
    model: type[RiskModel] | RiskModel,
    columns: Mapping[str, Any],
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Stack a model's features from a name → array mapping, in ``features`` order.

    Parameters
    ----------
    model : RiskModel class or instance
        Whose ``features`` to stack.
    columns : mapping of str to array of shape (n,)
        Catalogue columns (a dict, a pandas DataFrame, a structured array...).
    rows : array of int or bool mask, optional
        Rows to keep (e.g. the model's business types).

    Returns
    -------
    ndarray of shape (n_rows, len(features))
        float64, or object when the model reads a text feature (numbers stay floats).

    Raises
    ------
    KeyError
        If a feature is missing from ``columns``.
    """
    names = (model if isinstance(model, type) else type(model)).features
    missing = [f for f in names if f not in _keys(columns)]
    if missing:
        raise KeyError(f"columns lack the features {missing}")

    def col(name: str) -> np.ndarray:
        a = np.asarray(columns[name])
        return a if rows is None else a[rows]

    first = col(names[0])
    n = len(first)
    text = any(feature(f).kind == "text" for f in names)
    out = np.empty((n, len(names)), dtype=object if text else np.float64)
    for j, name in enumerate(names):
        a = first if j == 0 else col(name)
        if len(a) != n:
            raise ValueError(f"column {name!r} has {len(a)} rows, expected {n}")
        if feature(name).kind == "text":
            out[:, j] = np.where(a == None, "", a)  # noqa: E711 - elementwise None test
        else:
            out[:, j] = a.astype(np.float64, copy=False)
    return out


def _keys(columns: Mapping[str, Any]) -> set[str]:
    names = getattr(getattr(columns, "dtype", None), "names", None)  # structured array
    return set(names) if names else set(columns.keys())


class ModelScores(NamedTuple):
    """One model's results over a population (arrays of the population's length)."""

    scores: np.ndarray
    levels: np.ndarray
    applicable: np.ndarray
    warned: np.ndarray
    explanation: Explanation | None


def score_all(
    columns: Mapping[str, Any],
    models: Mapping[str, RiskModel],
    *,
    business_type: np.ndarray | None = None,
    explain_top: int | None = 3,
) -> dict[str, ModelScores]:
    """Score a population with every fitted model.

    Parameters
    ----------
    columns : mapping of str to array of shape (n,)
        Catalogue columns of the whole population (context models need it whole).
    models : mapping of str to RiskModel
        Fitted models by name.
    business_type : ndarray of str, shape (n,), optional
        Each entity's business type; a model with ``business_types`` only scores
        those rows (others get score 0, not applicable).
    explain_top : int or None
        Reasons per warned row (``None``: no explanations).

    Returns
    -------
    dict of str to ModelScores
        ``warned`` holds the indices of rows at level >= yellow, and
        ``explanation`` their reasons in the same order.
    """
    n = len(np.asarray(columns[next(iter(_keys(columns)))]))
    out = {}
    for name, model in models.items():
        cls = type(model)
        rows = None
        if cls.business_types is not None and business_type is not None:
            rows = np.flatnonzero(np.isin(business_type, list(cls.business_types)))
        X = make_model_matrix(model, columns, rows)
        s = model.score_samples(X)
        app = model.applicable(X)
        lv = model.warning_levels(s)
        warned_local = np.flatnonzero(lv > 0)
        explanation = (model.explain(X, top=explain_top, rows=warned_local)
                       if explain_top is not None else None)
        idx = np.arange(n) if rows is None else rows
        scores = np.zeros(n)
        levels = np.zeros(n, dtype=np.int8)
        applicable = np.zeros(n, dtype=bool)
        scores[idx], levels[idx], applicable[idx] = s, lv, app
        out[name] = ModelScores(scores, levels, applicable, idx[warned_local], explanation)
    return out


def reason_label(model: type[RiskModel] | RiskModel, code: str) -> str:
    """Return the Chinese label of a reason code of ``model`` (rule code or feature)."""
    cls = model if isinstance(model, type) else type(model)
    if code in cls.reason_labels:
        return cls.reason_labels[code]
    if code == BIAS_CODE:
        return "基准风险"
    try:
        return feature(code).label
    except KeyError:
        return code
