"""Monotone binned scorecard: binning, sign-constrained logistic regression, points 0–1000.

:class:`MonotoneBinner` cuts every feature into quantile pre-bins and merges
adjacent bins until the event rate is monotone in the feature's direction and every
bin holds a minimum share of the weight; missing values always form a bin of their
own. Each bin gets a weight of evidence (WoE) and an information value (IV).

:class:`Scorecard` turns the bins into points (after optbinning's ``Scorecard``): a
logistic regression, fitted by L-BFGS-B under sign bounds, either on the bins
themselves (``encoding="bins"``, default: one non-negative step per boundary between
adjacent bins, so every bin's points are fitted jointly with the other features and
stay monotone) or on WoE (``encoding="woe"``, one weight per feature bounded to
``<= 0``). Optionally (``segment_by="auto"``) the rows are first split by a shallow
decision tree into 2–4 segments, each with its own monotone binned card, the split
(or none) chosen by cross-validated AUC on the training rows. The total score lies in
[0, 1000] and is higher for better credit (lower event probability), scaled by
"points to double the odds" (``pdo``) and a score (``base_score``) at given good:bad
odds (``base_odds``). Its :meth:`Scorecard.table` (feature, bin, count, event rate,
WoE, points, segment) can be exported with :meth:`Scorecard.to_csv`;
:meth:`Scorecard.reasons` names, per row, the features that cost the most points
compared with each feature's best bin in the row's segment.

Scoring is a gather from one flat points table per (segment, bin) index: no per-row Python,
about a second for 1,000,000 rows × 40 features (:func:`bench_scorecard`).

Conventions
-----------
* The event (class 1, e.g. "inspection found a problem", "bankrupt") is the *bad*
  outcome. WoE follows the credit-scoring convention of optbinning (Siddiqi):
  ``WoE = ln(%non-events / %events)``, so a positive WoE marks a better-than-average
  bin and the logistic coefficients on WoE are negative.
* ``direction`` per feature: ``"ascending"`` (event rate rises with the value,
  ``higher_is_riskier=True`` in :mod:`risk_models.features`), ``"descending"``, or
  ``"auto"`` (the sign of the weighted Spearman correlation with the event).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, check_cv
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import assert_all_finite
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d
from threadpoolctl import threadpool_limits

__all__ = [
    "DIRECTIONS",
    "ENCODINGS",
    "SEGMENT_CANDIDATES",
    "CardSegment",
    "FeatureBins",
    "MonotoneBinner",
    "ScoreReasons",
    "Scorecard",
    "SegmentRule",
    "bench_scorecard",
    "ks_statistic",
]

#: Allowed monotonic directions of a feature's event rate.
DIRECTIONS = ("ascending", "descending", "auto")

#: How a feature's missing bin gets its points (see :class:`Scorecard`).
MISSING_POLICIES = ("fit", "neutral", "first")

#: Label of the bin of missing values.
MISSING_LABEL = "Missing"

#: Score range of :meth:`Scorecard.score`.
SCORE_MIN, SCORE_MAX = 0.0, 1000.0


# -- binning --------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureBins:
    """The bins of one feature.

    Bin ``k`` (``k < len(edges)``) holds ``edges[k-1] <= x < edges[k]`` (open at
    the ends); bin ``len(edges)`` holds ``x >= edges[-1]``; the last bin (index
    ``n_bins - 1``) holds the missing values.

    Attributes
    ----------
    edges : ndarray of float
        Increasing cut points.
    direction : str
        ``"ascending"`` or ``"descending"`` (resolved from ``"auto"``).
    events, non_events : ndarray of float, shape (n_bins,)
        Weighted event and non-event counts per bin, missing bin last.
    woe : ndarray of float, shape (n_bins,)
        Weight of evidence, ``ln(%non-events / %events)``, 0 for an empty bin.
    iv : float
        Information value of the feature.
    """

    edges: np.ndarray
    direction: str
    events: np.ndarray
    non_events: np.ndarray
    woe: np.ndarray
    iv: float

    @property
    def n_bins(self) -> int:
        """Number of bins, the missing bin included."""
        return len(self.edges) + 2

    @property
    def counts(self) -> np.ndarray:
        """Weighted count per bin."""
        return self.events + self.non_events

    @property
    def event_rate(self) -> np.ndarray:
        """Event rate per bin (NaN for an empty bin)."""
        n = self.counts
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, self.events / np.where(n > 0, n, 1.0), np.nan)

    def labels(self) -> list[str]:
        """Human-readable interval of each bin, missing last."""
        e = [f"{v:.6g}" for v in self.edges]
        if not e:
            return ["(-inf, inf)", MISSING_LABEL]
        out = [f"(-inf, {e[0]})"]
        out += [f"[{a}, {b})" for a, b in zip(e[:-1], e[1:], strict=True)]
        out.append(f"[{e[-1]}, inf)")
        return [*out, MISSING_LABEL]


def _weighted_edges(x: np.ndarray, w: np.ndarray, n_bins: int) -> np.ndarray:
    """Return the distinct weighted quantiles (inverted CDF) cutting ``x`` in ``n_bins``."""
    keep = w > 0
    x, w = x[keep], w[keep]
    if len(x) == 0 or n_bins < 2:
        return np.empty(0)
    order = np.argsort(x, kind="stable")
    xs, cw = x[order], np.cumsum(w[order])
    targets = cw[-1] * np.arange(1, n_bins) / n_bins
    pos = np.minimum(np.searchsorted(cw, targets, side="left"), len(xs) - 1)
    return np.unique(xs[pos])


def _weighted_spearman(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted Spearman correlation (mid-ranks by cumulative weight); 0 if undefined.

    Ranks built from cumulative weights make the result the same for integer weights
    and repeated rows, and blind to zero-weight rows.
    """
    keep = w > 0
    x, y, w = x[keep], y[keep], w[keep]
    if len(x) < 2:
        return 0.0

    def ranks(v: np.ndarray) -> np.ndarray:
        u, inv = np.unique(v, return_inverse=True)
        wu = np.bincount(inv, weights=w, minlength=len(u))
        mid = np.cumsum(wu) - wu / 2.0
        return mid[inv]

    rx, ry = ranks(x), ranks(y)
    W = w.sum()
    mx, my = (w * rx).sum() / W, (w * ry).sum() / W
    cov = (w * (rx - mx) * (ry - my)).sum()
    vx, vy = (w * (rx - mx) ** 2).sum(), (w * (ry - my) ** 2).sum()
    if vx <= 0 or vy <= 0:
        return 0.0
    return float(cov / np.sqrt(vx * vy))


