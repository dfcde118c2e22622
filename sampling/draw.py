"""Drawing entities without replacement, with known inclusion probabilities.

Three designs, all vectorised (no Python loop over units):

* :func:`weighted_sample` — Efraimidis–Spirakis weighted sampling by exponential keys
  (successive sampling); the kernel the benchmarks time (:func:`exponential_keys`).
* :func:`stratified_sample` — simple random sampling without replacement inside each
  stratum (credit grade) at a per-stratum ratio, plus certainty units (forced in) and
  exclusions. Inclusion probabilities are exact: ``n_h / N_h`` in stratum ``h``.
* :func:`pps_sample` — probability proportional to size by systematic sampling on a
  randomly permuted list, with certainty units capped at 1. Inclusion probabilities are
  exact: ``π_i = min(1, c·w_i)`` with ``Σ π_i = k``.

Every function takes ``rng``: a seed, a :class:`numpy.random.Generator`, or ``None``
(``np.random.default_rng(rng)``); global seeding is never used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DrawResult",
    "exponential_keys",
    "pps_inclusion_probabilities",
    "pps_sample",
    "stratified_sample",
    "stratum_sizes",
    "weighted_sample",
]


@dataclass(frozen=True)
class DrawResult:
    """The outcome of a draw over a pool of ``N`` units.

    Attributes
    ----------
    indices : ndarray of int64
        Positions of the drawn units in the pool, sorted ascending.
    inclusion_probability : ndarray of float64
        Inclusion probability of each drawn unit (aligned with ``indices``).
    stratum : ndarray of int64
        Stratum code of each drawn unit (``-1`` without strata).
    forced : ndarray of bool
        Whether each drawn unit was a certainty unit (forced in).
    pi_all : ndarray of float64
        Inclusion probability of every pool unit (0 for excluded units).
    """

    indices: NDArray[np.int64]
    inclusion_probability: NDArray[np.float64]
    stratum: NDArray[np.int64]
    forced: NDArray[np.bool_]
    pi_all: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.indices)


def _mask(mask: ArrayLike | None, n: int, name: str) -> NDArray[np.bool_]:
    if mask is None:
        return np.zeros(n, dtype=bool)
    out = np.asarray(mask, dtype=bool)
    if out.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {out.shape}")
    return out


def exponential_keys(weights: ArrayLike, *, rng: Any = None) -> NDArray[np.float64]:
    """Efraimidis–Spirakis keys: the ``k`` smallest keys form a weighted sample.

    Parameters
    ----------
    weights : array_like of float, shape (N,)
        Non-negative weights; a zero weight gives the key ``inf`` (never drawn).
    rng : int, Generator or None
        Seed or generator.

    Returns
    -------
    keys : ndarray of float64, shape (N,)
        ``E_i / w_i`` with ``E_i`` standard exponential.

    Notes
    -----
    Efraimidis & Spirakis (2006), "Weighted random sampling with a reservoir",
    Information Processing Letters 97(5). Taking the ``k`` smallest ``E_i / w_i`` is
    equivalent to their ``U_i^(1/w_i)`` largest keys and numerically safer.

    Examples
    --------
    >>> keys = exponential_keys([1.0, 2.0, 0.0], rng=1)
    >>> bool(np.isinf(keys[2]))
    True
    """
    rng = np.random.default_rng(rng)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError("weights must be one-dimensional")
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    e = rng.standard_exponential(len(w))
    with np.errstate(divide="ignore"):
        return np.where(w > 0, e / np.where(w > 0, w, 1.0), np.inf)


def weighted_sample(
    population: ArrayLike,
    weights: ArrayLike | None,
    k: int,
    *,
    replace: bool = False,
    rng: Any = None,
) -> NDArray[Any]:
    """Draw ``k`` items of ``population`` with probability proportional to ``weights``.

    Parameters
    ----------
    population : array_like, shape (N,)
        Items to draw from.
    weights : array_like of float, shape (N,), or None
        Non-negative weights (``None``: equal weights).
    k : int
        Number of items.
    replace : bool, default False
        With replacement (independent draws) or without (successive sampling).
    rng : int, Generator or None
        Seed or generator.

    Returns
    -------
    sample : ndarray, shape (k,)
        Drawn items, in draw order (without replacement: by increasing key).

    Raises
    ------
    ValueError
        If lengths differ, a weight is negative or not finite, ``k`` is negative, or
        ``k`` exceeds the number of positive-weight items without replacement.

    Notes
    -----
    Without replacement this is Efraimidis–Spirakis sampling (see
    :func:`exponential_keys`); inclusion probabilities are those of successive
    sampling, not ``k·w/W`` — use :func:`pps_sample` when exact πps probabilities are
    needed.

    Examples
    --------
    >>> weighted_sample(["a", "b", "c", "d"], [1, 1, 1, 0], 3, rng=0).tolist()
    ['c', 'a', 'b']
    """
    rng = np.random.default_rng(rng)
    pop = np.asarray(population)
    n = len(pop)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"weights must have the population's length {n}, got {w.shape}")
    if k < 0:
        raise ValueError("k must be non-negative")
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    positive = int(np.count_nonzero(w))
    if replace:
        if k and positive == 0:
            raise ValueError("cannot draw from a population with no positive weight")
        return pop[rng.choice(n, size=k, replace=True, p=w / w.sum())] if k else pop[:0]
    if k > positive:
        raise ValueError(f"k={k} exceeds the {positive} items with positive weight (without replacement)")
    keys = exponential_keys(w, rng=rng)
    if k == 0:
        return pop[:0]
    part = np.argpartition(keys, k - 1)[:k] if k < n else np.arange(n)
    return pop[part[np.argsort(keys[part], kind="stable")]]


def stratum_sizes(n_frame: NDArray[np.int64], ratios: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.int64]:
    """Sample sizes ``n_h`` with ``E[n_h] = ratio_h · N_h`` exactly (random rounding).

    ``n_h = floor(r·N) + Bernoulli(frac(r·N))``: the expected size is exact, so
    ``E[n_h / N_h] = r_h`` and the inclusion probability of each unit is ``r_h``.
    """
    target = ratios * n_frame
    base = np.floor(target)
    extra = rng.random(len(target)) < (target - base)
    return np.minimum(base + extra, n_frame).astype(np.int64)


def stratified_sample(
    strata: ArrayLike,
    ratios: Mapping[int, float],
    *,
    forced: ArrayLike | None = None,
    excluded: ArrayLike | None = None,
    rng: Any = None,
) -> DrawResult:
    """Stratified simple random sampling without replacement, plus certainty units.

    Parameters
    ----------
    strata : array_like of int, shape (N,)
        Stratum code of each pool unit (e.g. credit grade A=0, B=1, C=2, D=3).
    ratios : mapping of int to float
        Sampling ratio in [0, 1] per stratum code; strata absent from the mapping
        are not sampled (ratio 0).
    forced : array_like of bool, shape (N,), optional
        Certainty units (e.g. entities with a red warning): always drawn, inclusion
        probability 1, taken out of their stratum's frame before sampling.
    excluded : array_like of bool, shape (N,), optional
        Units removed from the frame (inclusion probability 0). Exclusion wins over
        forcing.
    rng : int, Generator or None
        Seed or generator.

    Returns
    -------
    DrawResult

    Raises
    ------
    ValueError
        If a ratio is outside [0, 1] or not finite, or a mask has the wrong shape.

    Notes
    -----
    Within stratum ``h`` with ``N_h`` eligible units the sample size is
    ``n_h = floor(r_h N_h) + Bernoulli(frac(r_h N_h))`` and the sample is a simple
    random sample of that size, drawn as the ``n_h`` smallest exponential keys
    (equal weights). Each unit's inclusion probability is therefore exactly ``r_h``
    (Tillé 2006, *Sampling Algorithms*, §4 and §6), and the Horvitz–Thompson
    estimator with these probabilities is unbiased.

    Examples
    --------
    >>> r = stratified_sample([0, 0, 1, 1, 1, 1], {0: 0.5, 1: 0.5}, rng=3)
    >>> r.inclusion_probability.tolist()
    [0.5, 0.5, 0.5]
    """
    rng = np.random.default_rng(rng)
    s = np.asarray(strata, dtype=np.int64)
    if s.ndim != 1:
        raise ValueError("strata must be one-dimensional")
    n = len(s)
    for code, ratio in ratios.items():
        if not np.isfinite(ratio) or not 0.0 <= float(ratio) <= 1.0:
            raise ValueError(f"ratio of stratum {code} must be in [0, 1], got {ratio}")
    exc = _mask(excluded, n, "excluded")
    frc = _mask(forced, n, "forced") & ~exc
    codes = np.array(sorted(ratios), dtype=np.int64)
    rates = np.array([float(ratios[c]) for c in codes], dtype=np.float64)
    pi_all = np.zeros(n, dtype=np.float64)
    pi_all[frc] = 1.0
    frame = ~exc & ~frc
    drawn = frc.copy()
    if len(codes):
        # Map each unit to its position among the sampled strata (-1 = not sampled).
        if n and codes.min() >= 0 and codes.max() < 1 << 16 and s.min() >= 0:
            lut = np.full(max(int(codes.max()), int(s.max())) + 1, -1, dtype=np.int64)
            lut[codes] = np.arange(len(codes))
            slot = lut[s]
        else:
            order = np.searchsorted(codes, s)
            known = (order < len(codes)) & (codes[np.minimum(order, len(codes) - 1)] == s)
            slot = np.where(known, order, -1)
        slot[~frame] = -1
        n_frame = np.bincount(slot[slot >= 0], minlength=len(codes)).astype(np.int64)
        n_take = stratum_sizes(n_frame, rates, rng)
        in_frame = slot >= 0
        pi_all[in_frame] = rates[slot[in_frame]]
        keys = rng.standard_exponential(n)
        for h in np.flatnonzero(n_take):  # a loop over strata (a handful), not over units
            members = np.flatnonzero(slot == h)
            take = int(n_take[h])
            if take < len(members):
                members = members[np.argpartition(keys[members], take - 1)[:take]]
            drawn[members] = True
    idx = np.flatnonzero(drawn).astype(np.int64)
    return DrawResult(
        indices=idx,
        inclusion_probability=pi_all[idx],
        stratum=s[idx],
        forced=frc[idx],
        pi_all=pi_all,
    )


def pps_inclusion_probabilities(weights: ArrayLike, k: float) -> NDArray[np.float64]:
    """Inclusion probabilities ``π_i = min(1, c·w_i)`` with ``Σ π_i = k``.

    Units whose share would reach 1 are capped at certainty and ``c`` is re-solved on
    the rest, iteratively (Tillé 2006, §5.3).

    Raises
    ------
    ValueError
        If a weight is negative or not finite, or ``k`` exceeds the number of units
        with positive weight.
    """
    w = np.asarray(weights, dtype=np.float64)
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    positive = w > 0
    if k > np.count_nonzero(positive) + 1e-9:
        raise ValueError(f"k={k} exceeds the {np.count_nonzero(positive)} units with positive weight")
    pi = np.zeros(len(w))
    certain = np.zeros(len(w), dtype=bool)
    while True:
        rest = positive & ~certain
        remaining = k - np.count_nonzero(certain)
        total = w[rest].sum()
        if remaining <= 0 or total <= 0:
            break
        pi[rest] = remaining * w[rest] / total
        over = rest & (pi >= 1.0)
        if not over.any():
            break
        certain |= over
    pi[certain] = 1.0
    return pi


def pps_sample(
    weights: ArrayLike,
    k: int,
    *,
    forced: ArrayLike | None = None,
    excluded: ArrayLike | None = None,
    rng: Any = None,
) -> DrawResult:
    """Probability-proportional-to-size sample of ``k`` units without replacement.

    Parameters
    ----------
    weights : array_like of float, shape (N,)
        Size measure (e.g. credit odds × risk score), non-negative.
    k : int
        Sample size, certainty units included.
    forced : array_like of bool, shape (N,), optional
        Certainty units (inclusion probability 1), counted in ``k``.
    excluded : array_like of bool, shape (N,), optional
        Units removed from the frame.
    rng : int, Generator or None
        Seed or generator.

    Returns
    -------
    DrawResult

    Raises
    ------
    ValueError
        If ``k`` is negative, smaller than the number of forced units, or larger than
        the number of eligible units with positive weight.

    Notes
    -----
    Systematic πps on a randomly permuted list (Madow 1949, "On the theory of
    systematic sampling, II", Ann. Math. Stat. 20; Tillé 2006, §7.2): the cumulated
    probabilities of the permuted units are cut by the points ``u, u+1, …, u+k-1``
    with ``u ~ U(0, 1)``; unit ``i`` is drawn with probability exactly ``π_i``.

    Examples
    --------
    >>> r = pps_sample([1, 1, 2, 4], 2, rng=0)
    >>> r.pi_all.tolist()
    [0.25, 0.25, 0.5, 1.0]
    """
    rng = np.random.default_rng(rng)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError("weights must be one-dimensional")
    n = len(w)
    exc = _mask(excluded, n, "excluded")
    frc = _mask(forced, n, "forced") & ~exc
    if k < 0:
        raise ValueError("k must be non-negative")
    n_forced = int(frc.sum())
    if k < n_forced:
        raise ValueError(f"k={k} is smaller than the {n_forced} forced units")
    eligible = np.where(exc | frc, 0.0, w)
    pi_rest = pps_inclusion_probabilities(eligible, k - n_forced)
    pi_all = pi_rest.copy()
    pi_all[frc] = 1.0
    perm = rng.permutation(n)
    cum = np.cumsum(pi_rest[perm])
    u = rng.random()
    points = u + np.arange(k - n_forced)
    hit = np.searchsorted(cum, points, side="right")
    drawn = frc.copy()
    drawn[perm[hit[hit < n]]] = True
    idx = np.flatnonzero(drawn).astype(np.int64)
    return DrawResult(
        indices=idx,
        inclusion_probability=pi_all[idx],
        stratum=np.full(len(idx), -1, dtype=np.int64),
        forced=frc[idx],
        pi_all=pi_all,
    )
