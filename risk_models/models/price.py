"""Price violation: deviation from regional peer prices, weighted in emergency windows.

The server measures each monitored price against the median of the same goods in the
same region (``price_deviation_max``/``_mean``, relative). This model turns those
deviations into robust z-scores against the population of monitored entities
(median and MAD fitted at ``fit``), and weights the mean deviation by the share of
records taken in emergency windows, when price gouging (哄抬价格) is the concern.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from risk_models.models._framework import Columns, DomainModel, Terms, TermsBuilder
from risk_models.registry import register

__all__ = ["PriceViolation", "robust_location_scale"]

_Z_CAP = 8.0


def robust_location_scale(x: np.ndarray, *, min_scale: float = 0.02) -> tuple[float, float]:
    """Median and MAD scale (``1.4826 * MAD``, floored) of the finite values of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> [round(v, 4) for v in robust_location_scale(np.array([0.0, 0.1, 0.2, np.nan, 5.0]))]
    [0.15, 0.1483]
    """
    v = np.asarray(x, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return 0.0, min_scale
    center = float(np.median(v))
    return center, max(1.4826 * float(np.median(np.abs(v - center))), min_scale)


class PriceViolation(DomainModel):
    """Price gouging and price fraud: robust z of peer price deviation."""

    name = "price_violation"
    description = "价格违法风险预警"
    domain = "price_violation"
    kind = "statistical"
    features = (
        "price_reports_90d",
        "price_deviation_max",
        "price_deviation_mean",
        "emergency_price_reports",
        "complaints_90d_price",
        "complaints_365d_price",
        "penalties_3y",
        "last_inspection_problem",
    )
    business_types = None
    legal_basis = (("价格法", 14), ("价格违法行为行政处罚规定", 6))
    rule_articles: ClassVar[dict[str, tuple[str, int]]] = {
        "emergency_gouging": ("价格违法行为行政处罚规定", 6),
        "price_deviation_max_z": ("价格法", 14),
        "price_deviation_mean_z": ("价格法", 14),
    }
    reason_labels: ClassVar[dict[str, str]] = {
        "price_deviation_max_z": "最高价格偏离区域同行中位数(稳健z值)",
        "price_deviation_mean_z": "平均价格偏离区域同行中位数(稳健z值)",
        "emergency_gouging": "应急期间价格明显高于同行(疑似哄抬价格)",
    }
    default_volume = (0.005, 0.0017, 0.0005)

    def _applicable_cols(self, C: Columns) -> np.ndarray:
        return C.count("price_reports_90d") > 0

    def _fit_population(self, C: Columns) -> None:
        loc_max, scale_max = robust_location_scale(C.num("price_deviation_max"))
        loc_mean, scale_mean = robust_location_scale(C.num("price_deviation_mean"))
        self.center_ = np.array([loc_max, loc_mean])
        self.scale_ = np.array([scale_max, scale_mean])

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        dev_max, dev_mean = C.num("price_deviation_max"), C.num("price_deviation_mean")
        z_max = np.clip(np.nan_to_num((dev_max - self.center_[0]) / self.scale_[0]), 0.0, _Z_CAP)
        z_mean = np.clip(np.nan_to_num((dev_mean - self.center_[1]) / self.scale_[1]), 0.0, _Z_CAP)
        reports = C.count("price_reports_90d")
        emergency = np.divide(C.count("emergency_price_reports"), reports,
                              out=np.zeros(len(C)), where=reports > 0).clip(0.0, 1.0)
        b = TermsBuilder(len(C), bias=-4.4)
        b.add("price_deviation_max_z", z_max, 0.4, dev_max)
        b.add("price_deviation_mean_z", z_mean, 0.4, dev_mean)
        b.add("emergency_gouging", emergency * z_mean, 0.5, emergency)
        b.feature(C, "complaints_90d_price", 0.7)
        b.feature(C, "penalties_3y", 0.3)
        b.feature(C, "last_inspection_problem", 0.6, how="flag")
        return b.build()


register(PriceViolation)