def _merge_monotone(
    edges: np.ndarray, ev: np.ndarray, ne: np.ndarray, ascending: bool, min_share: float,
    total: float, protected: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge adjacent pre-bins: drop empty ones, pool violators, enforce a minimum share.

    ``edges[k]`` separates bin ``k`` from bin ``k + 1``; merging two bins deletes the
    edge between them. Pooling adjacent violators (also ties, so the rates end
    strictly monotone) yields the finest monotone binning; merging two adjacent bins
    of a monotone sequence keeps it monotone, so the share pass cannot break it.

    A ``protected`` edge (e.g. 1 for a count: "no record" vs "at least one") is never
    deleted: the bins on either side are pooled and merged on their own side only, and
    a side without any training row stays an empty bin of its own (its points then come
    from the scorecard's prior, or equal its neighbour's). The event rates across the
    protected edge may be out of order: the scorecard's sign bounds keep the points
    monotone there.
    """
    bins = [[float(a), float(b)] for a, b in zip(ev, ne, strict=True)]
    cuts = list(edges)  # cuts[k] is the upper edge of bins[k]

    def fixed(k: int) -> bool:  # may bins k and k + 1 not be merged?
        return protected is not None and cuts[k] == protected

    def merge(k: int) -> None:  # bins k and k + 1
        bins[k][0] += bins[k + 1][0]
        bins[k][1] += bins[k + 1][1]
        del bins[k + 1]
        del cuts[k]

    def size(b: list[float]) -> float:
        return b[0] + b[1]

    # empty pre-bins (quantile ties, zero weights) join a neighbour on their side
    k = 0
    while k < len(bins) and len(bins) > 1:
        if size(bins[k]) <= 0:
            if k < len(bins) - 1 and not fixed(k):
                merge(k)
            elif k > 0 and not fixed(k - 1):
                merge(k - 1)
                k -= 1
            else:
                k += 1
        else:
            k += 1

    def rate(b: list[float]) -> float:
        return b[0] / size(b)

    def violates(a: list[float], b: list[float]) -> bool:
        return rate(a) >= rate(b) if ascending else rate(a) <= rate(b)

    k = 0
    while k < len(bins) - 1:
        if not fixed(k) and size(bins[k]) > 0 and size(bins[k + 1]) > 0 \
                and violates(bins[k], bins[k + 1]):
            merge(k)
            k = max(k - 1, 0)
        else:
            k += 1

    while len(bins) > 1:
        shares = np.array([size(b) / total for b in bins])
        done = True
        for k in np.argsort(shares, kind="stable").tolist():
            if shares[k] >= min_share:
                break
            left = k > 0 and not fixed(k - 1)
            right = k < len(bins) - 1 and not fixed(k)
            if not (left or right):
                continue  # alone between protected edges: kept however small
            if left and right:
                dl = abs(rate(bins[k - 1]) - rate(bins[k])) if size(bins[k]) > 0 else 0.0
                dr = abs(rate(bins[k + 1]) - rate(bins[k])) if size(bins[k]) > 0 else 0.0
                merge(k - 1 if dl <= dr else k)
            else:
                merge(k - 1 if left else k)
            done = False
            break
        if done:
            break
    arr = np.asarray(bins, dtype=np.float64).reshape(-1, 2)
    return np.asarray(cuts, dtype=np.float64), arr[:, 0], arr[:, 1]


def _woe_iv(ev: np.ndarray, ne: np.ndarray, smoothing: float) -> tuple[np.ndarray, float]:
    E, NE, k = ev.sum(), ne.sum(), len(ev)
    if E <= 0 or NE <= 0:
        return np.zeros(k), 0.0
    pe = (ev + smoothing) / (E + smoothing * k)
    pn = (ne + smoothing) / (NE + smoothing * k)
    woe = np.where(ev + ne > 0, np.log(pn / pe), 0.0)
    iv = float(np.sum((ne / NE - ev / E) * woe))
    return woe, iv


def _check_sample_weight(sample_weight: Any, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    sw = np.asarray(sample_weight, dtype=np.float64)
    if sw.ndim == 0:
        sw = np.full(n, float(sw))
    if sw.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
    if not np.all(np.isfinite(sw)) or np.any(sw < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    if n and not np.any(sw > 0):
        raise ValueError("sample_weight is zero for every row; nothing to learn from")
    return sw


def _check_binning_params(
    *, max_prebins: Any, min_bin_share: Any, directions: Any, woe_smoothing: Any,
    split_points: Any = None,
) -> None:
    if isinstance(max_prebins, bool) or not isinstance(max_prebins, int | np.integer):
        raise TypeError(f"max_prebins must be an int, got {type(max_prebins).__name__}")
    if max_prebins < 2:
        raise ValueError(f"max_prebins must be >= 2, got {max_prebins}")
    if not isinstance(min_bin_share, int | float) or isinstance(min_bin_share, bool):
        raise TypeError(f"min_bin_share must be a float, got {type(min_bin_share).__name__}")
    if not 0.0 <= min_bin_share < 0.5:
        raise ValueError(f"min_bin_share must be in [0, 0.5), got {min_bin_share}")
    if directions is not None:
        if isinstance(directions, str) or not isinstance(directions, Sequence):
            raise TypeError("directions must be None or a sequence of str, one per feature")
        bad = [d for d in directions if d not in DIRECTIONS]
        if bad:
            raise ValueError(f"unknown directions {bad}; expected one of {DIRECTIONS}")
    if not isinstance(woe_smoothing, int | float) or isinstance(woe_smoothing, bool):
        raise TypeError(f"woe_smoothing must be a float, got {type(woe_smoothing).__name__}")
    if woe_smoothing < 0:
        raise ValueError(f"woe_smoothing must be >= 0, got {woe_smoothing}")
    if split_points is not None:
        if isinstance(split_points, str) or not isinstance(split_points, Sequence):
            raise TypeError("split_points must be None or a sequence, one entry per feature")
        for v in split_points:
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)
                                  or not np.isfinite(v)):
                raise ValueError(f"split_points entries must be None or finite numbers, got {v!r}")


def _binary_target(y: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (classes, 0/1 float labels) of a binary target."""
    y = column_or_1d(y, warn=True)
    if len(y) != n:
        raise ValueError(f"y must have {n} labels, got {len(y)}")
    if y.dtype.kind == "f":
        assert_all_finite(y, input_name="y")
    check_classification_targets(y)
    y_type = type_of_target(y, input_name="y", raise_unknown=True)
    if y_type != "binary":
        raise ValueError(
            "Only binary classification is supported (event / non-event). "
            f"The type of the target is {y_type}."
        )
    classes = np.unique(y)
    if len(classes) != 2:
        raise ValueError(
            f"a scorecard needs both outcomes (event and non-event); y has {len(classes)} class"
        )
    return classes, (y == classes[1]).astype(np.float64)


class MonotoneBinner(TransformerMixin, BaseEstimator):
    """Monotone optimal-ish binning of every feature, with WoE/IV per bin.

    Parameters
    ----------
    max_prebins : int, default 20
        Quantile pre-bins per feature (fewer when values tie).
    min_bin_share : float, default 0.05
        Minimum share of the (weighted) rows in each non-missing bin; smaller bins
        are merged with the adjacent bin whose event rate is closest.
    directions : sequence of str or None, default None
        Per feature ``"ascending"``, ``"descending"`` or ``"auto"``; ``None`` means
        ``"auto"`` everywhere.
    woe_smoothing : float, default 0.5
        Pseudo-count added to the events and non-events of each bin when computing
        WoE, so that a bin without events has a finite WoE.
    split_points : sequence of (float or None) or None, default None
        Per feature, an edge that is always kept (never merged away), e.g. ``1`` for
        a count or a 0/1 flag: "no record" and "at least one" stay two bins whatever
        the training rows say, also when no training row has a record (an empty bin).

    Attributes
    ----------
    bins_ : list of FeatureBins
        One per feature.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names (a DataFrame).

    Notes
    -----
    Pre-bins are weighted quantiles; adjacent bins are pooled (pool-adjacent-
    violators) until the event rate is strictly monotone, then the smallest bins are
    merged until each holds ``min_bin_share``. Missing values (NaN) always form a bin
    of their own, even when none were seen in training (WoE 0 then).
    """

    def __init__(
        self,
        *,
        max_prebins: int = 20,
        min_bin_share: float = 0.05,
        directions: Sequence[str] | None = None,
        woe_smoothing: float = 0.5,
        split_points: Sequence[float | None] | None = None,
    ) -> None:
        self.max_prebins = max_prebins
        self.min_bin_share = min_bin_share
        self.directions = directions
        self.woe_smoothing = woe_smoothing
        self.split_points = split_points

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MonotoneBinner:
        """Learn the bins of every column of ``X`` against the binary ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric features, NaN for missing.
        y : array-like of shape (n_samples,)
            Binary target; the greater class is the event.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self : MonotoneBinner
        """
        _check_binning_params(**self.get_params(deep=False))
        X = self._validate_data_(X, reset=True)
        classes, y01 = _binary_target(y, len(X))
        self.classes_ = classes
        sw = _check_sample_weight(sample_weight, len(X))
        self.bins_ = self._fit_bins(X, y01, sw)
        return self

    def _fit_bins(self, X: np.ndarray, y01: np.ndarray, sw: np.ndarray) -> list[FeatureBins]:
        p = X.shape[1]
        dirs = list(self.directions) if self.directions is not None else ["auto"] * p
        if len(dirs) != p:
            raise ValueError(f"directions has {len(dirs)} entries, X has {p} features")
        splits = list(self.split_points) if self.split_points is not None else [None] * p
        if len(splits) != p:
            raise ValueError(f"split_points has {len(splits)} entries, X has {p} features")
        total = sw.sum()
        out = []
        for j in range(p):
            x = X[:, j]
            miss = np.isnan(x)
            xo, yo, wo = x[~miss], y01[~miss], sw[~miss]
            direction = dirs[j]
            if direction == "auto":
                direction = "descending" if _weighted_spearman(xo, yo, wo) < 0 else "ascending"
            edges = _weighted_edges(xo, wo, self.max_prebins)
            split = None if splits[j] is None else float(splits[j])
            if split is not None:
                edges = np.union1d(edges, [split])
            b = np.searchsorted(edges, xo, side="right")
            k = len(edges) + 1
            ev = np.bincount(b, weights=wo * yo, minlength=k)
            ne = np.bincount(b, weights=wo * (1.0 - yo), minlength=k)
            edges, ev, ne = _merge_monotone(
                edges, ev, ne, direction == "ascending", self.min_bin_share, total,
                protected=split,
            )
            ev = np.append(ev, (sw[miss] * y01[miss]).sum())
            ne = np.append(ne, (sw[miss] * (1.0 - y01[miss])).sum())
            woe, iv = _woe_iv(ev, ne, self.woe_smoothing)
            out.append(FeatureBins(edges, direction, ev, ne, woe, iv))
        return out

    def bin_indices(self, X: Any) -> np.ndarray:
        """Return each value's bin index, shape (n_samples, n_features), int32."""
        check_is_fitted(self, "bins_")
        X = self._validate_data_(X, reset=False)
        return _bin_indices(X, self.bins_)

    def transform(self, X: Any) -> np.ndarray:
        """Return the WoE of each value's bin."""
        idx = self.bin_indices(X)
        flat, offsets = _flat([fb.woe for fb in self.bins_])
        return flat[idx + offsets]

    @property
    def iv_(self) -> np.ndarray:
        """Information value per feature."""
        check_is_fitted(self, "bins_")
        return np.array([fb.iv for fb in self.bins_])

    def _validate_data_(self, X: Any, *, reset: bool) -> np.ndarray:
        return _validate_X(self, X, reset=reset)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.target_tags.required = True
        return tags


def _validate_X(est: BaseEstimator, X: Any, *, reset: bool) -> np.ndarray:
    if reset:
        cols = getattr(X, "columns", None)
        if cols is not None and all(isinstance(c, str) for c in cols):
            est.feature_names_in_ = np.asarray(list(cols), dtype=object)
        elif hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
    X = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan", estimator=est)
    if reset:
        est.n_features_in_ = X.shape[1]
    elif X.shape[1] != est.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
            f"{est.n_features_in_} features as input"
        )
    return X


