"""Estimating the population's violation rate from draws, and comparing hit rates.

Inclusion probabilities stored with each draw make the Horvitz–Thompson estimator
unbiased, whatever the design's weighting (credit grades, risk), so the system can
report the province's violation rate honestly next to its targeted hit rates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = [
    "Estimate",
    "horvitz_thompson",
    "two_proportion_test",
    "wilson_interval",
    "wilson_intervals",
]


@dataclass
class Estimate:
    """A Horvitz–Thompson estimate of a population mean (rate) and total."""

    mean: float
    total: float
    variance: float
    se: float
    ci95: tuple[float, float]
    n: int
    N: float
    strata: dict[int, dict[str, float]] = field(default_factory=dict)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (``(0, 1)`` when ``n == 0``).

    Examples
    --------
    >>> lo, hi = wilson_interval(33, 100)
    >>> round(lo, 3), round(hi, 3)
    (0.246, 0.427)
    """
    if n == 0:
        return (0.0, 1.0)
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def wilson_intervals(successes: ArrayLike, n: ArrayLike, confidence: float = 0.95
                     ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Vectorised Wilson intervals (closed form); rows with ``n == 0`` give ``(0, 1)``."""
    k = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / m
        denom = 1 + z**2 / m
        centre = (p + z**2 / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z**2 / (4 * m**2)) / denom
    lo = np.where(m > 0, np.clip(centre - half, 0, 1), 0.0)
    hi = np.where(m > 0, np.clip(centre + half, 0, 1), 1.0)
    return lo, hi


def two_proportion_test(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """Pooled two-proportion z-test: ``(z, two-sided p-value)`` (NaN when undefined)."""
    if min(n1, n2) == 0:
        return (float("nan"), float("nan"))
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return (0.0, 1.0)
    z = (p1 - p2) / se
    return float(z), float(2 * stats.norm.sf(abs(z)))


def horvitz_thompson(
    y: ArrayLike,
    pi: ArrayLike,
    *,
    N: float | None = None,
    strata: ArrayLike | None = None,
    stratum_sizes: dict[int, float] | None = None,
    confidence: float = 0.95,
) -> Estimate:
    """Horvitz–Thompson estimate of the population mean of ``y`` (e.g. violation rate).

    Parameters
    ----------
    y : array_like of float, shape (n,)
        Outcome of each sampled unit (1 if a problem was found).
    pi : array_like of float, shape (n,)
        Each sampled unit's inclusion probability (stored with the draw).
    N : float, optional
        Population size; default ``Σ 1/π`` (then the mean is the Hájek ratio).
    strata : array_like of int, shape (n,), optional
        Stratum of each unit for a stratified SRS design; certainty units (π = 1)
        may share a stratum code (they add no variance).
    stratum_sizes : dict, optional
        ``N_h`` per stratum (default ``Σ_h 1/π``).
    confidence : float
        Level of the normal-approximation interval.

    Returns
    -------
    Estimate

    Raises
    ------
    ValueError
        If lengths differ or a probability is outside (0, 1].

    Notes
    -----
    Total ``Ŷ = Σ y_i/π_i`` (Horvitz & Thompson 1952). Variance: with strata, the
    exact stratified-SRS variance ``Σ_h N_h² (1 - n_h/N_h) s_h² / n_h`` over the
    non-certainty units; without strata, the with-replacement (Hansen–Hurwitz)
    approximation ``n/(n-1) Σ (y_i/π_i - Ŷ/n)²``, conservative for πps designs
    (Tillé 2006, §5.14).

    Examples
    --------
    >>> est = horvitz_thompson([1, 0, 0, 1], [0.5, 0.5, 0.1, 0.1], N=24)
    >>> round(est.total, 1), round(est.mean, 3)
    (12.0, 0.5)
    """
    yv = np.asarray(y, dtype=np.float64)
    p = np.asarray(pi, dtype=np.float64)
    if yv.shape != p.shape or yv.ndim != 1:
        raise ValueError("y and pi must be 1-D arrays of the same length")
    if np.any(~(p > 0)) or np.any(p > 1 + 1e-12):
        raise ValueError("inclusion probabilities must be in (0, 1]")
    n = len(yv)
    w = 1.0 / p
    total = float(np.sum(yv * w))
    pop = float(N) if N is not None else float(w.sum())
    per_stratum: dict[int, dict[str, float]] = {}
    if strata is not None:
        s = np.asarray(strata, dtype=np.int64)
        variance = 0.0
        random_units = p < 1.0
        for h in np.unique(s[random_units]):
            sel = (s == h) & random_units
            n_h = int(sel.sum())
            N_h = float(stratum_sizes[int(h)]) if stratum_sizes and int(h) in stratum_sizes else float(w[sel].sum())
            s2 = float(np.var(yv[sel], ddof=1)) if n_h > 1 else 0.0
            variance += N_h**2 * (1 - n_h / N_h) * s2 / n_h
            per_stratum[int(h)] = {"n": n_h, "N": N_h, "mean": float(yv[sel].mean()),
                                   "variance_of_mean": (1 - n_h / N_h) * s2 / n_h}
    else:
        z = yv * w
        variance = float(n / (n - 1) * np.sum((z - total / n) ** 2)) if n > 1 else 0.0
    mean = total / pop if pop else float("nan")
    var_mean = variance / pop**2 if pop else float("nan")
    se = float(np.sqrt(var_mean))
    zq = stats.norm.ppf(0.5 + confidence / 2)
    return Estimate(mean=mean, total=total, variance=var_mean, se=se,
                    ci95=(max(0.0, mean - zq * se), min(1.0, mean + zq * se)) if n else (0.0, 1.0),
                    n=n, N=pop, strata=per_stratum)
