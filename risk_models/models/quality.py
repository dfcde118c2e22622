"""Product quality: beta-binomial shrinkage of sampling-test failure rates + LightGBM.

A manufacturer with 1 failure in 2 tests is not a 50 % failer: its failure rate is
shrunk towards the population's with a beta prior whose parameters are fitted by the
method of moments across all tested entities. The shrunk rate and the posterior
probability that the entity's true rate exceeds twice the population's drive the
prior; LightGBM adds complaints and history once outcomes exist.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import betaincc

from risk_models.models._framework import Columns, LGBMDomainModel, Terms, TermsBuilder
from risk_models.registry import register

__all__ = ["ProductQuality", "beta_binomial_prior"]


def beta_binomial_prior(
    failed: np.ndarray,
    tested: np.ndarray,
    *,
    min_entities: int = 10,
    default_strength: float = 20.0,
) -> tuple[float, float]:
    """Fit the beta prior of per-entity failure rates by the method of moments.

    Parameters
    ----------
    failed, tested : ndarray of shape (n,)
        Failed and total sampling tests per entity (entities with no test ignored).
    min_entities : int
        Fewer tested entities than this, or no spread to measure, fall back to a
        prior of ``default_strength`` pseudo-tests at the pooled rate.
    default_strength : float
        ``alpha + beta`` of the fallback prior.

    Returns
    -------
    (alpha, beta) : tuple of float

    Notes
    -----
    With pooled rate ``m = sum f / sum n`` and ``S = sum n_i (f_i/n_i - m)^2``, the
    beta-binomial gives ``E[S] ~ m (1 - m) (k + rho sum (n_i - 1))`` for ``k``
    entities, where ``rho = 1 / (alpha + beta + 1)`` is the intra-entity
    correlation (Kleinman 1973). Solving for ``rho`` gives ``alpha + beta``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.beta(2.0, 38.0, size=5000)
    >>> n = rng.integers(1, 30, size=5000)
    >>> a, b = beta_binomial_prior(rng.binomial(n, p), n)
    >>> round(a / (a + b), 3), 20 < a + b < 60
    (0.05, True)
    """
    f = np.nan_to_num(np.asarray(failed, dtype=np.float64), nan=0.0)
    n = np.nan_to_num(np.asarray(tested, dtype=np.float64), nan=0.0)
    keep = n >= 1
    f, n = np.minimum(f[keep], n[keep]), n[keep]
    total_f, total_n = f.sum(), n.sum()
    m = float(np.clip((total_f + 1.0) / (total_n + default_strength), 1e-4, 0.5))
    strength = default_strength
    spare = float(np.sum(n - 1.0))
    if len(n) >= min_entities and total_f > 0 and spare > 0:
        m = float(np.clip(total_f / total_n, 1e-4, 0.5))
        S = float(np.sum(n * (f / n - m) ** 2))
        rho = (S / (m * (1.0 - m)) - len(n)) / spare
        rho = float(np.clip(rho, 1e-3, 0.5))
        strength = 1.0 / rho - 1.0
    return m * strength, (1.0 - m) * strength


class ProductQuality(LGBMDomainModel):
    """Manufacturers: shrunk failure rate of sampling tests, complaints, history."""

    name = "product_quality"
    description = "产品质量风险预警"
    domain = "product_quality"
    kind = "statistical+lightgbm"
    features = (
        "age_years",
        "penalties_3y",
        "inspection_problems_3y",
        "problem_rate_shrunk",
        "last_inspection_problem",
        "complaints_90d_quality",
        "complaints_365d_quality",
        "tests_3y_product",
        "tests_failed_3y_product",
    )
    business_types = frozenset({"manufacturer"})
    legal_basis = (("产品质量法", 13), ("产品质量法", 26), ("产品质量法", 32))
    rule_articles: ClassVar[dict[str, tuple[str, int]]] = {
        "failure_rate_shrunk": ("产品质量法", 13),
        "failure_rate_excess_prob": ("产品质量法", 13),
        "complaints_90d_quality": ("产品质量法", 26),
    }
    reason_labels: ClassVar[dict[str, str]] = {
        "failure_rate_shrunk": "产品抽检不合格率(贝叶斯收缩估计)",
        "failure_rate_excess_prob": "抽检不合格率超过总体两倍的后验概率",
    }
    derived_monotone: ClassVar[dict[str, int]] = {
        "failure_rate_shrunk": 1,
        "failure_rate_excess_prob": 1,
    }
    default_volume = (0.01, 0.0035, 0.001)

    def _applicable_cols(self, C: Columns) -> np.ndarray:
        return (C.count("tests_3y_product") > 0) | (C.count("complaints_365d_quality") > 0)

    def _fit_population(self, C: Columns) -> None:
        self.alpha_, self.beta_ = beta_binomial_prior(
            C.count("tests_failed_3y_product"), C.count("tests_3y_product"))

    def _rates(self, C: Columns) -> tuple[np.ndarray, np.ndarray, float]:
        n = C.count("tests_3y_product")
        f = np.minimum(C.count("tests_failed_3y_product"), n)
        a, b = self.alpha_, self.beta_
        mean = a / (a + b)
        shrunk = (f + a) / (n + a + b)
        # P(rate > 2 mean | data) under the Beta(a + f, b + n - f) posterior
        excess = betaincc(a + f, b + n - f, min(2.0 * mean, 1.0))
        return shrunk, excess, mean

    def _derived(self, C: Columns, ctx: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
        shrunk, excess, _ = self._rates(C)
        codes = ["failure_rate_shrunk", "failure_rate_excess_prob"]
        return codes, np.column_stack([shrunk, excess])

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        shrunk, excess, mean = self._rates(C)
        b = TermsBuilder(len(C), bias=-3.6)
        b.add("failure_rate_shrunk", np.clip(np.log(shrunk / mean), 0.0, 3.0), 1.6, shrunk)
        b.add("failure_rate_excess_prob", excess, 1.5)
        b.feature(C, "complaints_90d_quality", 0.7)
        b.feature(C, "complaints_365d_quality", 0.3)
        b.feature(C, "last_inspection_problem", 0.8, how="flag")
        b.feature(C, "penalties_3y", 0.4)
        return b.build()


register(ProductQuality)