def _bin_indices(X: np.ndarray, bins: list[FeatureBins]) -> np.ndarray:
    # one contiguous column at a time: strided access of C-ordered columns is slow
    XF = np.asfortranarray(X)
    out = np.empty((X.shape[1], X.shape[0]), dtype=np.int32)
    for j, fb in enumerate(bins):
        x = XF[:, j]
        idx = out[j]
        idx[:] = np.searchsorted(fb.edges, x, side="right")  # NaN sorts last
        idx[np.isnan(x)] = fb.n_bins - 1
    return out.T


def _flat(per_feature: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate per-bin tables; return (flat table, offset of each feature)."""
    sizes = np.array([len(a) for a in per_feature], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32)
    flat = np.concatenate(per_feature) if per_feature else np.empty(0)
    return flat, offsets


# -- points: sign-constrained logistic regression ----------------------------------
#: How the logistic regression reads the bins (see :class:`Scorecard`).
ENCODINGS = ("bins", "woe")

#: Segmentations tried by ``segment_by="auto"`` besides the single card: (depth of the
#: decision tree, minimum share of the training weight in each segment).
SEGMENT_CANDIDATES: tuple[tuple[int, float], ...] = ((1, 0.05), (1, 0.1), (1, 0.2), (2, 0.1))

#: Events and non-events (rows of positive weight) that every segment must hold.
MIN_SEGMENT_EVENTS = 20


def _design(
    bins: list[FeatureBins], usable: np.ndarray, encoding: str,
    missing: Sequence[str] | None = None, prior: Sequence[np.ndarray | None] | None = None,
) -> tuple[sp.csr_matrix, list[tuple[float | None, float | None]], sp.csr_matrix, np.ndarray]:
    """Return how the coefficients make each bin's log-odds contribution.

    ``T @ coef`` gives the contribution of every bin (all features' bins
    concatenated, missing bin last per feature); ``bounds`` holds each coefficient's
    bounds; the penalty is ``||P @ (coef - coef0)||² / (2 C)``, ``coef0`` the prior
    coefficients (zeros without a prior).

    * ``"woe"``: one coefficient per feature, times the bin's WoE, bounded above by 0
      (a positive weight on WoE would reverse the monotone bin order).
    * ``"bins"``: per feature, one step per boundary between adjacent non-missing
      bins, ``>= 0`` in the feature's risk direction, so the contributions are
      monotone by construction; plus, with ``missing[j] == "fit"``, a free
      contribution of the missing bin, penalised towards the count-weighted mean of
      the non-missing bins (neutral: an unseen missing bin ends exactly there), or,
      with ``"neutral"``, the missing bin held at that mean (no coefficient of its
      own: it is never fitted on the rows that happen to be missing).
      ``prior[j]``: the prior's contribution of each non-missing bin (log-odds); the
      steps are shrunk towards its steps instead of towards 0.
    """
    t_rows: list[int] = []
    t_cols: list[int] = []
    t_vals: list[float] = []
    p_rows: list[int] = []
    p_cols: list[int] = []
    p_vals: list[float] = []
    c0: list[float] = []
    bounds: list[tuple[float | None, float | None]] = []
    off = n_coef = n_pen = 0

    def penalise(col: int, value: float, row: int) -> None:
        p_rows.append(row)
        p_cols.append(col)
        p_vals.append(value)

    for j, (fb, use) in enumerate(zip(bins, usable, strict=True)):
        n_bins = fb.n_bins
        if use and encoding == "woe":
            t_rows += range(off, off + n_bins)
            t_cols += [n_coef] * n_bins
            t_vals += fb.woe.tolist()
            bounds.append((None, 0.0))
            c0.append(0.0)
            penalise(n_coef, 1.0, n_pen)
            n_coef += 1
            n_pen += 1
        elif use:
            k = n_bins - 1  # non-missing bins
            sign = 1.0 if fb.direction == "ascending" else -1.0
            counts = fb.counts[:k]
            share = counts / counts.sum() if counts.sum() > 0 else np.full(k, 1.0 / k)
            tail = np.cumsum(share[::-1])[::-1]  # tail[m] = share of bins m..k-1
            pri = None if prior is None else prior[j]
            steps0 = (np.zeros(k - 1) if pri is None
                      else np.clip(sign * np.diff(np.asarray(pri, dtype=np.float64)), 0.0, None))
            first = n_coef
            for m in range(1, k):  # step m raises bins m..k-1
                t_rows += range(off + m, off + k)
                t_cols += [n_coef] * (k - m)
                t_vals += [sign] * (k - m)
                bounds.append((0.0, None))
                c0.append(float(steps0[m - 1]))
                penalise(n_coef, 1.0, n_pen)
                n_coef += 1
                n_pen += 1
            if missing is not None and missing[j] == "first":
                pass  # the missing bin is the first bin's (no entry: contribution 0, as bin 0)
            elif missing is not None and missing[j] == "neutral":
                # the missing bin is the count-weighted mean of the others, by construction
                for m in range(1, k):
                    t_rows.append(off + k)
                    t_cols.append(first + m - 1)
                    t_vals.append(sign * tail[m])
            else:
                t_rows.append(off + k)
                t_cols.append(n_coef)
                t_vals.append(1.0)
                bounds.append((None, None))
                # its prior: the mean of the prior's non-missing bins (the penalty row is 0 there)
                c0.append(float(sign * np.dot(tail[1:], steps0)))
                penalise(n_coef, 1.0, n_pen)
                for m in range(1, k):  # minus the mean contribution of the non-missing bins
                    penalise(first + m - 1, -sign * tail[m], n_pen)
                n_coef += 1
                n_pen += 1
        off += n_bins
    T = sp.csr_matrix((t_vals, (t_rows, t_cols)), shape=(off, n_coef))
    P = sp.csr_matrix((p_vals, (p_rows, p_cols)), shape=(n_pen, n_coef))
    return T, bounds, P, np.asarray(c0, dtype=np.float64)


def _fit_logit(
    idx: np.ndarray, y01: np.ndarray, sw: np.ndarray, T: sp.csr_matrix,
    bounds: list[tuple[float | None, float | None]], P: sp.csr_matrix, C: float,
    c0: np.ndarray | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Minimise ``sum_i w_i logloss_i + ||P (c - c0)||² / (2 C)`` within ``bounds`` (L-BFGS-B).

    ``c0`` (default 0) is the prior's coefficients: a Gaussian prior centred there, of
    precision ``1 / C`` per coefficient. Its weight is fixed while the log-likelihood
    grows with the rows, so the data take over as outcomes accumulate.

    ``idx`` holds each row's flat bin index per feature; the log-odds of row ``i``
    is ``b + sum_j (T @ c)[idx[i, j]]``. Returns the intercept ``b``, the per-bin
    contributions ``T @ c`` and ``c``. Rows meet coefficients through the sparse
    one-hot matrix of their bins (``p`` ones a row), four times faster than gathers.
    """
    n, p = idx.shape
    W = float(sw.sum())
    n_bins = T.shape[0]
    D = sp.csr_matrix((np.ones(n * p), np.ascontiguousarray(idx).ravel(),
                       np.arange(0, n * p + 1, p)), shape=(n, n_bins))
    Dt = D.T.tocsr()
    Tt = T.T.tocsr()
    Q = (P.T @ P).tocsr() / C
    prior = np.zeros(T.shape[1]) if c0 is None else np.asarray(c0, dtype=np.float64)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        b, c = theta[0], theta[1:]
        z = b + D @ (T @ c)
        r = sw * (expit(z) - y01)
        dc = c - prior
        pen = Q @ dc
        loss = float(np.dot(sw, np.logaddexp(0.0, z) - y01 * z) + 0.5 * dc @ pen)
        grad = np.concatenate([[r.sum()], Tt @ (Dt @ r) + pen])
        return loss / W, grad / W

    x0 = np.concatenate([[np.log(np.dot(sw, y01) / np.dot(sw, 1.0 - y01))], prior])
    # one BLAS thread: L-BFGS-B's small products are slower threaded (measured 30×)
    with threadpool_limits(limits=1, user_api="blas"):
        res = minimize(objective, x0, jac=True, method="L-BFGS-B",
                       bounds=[(None, None), *bounds],
                       options={"maxiter": 20_000, "maxfun": 40_000, "ftol": 1e-13,
                                "gtol": 1e-9})
    lo = np.array([-np.inf if a is None else a for a, _ in bounds])
    hi = np.array([np.inf if b is None else b for _, b in bounds])
    c = np.clip(res.x[1:], lo, hi)
    return float(res.x[0]), T @ c, c


# -- segments -------------------------------------------------------------------
@dataclass(frozen=True)
class SegmentRule:
    """A shallow decision tree assigning each row to a segment (scikit-learn layout).

    At an internal node (``feature >= 0``) a row goes ``left`` when
    ``float32(x[feature]) <= threshold`` (as in :class:`~sklearn.tree.DecisionTreeClassifier`),
    a missing value goes left where ``missing_left``; a leaf is segment ``segment``.
    """

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    segment: np.ndarray

    @classmethod
    def from_tree(cls, tree: Any) -> SegmentRule:
        """Read a fitted scikit-learn decision tree."""
        t = tree.tree_
        leaf = t.children_left < 0
        segment = np.full(t.node_count, -1, dtype=np.int64)
        segment[leaf] = np.arange(int(leaf.sum()))
        missing = getattr(t, "missing_go_to_left", np.zeros(t.node_count, dtype=bool))
        return cls(
            feature=np.where(leaf, -1, t.feature).astype(np.int64),
            threshold=np.asarray(t.threshold, dtype=np.float64),
            missing_left=np.asarray(missing, dtype=bool),
            left=np.asarray(t.children_left, dtype=np.int64),
            right=np.asarray(t.children_right, dtype=np.int64),
            segment=segment,
        )

    @property
    def n_segments(self) -> int:
        """Number of segments (leaves)."""
        return int((self.segment >= 0).sum())

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Return each row's segment index."""
        n = len(X)
        node = np.zeros(n, dtype=np.int64)
        rows = np.arange(n)
        while n:
            f = self.feature[node]
            inner = f >= 0
            if not inner.any():
                break
            x = X[rows, np.maximum(f, 0)].astype(np.float32)
            go_left = np.where(np.isnan(x), self.missing_left[node],
                               x <= self.threshold[node])
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return self.segment[node]

    def describe(self, segment: int, names: Sequence[str], *, or_missing: str = " or missing",
                 conj: str = " and ", everything: str = "all") -> str:
        """Return the conditions defining ``segment``, e.g. ``"x3 <= 0.5 or missing"``.

        ``or_missing``, ``conj`` and ``everything`` (an unsplit tree) word the text.
        """
        parent: dict[int, tuple[int, bool]] = {}
        for k in np.flatnonzero(self.feature >= 0).tolist():
            parent[int(self.left[k])] = (k, True)
            parent[int(self.right[k])] = (k, False)
        node = int(np.flatnonzero(self.segment == segment)[0])
        path = []
        while node in parent:
            path.append(parent[node])
            node = path[-1][0]
        parts = []
        for k, is_left in reversed(path):
            name, thr = names[self.feature[k]], f"{self.threshold[k]:.6g}"
            cond = f"{name} <= {thr}" if is_left else f"{name} > {thr}"
            if self.missing_left[k] == is_left:
                cond = f"{cond}{or_missing}"
                if len(path) > 1:
                    cond = f"({cond})"
            parts.append(cond)
        return conj.join(parts) if parts else everything


@dataclass(frozen=True)
class CardSegment:
    """The binned card of one segment.

    Attributes
    ----------
    binner : MonotoneBinner
        Bins fitted on the segment's training rows.
    logit : list of ndarray
        Per feature, each bin's contribution to the event log-odds (missing bin last).
    intercept : float
        Log-odds of the event before the bins' contributions.
    points : list of ndarray
        Points per bin; the intercept is shared equally among the used features.
    base_points : float
        Points every row of the segment gets (non-zero only when no feature is used).
    used : ndarray of bool
        Features whose points vary between bins.
    coef : ndarray or None
        Weights on WoE (``encoding="woe"``, never positive), else None.
    count, events : float
        Weighted training rows and events of the segment.
    """

    binner: MonotoneBinner
    logit: list[np.ndarray]
    intercept: float
    points: list[np.ndarray]
    base_points: float
    used: np.ndarray
    coef: np.ndarray | None
    count: float
    events: float


def _segment_bin_indices(
    X: np.ndarray, bins: list[list[FeatureBins]], seg: np.ndarray | None, offsets: np.ndarray
) -> np.ndarray:
    """Return each value's flat bin index (bin + offset of its segment and feature)."""
    XF = np.asfortranarray(X)
    out = np.empty((X.shape[1], X.shape[0]), dtype=np.int32)
    rows = None if seg is None else [np.flatnonzero(seg == s) for s in range(len(bins))]
    for j in range(X.shape[1]):
        x = XF[:, j]
        if rows is None:
            fb = bins[0][j]
            idx = out[j]
            idx[:] = np.searchsorted(fb.edges, x, side="right")  # NaN sorts last
            idx[np.isnan(x)] = fb.n_bins - 1
            idx += offsets[0, j]
            continue
        for s, r in enumerate(rows):
            fb = bins[s][j]
            xs = x[r]
            b = np.searchsorted(fb.edges, xs, side="right").astype(np.int32)
            b[np.isnan(xs)] = fb.n_bins - 1
            out[j, r] = b + offsets[s, j]
    return out.T


def _flat_segments(tables: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate per-(segment, feature) bin tables; return (flat, offsets (S, p))."""
    sizes = np.array([[len(a) for a in seg] for seg in tables], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes.ravel())[:-1]]).reshape(sizes.shape)
    flat = np.concatenate([a for seg in tables for a in seg]) if sizes.size else np.empty(0)
    return flat, starts.astype(np.int32)


def _candidate_label(candidate: tuple[int, float] | None) -> str:
    if candidate is None:
        return "none"
    return f"depth {candidate[0]}, min share {candidate[1]:g}"


def _decision(rule: SegmentRule | None, cards: list[CardSegment], X: np.ndarray) -> np.ndarray:
    """Event log-odds of ``X`` under a (possibly segmented) card."""
    logit, offsets = _flat_segments([c.logit for c in cards])
    seg = rule.apply(X) if rule is not None else None
    idx = _segment_bin_indices(X, [c.binner.bins_ for c in cards], seg, offsets)
    intercepts = np.array([c.intercept for c in cards])
    return (intercepts[0] if seg is None else intercepts[seg]) + logit[idx].sum(axis=1)


# -- scorecard ------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreReasons:
    """Per row, the features that cost the most points, worst first.

    Attributes
    ----------
    index : ndarray of int, shape (n_samples, top)
        Feature column index; ``-1`` pads rows with fewer costly features.
    points_lost : ndarray of float, shape (n_samples, top)
        Points below the feature's best bin (> 0); 0 where padded.
    """

    index: np.ndarray
    points_lost: np.ndarray


class Scorecard(ClassifierMixin, BaseEstimator):
    """Monotone binned logistic scorecard with points 0–1000 (higher = better credit).

    Parameters
    ----------
    max_prebins, min_bin_share, directions, woe_smoothing, split_points
        Binning, see :class:`MonotoneBinner`.
    missing : sequence of {"fit", "neutral"} or None, default None
        Per feature, the points of its missing bin (``encoding="bins"``): ``"fit"``
        (default) a free contribution penalised towards the count-weighted mean of the
        other bins; ``"neutral"`` held exactly at that mean, never fitted on the rows
        that happen to be missing (a row without the value is neither rewarded nor
        punished); ``"first"`` the points of the first bin (for a record count: no
        value recorded is no record).
    prior_points : sequence of ((per, cap) or None) or None, default None
        An expert card the fit is shrunk towards (``encoding="bins"`` only): per
        feature, the points it takes off per unit of the value above 0 and its cap, or
        None (prior effect 0). The steps between adjacent bins get a Gaussian prior
        centred on the expert card's steps, of precision ``1 / C``: with few outcomes
        the card stays near the expert card, and the data take over as outcomes
        accumulate (the log-likelihood grows with the rows, the prior does not). Sign
        bounds still apply: the blend keeps every feature's direction.
    encoding : {"bins", "woe"}, default "bins"
        How the logistic regression reads the bins. ``"bins"``: one coefficient per
        step between adjacent bins, bounded to the feature's risk direction, so each
        bin's points are fitted jointly with the other features and stay monotone;
        plus a free coefficient of the missing bin. ``"woe"``: the classic card, one
        coefficient per feature times the bin's WoE, bounded to ``<= 0``.
    C : float, default 1.0
        Inverse L2 penalty of the logistic regression (scikit-learn's scaling:
        ``sum_i w_i logloss_i + ||coef||² / (2 C)``).
    min_iv : float, default 0.0
        Features whose IV is below this get no points.
    segment_by : {None, "auto"}, default None
        ``"auto"``: try the shallow decision-tree segmentations of
        :data:`SEGMENT_CANDIDATES` and the single card, by ``cv``-fold stratified
        cross-validated AUC on the training data, keep the best; each segment gets
        its own monotone binned card. ``None``: one card.
    cv : int, CV splitter or iterable of (train, test) splits, default 5
        Cross-validation of ``segment_by="auto"``; an int ``k`` means ``k``
        shuffled stratified folds.
    random_state : int or None, default 0
        Seeds the folds and the tree's tie-breaking of ``segment_by="auto"``.
    pdo : float, default 50.0
        Points to double the good:bad odds.
    base_score : float, default 600.0
        Score at ``base_odds``.
    base_odds : float, default 10.0
        Good:bad odds scoring ``base_score``.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The second class is the event (bad outcome).
    segments_ : list of CardSegment
        One card per segment (one when not segmented).
    segment_rule_ : SegmentRule or None
        Assigns rows to ``segments_``; None when not segmented.
    segment_scores_ : dict or None
        ``segment_by="auto"``: mean cross-validated AUC of each candidate tried.
    used_ : ndarray of bool, shape (n_features,)
        Features given points in at least one segment.
    binner_, points_, base_points_, intercept_
        Those of the single card (unsegmented cards only).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names.

    Notes
    -----
    Within a segment, ``score = base_points + sum_j points[j][bin_j]``, clipped to
    [0, 1000], equals ``offset - factor * logit(p)`` with ``factor = pdo / ln 2``
    and ``offset = base_score - factor * ln(base_odds)``. Like optbinning's
    ``Scorecard``, :meth:`score` returns these points, not the accuracy of
    ``ClassifierMixin``: pass an explicit ``scoring`` to model-selection tools.
    """

    def __init__(
        self,
        *,
        max_prebins: int = 20,
        min_bin_share: float = 0.05,
        directions: Sequence[str] | None = None,
        woe_smoothing: float = 0.5,
        split_points: Sequence[float | None] | None = None,
        missing: Sequence[str] | None = None,
        prior_points: Sequence[tuple[float, float] | None] | None = None,
        encoding: str = "bins",
        C: float = 1.0,
        min_iv: float = 0.0,
        segment_by: str | None = None,
        cv: int = 5,
        random_state: int | None = 0,
        pdo: float = 50.0,
        base_score: float = 600.0,
        base_odds: float = 10.0,
    ) -> None:
        self.max_prebins = max_prebins
        self.min_bin_share = min_bin_share
        self.directions = directions
        self.woe_smoothing = woe_smoothing
        self.split_points = split_points
        self.missing = missing
        self.prior_points = prior_points
        self.encoding = encoding
        self.C = C
        self.min_iv = min_iv
        self.segment_by = segment_by
        self.cv = cv
        self.random_state = random_state
        self.pdo = pdo
        self.base_score = base_score
        self.base_odds = base_odds

    def _check_params(self, **params: Any) -> None:
        binning = {k: params.pop(k) for k in
                   ("max_prebins", "min_bin_share", "directions", "woe_smoothing", "split_points")}
        _check_binning_params(**binning)
        encoding = params.pop("encoding")
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        missing = params.pop("missing")
        if missing is not None:
            if isinstance(missing, str) or not isinstance(missing, Sequence):
                raise TypeError("missing must be None or a sequence of str, one per feature")
            bad = [m for m in missing if m not in MISSING_POLICIES]
            if bad:
                raise ValueError(
                    f"unknown missing policies {bad}; expected one of {MISSING_POLICIES}")
        prior = params.pop("prior_points")
        if prior is not None:
            if isinstance(prior, str) or not isinstance(prior, Sequence):
                raise TypeError("prior_points must be None or a sequence, one entry per feature")
            for spec in prior:
                if spec is None:
                    continue
                if (not isinstance(spec, Sequence) or len(spec) != 2
                        or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                   and np.isfinite(v) and v >= 0 for v in spec)):
                    raise ValueError(f"prior_points entries must be None or (per, cap) "
                                     f"non-negative numbers, got {spec!r}")
            if encoding != "bins":
                raise ValueError('prior_points needs encoding="bins"')
        segment_by = params.pop("segment_by")
        if segment_by not in (None, "auto"):
            raise ValueError(f"segment_by must be None or 'auto', got {segment_by!r}")
        cv = params.pop("cv")
        if isinstance(cv, bool) or not (isinstance(cv, int | np.integer)
                                        or hasattr(cv, "split") or hasattr(cv, "__iter__")):
            raise TypeError(f"cv must be an int, a CV splitter or an iterable of splits, "
                            f"got {type(cv).__name__}")
        if isinstance(cv, int | np.integer) and cv < 2:
            raise ValueError(f"cv must be >= 2, got {cv}")
        random_state = params.pop("random_state")
        if random_state is not None and (isinstance(random_state, bool)
                                         or not isinstance(random_state, int | np.integer)):
            raise TypeError("random_state must be an int or None")
        for name, value in params.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not np.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        for name in ("C", "pdo", "base_odds"):
            if params[name] <= 0:
                raise ValueError(f"{name} must be > 0, got {params[name]}")
        if params["min_iv"] < 0:
            raise ValueError(f"min_iv must be >= 0, got {params['min_iv']}")

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Scorecard:
        """Segment (optionally), bin the features, fit the logistic regression, scale.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric features, NaN for missing.
        y : array-like of shape (n_samples,)
            Binary outcome; the greater class is the event (bad outcome).
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self : Scorecard
        """
        self._check_params(**self.get_params(deep=False))
        X = _validate_X(self, X, reset=True)
        self.classes_, y01 = _binary_target(y, len(X))
        sw = _check_sample_weight(sample_weight, len(X))
        for name in ("directions", "split_points", "missing", "prior_points"):
            value = getattr(self, name)
            if value is not None and len(value) != X.shape[1]:
                raise ValueError(f"{name} has {len(value)} entries, X has {X.shape[1]} features")
        candidate, self.segment_scores_ = None, None
        if self.segment_by == "auto":
            candidate, self.segment_scores_ = self._choose_segmentation(X, y01, sw)
        fitted = self._fit_segmented(candidate, X, y01, sw)
        if fitted is None:  # feasible on every fold but not on the whole: very unlikely
            fitted = self._fit_segmented(None, X, y01, sw)
        assert fitted is not None
        self.segment_rule_, self.segments_ = fitted
        self.used_ = np.any([s.used for s in self.segments_], axis=0)
        self._build_tables()
        return self

    # -- fitting ----------------------------------------------------------------
    def _fit_card(self, X: np.ndarray, y01: np.ndarray, sw: np.ndarray) -> CardSegment:
        """Bin, fit the constrained logistic regression and scale one card."""
        binner = MonotoneBinner(
            max_prebins=self.max_prebins, min_bin_share=self.min_bin_share,
            directions=self.directions, woe_smoothing=self.woe_smoothing,
            split_points=self.split_points,
        )
        binner.n_features_in_ = X.shape[1]
        binner.classes_ = self.classes_
        binner.bins_ = bins = binner._fit_bins(X, y01, sw)
        p = X.shape[1]
        prior = self._prior_contributions(X, sw, bins)
        usable = np.array([
            (prior[j] is not None and np.ptp(prior[j]) > 0)
            or (fb.iv >= self.min_iv and (fb.counts > 0).any()
                and np.ptp(fb.woe[fb.counts > 0]) > 0)
            for j, fb in enumerate(bins)], dtype=bool).reshape(p)
        events, count = float(np.dot(sw, y01)), float(sw.sum())
        intercept = float(np.log(events / (count - events))) if 0 < events < count else 0.0
        contrib = np.zeros(sum(fb.n_bins for fb in bins))
        coef = np.zeros(p) if self.encoding == "woe" else None
        if usable.any():
            keep = sw > 0
            _, offsets = _flat([fb.woe for fb in bins])
            idx = _bin_indices(X[keep], bins) + offsets
            T, bounds, P, c0 = _design(bins, usable, self.encoding, self.missing, prior)
            intercept, contrib, c = _fit_logit(idx, y01[keep], sw[keep], T, bounds, P, self.C, c0)
            if coef is not None:
                coef[usable] = c
        logit, start = [], 0
        for fb in bins:
            v = contrib[start:start + fb.n_bins].copy()
            start += fb.n_bins
            if (self.encoding == "bins" and usable[len(logit)] and fb.counts[-1] <= 0
                    and fb.counts[:-1].sum() > 0
                    and (self.missing is None or self.missing[len(logit)] == "fit")):
                # no missing value in training: the missing bin is neutral, exactly at the
                # weighted mean (the penalty's optimum, up to the solver's tolerance)
                v[-1] = np.dot(fb.counts[:-1], v[:-1]) / fb.counts[:-1].sum()
            logit.append(v)
        used = np.array([np.ptp(v) > 1e-9 for v in logit], dtype=bool).reshape(p)
        for j in np.flatnonzero(~used):
            logit[j][:] = 0.0
            if coef is not None:
                coef[j] = 0.0
        # scale to points: score = offset - factor * log-odds
        factor = self.pdo / np.log(2.0)
        offset = self.base_score - factor * np.log(self.base_odds)
        n_used = int(used.sum())
        shared = (offset - factor * intercept) / n_used if n_used else 0.0
        points = [(-factor * v + shared) if u else np.zeros(len(v))
                  for v, u in zip(logit, used, strict=True)]
        base_points = 0.0 if n_used else float(offset - factor * intercept)
        return CardSegment(binner=binner, logit=logit, intercept=intercept, points=points,
                           base_points=base_points, used=used, coef=coef, count=count,
                           events=events)

    def _prior_contributions(
        self, X: np.ndarray, sw: np.ndarray, bins: list[FeatureBins]
    ) -> list[np.ndarray | None]:
        """The prior card's log-odds contribution of each non-missing bin, per feature.

        ``prior_points[j] = (per, cap)``: the prior takes ``min(per * max(x, 0), cap)``
        points off a row, i.e. adds that divided by ``pdo / ln 2`` to its event
        log-odds. A bin is represented by its training rows' weighted mean value (an
        empty bin by its lower edge, an empty first bin by one unit below its upper edge).
        """
        if self.prior_points is None:
            return [None] * len(bins)
        factor = self.pdo / np.log(2.0)
        out: list[np.ndarray | None] = []
        for j, fb in enumerate(bins):
            spec = self.prior_points[j]
            if spec is None:
                out.append(None)
                continue
            per, cap = float(spec[0]), float(spec[1])
            x = X[:, j]
            ok = ~np.isnan(x) & (sw > 0)
            b = np.searchsorted(fb.edges, x[ok], side="right")
            k = fb.n_bins - 1
            wsum = np.bincount(b, weights=sw[ok], minlength=k)
            xsum = np.bincount(b, weights=sw[ok] * x[ok], minlength=k)
            # an empty bin at its lower edge; the first bin (no lower edge) one unit below
            # its upper edge (for a count: 0, "no record")
            lower = np.concatenate([[fb.edges[0] - 1.0 if len(fb.edges) else 0.0], fb.edges])
            rep = np.where(wsum > 0, xsum / np.where(wsum > 0, wsum, 1.0), lower)
            out.append(np.minimum(np.clip(rep, 0.0, None) * per, cap) / factor)
        return out

    def _fit_segmented(
        self, candidate: tuple[int, float] | None, X: np.ndarray, y01: np.ndarray,
        sw: np.ndarray,
    ) -> tuple[SegmentRule | None, list[CardSegment]] | None:
        """Fit the segmentation ``candidate`` (None: one card); None if infeasible."""
        if candidate is None:
            return None, [self._fit_card(X, y01, sw)]
        depth, share = candidate
        tree = DecisionTreeClassifier(max_depth=depth, min_weight_fraction_leaf=share,
                                      random_state=self.random_state)
        tree.fit(X, y01, sample_weight=sw)
        rule = SegmentRule.from_tree(tree)
        if rule.n_segments < 2:
            return None
        seg = rule.apply(X)
        pos = sw > 0
        masks = [seg == s for s in range(rule.n_segments)]
        for m in masks:
            ev = int(np.count_nonzero(y01[m & pos] == 1))
            if min(ev, int(np.count_nonzero(m & pos)) - ev) < MIN_SEGMENT_EVENTS:
                return None
        return rule, [self._fit_card(X[m], y01[m], sw[m]) for m in masks]

    def _choose_segmentation(
        self, X: np.ndarray, y01: np.ndarray, sw: np.ndarray
    ) -> tuple[tuple[int, float] | None, dict[str, float]]:
        """Pick the segmentation by cross-validated AUC on the training rows only."""
        candidates: list[tuple[int, float] | None] = [None, *SEGMENT_CANDIDATES]
        if isinstance(self.cv, int | np.integer):
            folds = StratifiedKFold(n_splits=int(self.cv), shuffle=True,
                                    random_state=self.random_state)
        else:
            folds = check_cv(self.cv, y01, classifier=True)
        k = folds.get_n_splits(X, y01)
        pos = sw > 0
        n_ev = int(np.count_nonzero(y01[pos] == 1))
        if k < 2 or min(n_ev, int(pos.sum()) - n_ev) < 2 * MIN_SEGMENT_EVENTS * k / (k - 1):
            return None, {}
        total = np.zeros(len(candidates))
        feasible = np.ones(len(candidates), dtype=bool)
        n_folds = 0
        for tr, va in folds.split(X, y01):
            yv, wv = y01[va], sw[va]
            if not (np.dot(wv, yv) > 0 and np.dot(wv, 1.0 - yv) > 0):
                continue
            n_folds += 1
            for i, cand in enumerate(candidates):
                if not feasible[i]:
                    continue
                fitted = self._fit_segmented(cand, X[tr], y01[tr], sw[tr])
                if fitted is None:
                    feasible[i] = False
                    continue
                total[i] += roc_auc_score(yv, _decision(*fitted, X[va]), sample_weight=wv)
        scores = {_candidate_label(c): float(t / max(n_folds, 1))
                  for c, t, ok in zip(candidates, total, feasible, strict=True) if ok}
        best = int(np.argmax(np.where(feasible, total, -np.inf)))  # ties: the simpler
        return candidates[best], scores

    def _build_tables(self) -> None:
        segs = self.segments_
        self._logit_flat, self._offsets = _flat_segments([s.logit for s in segs])
        self._points_flat, _ = _flat_segments([s.points for s in segs])
        self._lost_flat, _ = _flat_segments([[pts.max() - pts for pts in s.points]
                                             for s in segs])
        # the same without the missing bins: a value nobody recorded is no reason
        self._lost_present_flat, _ = _flat_segments(
            [[np.append(pts.max() - pts[:-1], 0.0) for pts in s.points] for s in segs])
        self._intercepts = np.array([s.intercept for s in segs])
        self._base_points = np.array([s.base_points for s in segs])

    # -- the single card's attributes ----------------------------------------------
    def _single(self) -> CardSegment:
        check_is_fitted(self, "segments_")
        if len(self.segments_) != 1:
            raise AttributeError("a segmented scorecard: see segments_")
        return self.segments_[0]

    @property
    def binner_(self) -> MonotoneBinner:
        """The binner of an unsegmented card."""
        return self._single().binner

    @property
    def points_(self) -> list[np.ndarray]:
        """Points per bin of each feature of an unsegmented card (missing bin last)."""
        return self._single().points

    @property
    def base_points_(self) -> float:
        """Points every row gets in an unsegmented card."""
        return self._single().base_points

    @property
    def intercept_(self) -> float:
        """Log-odds intercept of an unsegmented card."""
        return self._single().intercept

    # -- prediction -----------------------------------------------------------
    def _indices(self, X: Any) -> tuple[np.ndarray | None, np.ndarray]:
        """Return (segment of each row or None, flat bin indices)."""
        check_is_fitted(self, "segments_")
        X = _validate_X(self, X, reset=False)
        seg = self.segment_rule_.apply(X) if self.segment_rule_ is not None else None
        bins = [s.binner.bins_ for s in self.segments_]
        return seg, _segment_bin_indices(X, bins, seg, self._offsets)

    def segment(self, X: Any) -> np.ndarray:
        """Return each row's segment index (all 0 for an unsegmented card)."""
        check_is_fitted(self, "segments_")
        X = _validate_X(self, X, reset=False)
        if self.segment_rule_ is None:
            return np.zeros(len(X), dtype=np.int64)
        return self.segment_rule_.apply(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """Return the log-odds of the event (class ``classes_[1]``)."""
        seg, idx = self._indices(X)
        b = self._intercepts[0] if seg is None else self._intercepts[seg]
        return b + self._logit_flat[idx].sum(axis=1)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return ``[[1 - p, p], ...]``, ``p`` the probability of the event."""
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """Return the event class where its probability is at least 0.5."""
        event = self.decision_function(X) >= 0
        return self.classes_[event.astype(np.int64)]

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:  # type: ignore[override]
        """Return the credit points of each row in [0, 1000], higher = better.

        ``y`` and ``sample_weight`` are ignored (accepted for pipeline compatibility).
        """
        return self._points(*self._indices(X))

    def _points(self, seg: np.ndarray | None, idx: np.ndarray) -> np.ndarray:
        base = self._base_points[0] if seg is None else self._base_points[seg]
        total = base + self._points_flat[idx].sum(axis=1)
        return np.clip(total, SCORE_MIN, SCORE_MAX)

    def reasons(self, X: Any, top: int = 3, *, present_only: bool = False) -> ScoreReasons:
        """Return, per row, the ``top`` features that cost the most points.

        A feature's cost is its best bin's points minus the row's bin's points, both
        in the row's segment; only positive costs are reasons. Ties keep the column
        order.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        top : int, default 3
        present_only : bool, default False
            Only features whose value the row has (a missing value is no reason).

        Returns
        -------
        ScoreReasons
        """
        return self._reasons(self._indices(X)[1], top, present_only)

    def score_with_reasons(self, X: Any, top: int = 3, *,
                           present_only: bool = False) -> tuple[np.ndarray, ScoreReasons]:
        """Return :meth:`score` and :meth:`reasons` together, binning ``X`` once."""
        seg, idx = self._indices(X)
        return self._points(seg, idx), self._reasons(idx, top, present_only)

    def _reasons(self, idx: np.ndarray, top: int, present_only: bool = False) -> ScoreReasons:
        if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 0:
            raise ValueError(f"top must be a non-negative int, got {top!r}")
        n, p = idx.shape
        k = min(int(top), p)
        out_i = np.full((n, k), -1, dtype=np.int64)
        out_v = np.zeros((n, k))
        if k == 0 or n == 0:
            return ScoreReasons(out_i, out_v)
        rows = np.arange(n)
        chunk = 250_000  # bounds the (rows × features) temporaries
        for s in range(0, n, chunk):
            r = rows[: min(chunk, n - s)]
            lost = (self._lost_present_flat if present_only else self._lost_flat)[idx[s:s + chunk]]
            for t in range(k):  # k argmax passes: first maximum, so ties keep column order
                col = np.argmax(lost, axis=1)
                val = lost[r, col]
                pos = val > 1e-9
                out_i[s + r, t] = np.where(pos, col, -1)
                out_v[s + r, t] = np.where(pos, val, 0.0)
                lost[r, col] = -np.inf
        return ScoreReasons(out_i, out_v)

    # -- inspection -----------------------------------------------------------
    def feature_names(self) -> list[str]:
        """Column names seen in fit, or ``x0, x1, ...``."""
        check_is_fitted(self, "segments_")
        if hasattr(self, "feature_names_in_"):
            return [str(c) for c in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def segment_labels(self, feature_names: Sequence[str] | None = None) -> list[str]:
        """Return the conditions defining each segment (``["all"]`` when unsegmented)."""
        names = list(feature_names) if feature_names is not None else self.feature_names()
        if self.segment_rule_ is None:
            return ["all"]
        return [self.segment_rule_.describe(s, names) for s in range(len(self.segments_))]

    def table(self, feature_names: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Return the scorecard, one row per (segment, feature, bin).

        Parameters
        ----------
        feature_names : sequence of str, optional
            Names to show instead of :meth:`feature_names`.

        Returns
        -------
        list of dict
            Keys ``feature, bin, count, event_rate, woe, iv, points, segment``;
            ``count`` is the weighted training count of the segment's bin;
            ``event_rate`` is NaN for an empty bin; ``segment`` is the segment's
            conditions (``"all"`` for an unsegmented card). A row's score is the sum
            of the points of its bins in its segment (clipped to [0, 1000]).
        """
        names = list(feature_names) if feature_names is not None else self.feature_names()
        if len(names) != self.n_features_in_:
            raise ValueError(f"{len(names)} feature names for {self.n_features_in_} features")
        rows = []
        for label, seg in zip(self.segment_labels(names), self.segments_, strict=True):
            for name, fb, pts in zip(names, seg.binner.bins_, seg.points, strict=True):
                for bin_label, n, er, w, pt in zip(fb.labels(), fb.counts, fb.event_rate,
                                                   fb.woe, pts, strict=True):
                    rows.append({"feature": name, "bin": bin_label, "count": float(n),
                                 "event_rate": float(er), "woe": float(w), "iv": fb.iv,
                                 "points": float(pt), "segment": label})
        return rows

    def to_csv(self, path: str | Path | None = None,
               feature_names: Sequence[str] | None = None) -> str:
        """Return :meth:`table` as CSV text (UTF-8), also written to ``path`` if given."""
        rows = self.table(feature_names)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["feature", "bin", "count", "event_rate",
                                                 "woe", "iv", "points", "segment"],
                                lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags


# -- evaluation and benchmark ---------------------------------------------------
def ks_statistic(y_true: Any, y_score: Any) -> float:
    """Return the Kolmogorov–Smirnov statistic: max gap between the score CDFs of classes.

    Parameters
    ----------
    y_true : array-like of 0/1
    y_score : array-like of float
        Any score ordering the rows (either direction).
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(y_score, dtype=np.float64)
    if y.all() or not y.any():
        raise ValueError("KS needs both classes in y_true")
    order = np.argsort(s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[s[1:] != s[:-1], True]  # evaluate the CDFs after each distinct score
    cdf1 = np.cumsum(y)[last] / y.sum()
    cdf0 = np.cumsum(~y)[last] / (~y).sum()
    return float(np.max(np.abs(cdf1 - cdf0)))


def bench_scorecard(n: int = 1_000_000, n_features: int = 40, *, rng: Any = 0,
                    n_train: int = 50_000, top: int = 3) -> float:
    """Return the seconds to score ``n`` rows × ``n_features`` (points and top reasons).

    Fits a :class:`Scorecard` on ``n_train`` synthetic rows (counts, rates, 5 %
    missing), then times :meth:`Scorecard.score_with_reasons` (wall clock).
    """
    rng = np.random.default_rng(rng)
    beta = rng.normal(0.0, 0.4, n_features)

    def draw(m: int) -> tuple[np.ndarray, np.ndarray]:
        X = rng.normal(size=(m, n_features))
        X[:, ::2] = np.floor(np.exp(X[:, ::2]))  # count-like columns
        y = (rng.random(m) < expit(X @ beta / 2 - 2.0)).astype(np.int64)
        X[rng.random((m, n_features)) < 0.05] = np.nan
        return X, y

    Xt, yt = draw(n_train)
    model = Scorecard().fit(Xt, yt)
    X, _ = draw(n)
    t0 = time.perf_counter()
    model.score_with_reasons(X, top=top)
    return time.perf_counter() - t0
