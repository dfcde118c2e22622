"""The cold-start credit scorecard: expert points used until enough outcomes are recorded.

A new deployment has no inspection outcomes to train :class:`risk_models.credit.CreditModel`
on. Until it has, grades come from this transparent points table (the kind regulators
publish in their 信用风险分类 rules): every entity starts at :data:`BASE_POINTS` and loses
points per adverse record, capped per indicator. Same interface as the trained model:
``score(X)``, ``reasons(X)``, ``grade(X, ...)``. Arrays in, arrays out.
"""

from __future__ import annotations

import gc

import numpy as np

from risk_models.features import FEATURES

BASE_POINTS = 900.0

#: indicator → (points lost per unit, cap on points lost)
POINTS: dict[str, tuple[float, float]] = {
    "on_serious_violation_list": (400.0, 400.0),
    "on_abnormal_list": (200.0, 200.0),
    "address_unreachable": (150.0, 150.0),
    "closure_signal": (100.0, 100.0),
    "court_enforcement": (120.0, 120.0),
    "tax_arrears": (100.0, 100.0),
    "penalties_3y": (60.0, 180.0),
    "annual_report_late_3y": (40.0, 120.0),
    "annual_report_missing": (80.0, 80.0),
    "inspection_problems_3y": (80.0, 240.0),
    "last_inspection_problem": (40.0, 40.0),
    "warnings_confirmed_2y": (80.0, 160.0),
    "complaints_365d": (12.0, 120.0),
    # failed sampling tests (监督抽检不合格), per failed batch
    "tests_failed_3y_food": (60.0, 180.0),
    "tests_failed_3y_drug": (60.0, 180.0),
    "tests_failed_3y_product": (60.0, 180.0),
    "tests_failed_3y_authenticity": (60.0, 180.0),
}
LABELS = {f.name: f.label for f in FEATURES}
#: default target shares of the grades (A best): the trained card's (DEFAULT_TARGET_SHARES
#: of :mod:`risk_models.credit`), so grades do not jump when the first card is trained
TARGET_SHARES = {"A": 0.30, "B": 0.50, "C": 0.15, "D": 0.05}


class PriorScorecard:
    """Points table scorecard; ``feature_names`` are the columns of ``X``."""

    version = "prior-1"

    def __init__(self, feature_names: list[str]) -> None:
        self.feature_names = list(feature_names)
        self._cols = [self.feature_names.index(n) for n in POINTS]
        self._per = np.array([POINTS[n][0] for n in POINTS])
        self._cap = np.array([POINTS[n][1] for n in POINTS])

    def points_lost(self, X: np.ndarray) -> np.ndarray:
        v = np.nan_to_num(np.asarray(X, dtype=np.float64)[:, self._cols], nan=0.0)
        return np.minimum(np.clip(v, 0, None) * self._per, self._cap)

    def score(self, X: np.ndarray) -> np.ndarray:
        return np.clip(BASE_POINTS - self.points_lost(X).sum(axis=1), 0.0, 1000.0)

    def reasons(self, X: np.ndarray, top: int = 3) -> list[list[dict[str, object]]]:
        """Per row, the records that cost it most points, with its values in plain Chinese
        (:func:`risk_models.credit.point_reasons`).
        """
        from risk_models.credit import point_reasons

        X = np.asarray(X, dtype=np.float64)
        lost = self.points_lost(X)
        order = np.argsort(-lost, axis=1, kind="stable")[:, :top]
        worst = np.take_along_axis(lost, order, axis=1)
        cols = np.where(worst > 0, np.asarray(self._cols)[order], -1)
        values = np.take_along_axis(X, np.maximum(cols, 0), axis=1)
        return point_reasons(cols, values, worst, self.feature_names)

    def grade(self, X: np.ndarray, *, serious_violation: np.ndarray | None = None,
              abnormal_list: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list[list[dict[str, object]]]]:
        scores = self.score(X)
        grades = grades_by_share(scores, TARGET_SHARES)
        reasons = self.reasons(X)
        grades = apply_overrides(grades, reasons, serious_violation, abnormal_list)
        return scores, grades, reasons


def reason_dicts(index: np.ndarray, lost: np.ndarray, codes: list[str],
                 labels: list[str]) -> list[list[dict[str, object]]]:
    """Per row, ``{"code", "label", "points_lost"}`` of each indicator ``index`` names (``-1``: none).

    Packaging only: the arrays are computed in bulk. Plain int lists index the names
    (faster than object arrays), and the cyclic garbage collector, which a million rows
    of new containers would trigger again and again, waits (no cycles are made).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return [
            [{"code": codes[i], "label": labels[i], "points_lost": v}
             for i, v in zip(ir, vr, strict=True) if i >= 0]
            for ir, vr in zip(np.asarray(index).tolist(), np.round(lost, 1).tolist(), strict=True)
        ]
    finally:
        if enabled:
            gc.enable()


def grades_by_share(scores: np.ndarray, shares: dict[str, float]) -> np.ndarray:
    """A for the best ``shares['A']`` of scores, then B, C, D (ties share a grade)."""
    n = len(scores)
    if n == 0:
        return np.zeros(0, dtype="U1")
    cum = np.cumsum([shares[g] for g in "ABC"])
    cutoffs = np.quantile(scores, 1 - cum)  # descending scores
    grades = np.full(n, "D", dtype="U1")
    for g, cut in zip("CBA", cutoffs[::-1], strict=True):
        grades[scores >= cut] = g
    return grades


def apply_overrides(grades: np.ndarray, reasons: list[list[dict[str, object]]],
                    serious_violation: np.ndarray | None, abnormal_list: np.ndarray | None) -> np.ndarray:
    """Serious-violation list → D; abnormal-operation list → at most C (reason recorded)."""
    grades = grades.copy()
    if abnormal_list is not None:
        hit = np.asarray(abnormal_list, dtype=bool) & np.isin(grades, ["A", "B"])
        grades[hit] = "C"
        for i in np.flatnonzero(hit):
            reasons[i].insert(0, {"code": "override_abnormal_list", "label": "列入经营异常名录，信用等级最高为C级",
                                  "points_lost": 0.0})
    if serious_violation is not None:
        hit = np.asarray(serious_violation, dtype=bool)
        grades[hit] = "D"
        for i in np.flatnonzero(hit):
            reasons[i].insert(0, {"code": "override_serious_violation", "label": "列入严重违法失信名单，信用等级为D级",
                                  "points_lost": 0.0})
    return grades
