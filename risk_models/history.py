"""Backtest risk targeting on an agency's own inspection records (``evaluate-history``).

An agency that adopts the system first asks what hit rate risk targeting would have
given on its own past inspections. This module answers from a CSV with one row per
inspection: an entity id, an inspection date, a 0/1 outcome (problem found) and any
further columns usable as features.

Leakage rules
-------------
* History features of an inspection on day ``d`` come from records of the same entity
  on days strictly before ``d``: same-day records of one entity never see each other,
  and nothing from day ``d`` or later is used.
* In each rolling-origin fold the model, the shrinkage prior (mean and strength) and
  the category levels of categorical columns are learned from records before the fold's test
  window only.
* The optional feature columns are taken as given: the agency must leave out columns
  recorded during or after the inspection (counts cited, scores, the inspector).

The comparison is the top ``top`` fraction of each test window ranked by the LightGBM
model, by the history-only baseline (the entity's shrunk past problem rate) and by
random order (whose expected hit rate is the window's base rate). Hit rates are
pooled over folds; ties at the cut are counted at their expected value under random
tie-breaking, so no ranking gains from an arbitrary order.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

__all__ = [
    "HISTORY_FEATURES",
    "BacktestResult",
    "HistoryData",
    "HistoryInputError",
    "backtest",
    "collapse_carryovers",
    "fit_prior_strength",
    "format_report",
    "history_features",
    "lift_chart_png",
    "load_history",
    "prepare_boston",
    "run_report",
    "top_hits",
    "wilson_interval",
]

#: Features built from each entity's earlier records, with their labels.
HISTORY_FEATURES: dict[str, str] = {
    "history_inspections": "过往检查次数 past inspections",
    "history_problems": "过往发现问题次数 past problems found",
    "history_problem_rate": "过往问题率(经验贝叶斯收缩) past problem rate, shrunk",
    "history_last_problem": "上次检查是否发现问题 last inspection found a problem",
    "history_days_since_last": "距上次检查天数 days since last inspection",
    "history_trend": "近三次问题率减长期问题率 recent (last 3) minus long-run rate",
}

#: History features whose effect on risk is constrained to be non-decreasing.
MONOTONE = ("history_problem_rate",)

#: Past inspection days that make up the "recent" rate of the trend feature.
RECENT_VISITS = 3

#: Categorical columns with more levels than this are identifiers, not features.
MAX_CATEGORY_LEVELS = 255

_TRUE = {"1", "1.0", "true", "t", "yes", "y"}
_FALSE = {"0", "0.0", "false", "f", "no", "n"}


class HistoryInputError(ValueError):
    """The input cannot be evaluated; the message names the column or row."""


@dataclass
class HistoryData:
    """Inspection records ready for :func:`backtest`, in the file's row order.

    Attributes
    ----------
    entity : ndarray of int64
        Entity code per row (equal codes mean the same entity).
    day : ndarray of int64
        Inspection day per row, in days since 1970-01-01.
    outcome : ndarray of int8
        1 if the inspection found a problem.
    features : DataFrame
        The optional feature columns: float64, or object holding category labels.
    categorical : list of str
        The columns of ``features`` used as LightGBM categories.
    skipped : dict
        Columns left out, with the reason.
    """

    entity: np.ndarray
    day: np.ndarray
    outcome: np.ndarray
    features: pd.DataFrame
    categorical: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
class BacktestResult:
    """Output of :func:`backtest`.

    Attributes
    ----------
    summary : dict
        The JSON report (see ``shared/contracts/evaluate-history.schema.json``).
    predictions : DataFrame
        One row per tested inspection: ``row`` (position in the input), ``fold``,
        ``outcome``, ``model_score``, ``history_score``.
    curve : DataFrame
        Pooled hit rate by fraction inspected (``fraction``, ``model``, ``history``,
        ``random``), for the lift chart.
    """

    summary: dict[str, Any]
    predictions: pd.DataFrame
    curve: pd.DataFrame


# --------------------------------------------------------------------------- input


def _read_csv(source: Any, **kwargs: Any) -> pd.DataFrame:
    if isinstance(source, bytes):
        source = source.decode("utf-8-sig")
    if isinstance(source, str) and "\n" in source:
        return pd.read_csv(io.StringIO(source), **kwargs)
    if hasattr(source, "read"):
        text = source.read()
        if isinstance(text, bytes):
            text = text.decode("utf-8-sig")
        return pd.read_csv(io.StringIO(text), **kwargs)
    path = Path(source)
    if not path.is_file():
        raise HistoryInputError(f"file not found / 找不到文件: {path}")
    return pd.read_csv(path, encoding="utf-8-sig", **kwargs)


def _row_label(i: int) -> str:
    # Data row i (0-based) is line i + 2 of a file with one header line.
    return f"row {i + 1} (line {i + 2})"


def _parse_days(values: pd.Series, column: str) -> np.ndarray:
    text = values.astype("string").str.strip()
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    if parsed.isna().any():
        mixed = pd.to_datetime(text, errors="coerce", format="mixed")
        parsed = parsed.fillna(mixed)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise HistoryInputError(
            f"column '{column}', {_row_label(i)}: cannot parse date {values.iloc[i]!r} "
            f"/ 日期无法解析 ({bad.size} bad row(s))"
        )
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_localize(None)
    days = parsed.dt.normalize().to_numpy().astype("datetime64[D]").astype(np.int64)
    return days


def _parse_outcome(values: pd.Series, column: str) -> np.ndarray:
    text = values.astype("string").str.strip().str.lower().fillna("")
    is_true = text.isin(_TRUE).to_numpy()
    is_false = text.isin(_FALSE).to_numpy()
    bad = np.flatnonzero(~(is_true | is_false))
    if bad.size:
        i = int(bad[0])
        raise HistoryInputError(
            f"column '{column}', {_row_label(i)}: outcome must be 0/1 or true/false, "
            f"got {values.iloc[i]!r} / 结果必须为 0/1 ({bad.size} bad row(s))"
        )
    return is_true.astype(np.int8)


def _split_names(names: Sequence[str] | None) -> list[str]:
    out: list[str] = []
    for name in names or ():
        out.extend(part.strip() for part in str(name).split(",") if part.strip())
    return out


def load_history(
    source: Any,
    *,
    entity_col: str = "entity_id",
    date_col: str = "inspected_on",
    outcome_col: str = "violation",
    feature_cols: Sequence[str] | None = None,
    exclude_cols: Sequence[str] = (),
) -> HistoryData:
    """Read and check an inspection CSV.

    Parameters
    ----------
    source : str, path, bytes or file-like
        CSV text, or the path of a CSV file, with a header line.
    entity_col, date_col, outcome_col : str
        Columns of the entity id, the inspection date and the 0/1 (true/false) outcome.
    feature_cols : sequence of str, optional
        Optional feature columns (comma-separated names are split). Default: every
        other column.
    exclude_cols : sequence of str
        Columns never used as features.

    Returns
    -------
    HistoryData

    Raises
    ------
    HistoryInputError
        Unknown column, empty file, unparseable date, missing entity id or a
        non-binary outcome; the message names the column and the first bad row.
    """
    header = list(_read_csv(source, nrows=0).columns) if not isinstance(source, pd.DataFrame) \
        else list(source.columns)
    wanted = _split_names(feature_cols)
    excluded = _split_names(exclude_cols)
    for role, name in (("entity", entity_col), ("date", date_col), ("outcome", outcome_col)):
        if name not in header:
            raise HistoryInputError(
                f"unknown {role} column '{name}' / 找不到列; columns: {', '.join(map(str, header))}"
            )
    for name in wanted + excluded:
        if name not in header:
            raise HistoryInputError(
                f"unknown column '{name}' / 找不到列; columns: {', '.join(map(str, header))}"
            )
    key = (entity_col, date_col, outcome_col)
    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True)
    else:
        if hasattr(source, "seek"):
            source.seek(0)
        frame = _read_csv(source, dtype={c: "string" for c in key}, keep_default_na=True)
    if frame.empty:
        raise HistoryInputError("no inspection rows / 没有检查记录")

    ent = frame[entity_col].astype("string").str.strip()
    missing = np.flatnonzero(ent.isna().to_numpy() | (ent == "").fillna(True).to_numpy())
    if missing.size:
        raise HistoryInputError(
            f"column '{entity_col}', {_row_label(int(missing[0]))}: "
            "missing entity id / 缺少对象编号"
        )
    entity = pd.factorize(ent.to_numpy(dtype=object))[0].astype(np.int64)
    day = _parse_days(frame[date_col], date_col)
    outcome = _parse_outcome(frame[outcome_col], outcome_col)

    names = wanted or [c for c in header if c not in key]
    names = [c for c in dict.fromkeys(names) if c not in excluded and c not in key]
    feats: dict[str, pd.Series] = {}
    categorical: list[str] = []
    skipped: dict[str, str] = {}
    for name in names:
        col = frame[name]
        out_name = f"{name}_input" if name in HISTORY_FEATURES else str(name)
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            values = pd.to_numeric(col, errors="coerce").astype("float64")
            if values.nunique(dropna=True) < 2 and not values.isna().any():
                skipped[str(name)] = "constant / 常数列"
                continue
            feats[out_name] = values
            continue
        labels = col.astype("string").str.strip()
        levels = labels.nunique(dropna=True)
        if levels > MAX_CATEGORY_LEVELS:
            skipped[str(name)] = f"{levels} levels: an identifier, not a category / 取值过多"
            continue
        if levels < 2 and not labels.isna().any():
            skipped[str(name)] = "constant / 常数列"
            continue
        feats[out_name] = pd.Series(labels.to_numpy(dtype=object, na_value=None), name=out_name)
        categorical.append(out_name)
    features = pd.DataFrame(feats, index=pd.RangeIndex(len(frame)))
    return HistoryData(entity, day, outcome, features, categorical, skipped)


# ------------------------------------------------------------------------ features


def history_features(entity: np.ndarray, day: np.ndarray, outcome: np.ndarray) -> pd.DataFrame:
    """Per-inspection statistics of the same entity's strictly earlier days.

    Parameters
    ----------
    entity : array of int
        Entity code per inspection.
    day : array of int
        Inspection day (any integer day count).
    outcome : array of {0, 1}
        Problem found.

    Returns
    -------
    DataFrame
        In input order: ``history_inspections``, ``history_problems``,
        ``history_last_problem`` (any problem on the last earlier day; NaN if none),
        ``history_days_since_last`` (NaN if none), ``recent_inspections`` and
        ``recent_problems`` (the last three earlier days).

    Notes
    -----
    Records are grouped by (entity, day), so same-day records of an entity never see
    each other. Vectorised: one lexsort and cumulative sums, O(n log n).
    """
    entity = np.asarray(entity, dtype=np.int64)
    day = np.asarray(day, dtype=np.int64)
    y = np.asarray(outcome, dtype=np.float64)
    n = day.size
    order = np.lexsort((day, entity))
    e_s, d_s, y_s = entity[order], day[order], y[order]
    new_group = np.r_[True, (e_s[1:] != e_s[:-1]) | (d_s[1:] != d_s[:-1])] if n else np.array([])
    gid = np.cumsum(new_group) - 1
    n_groups = int(gid[-1]) + 1 if n else 0
    cnt = np.bincount(gid, minlength=n_groups).astype(np.float64)
    prob = np.bincount(gid, weights=y_s, minlength=n_groups)
    g_e, g_d = e_s[new_group.astype(bool)], d_s[new_group.astype(bool)]
    idx = np.arange(n_groups)
    new_entity = np.r_[True, g_e[1:] != g_e[:-1]] if n_groups else np.array([], bool)
    start = np.maximum.accumulate(np.where(new_entity, idx, 0)) if n_groups else idx
    pos = idx - start

    def exclusive(values: np.ndarray) -> np.ndarray:
        before = np.cumsum(values) - values
        return before - before[start]

    past_n, past_p = exclusive(cnt), exclusive(prob)
    has_prev = pos >= 1
    prev = np.maximum(idx - 1, 0)
    last_problem = np.where(has_prev, (prob[prev] > 0).astype(np.float64), np.nan)
    since_last = np.where(has_prev, (g_d - g_d[prev]).astype(np.float64), np.nan)
    back = np.maximum(idx - RECENT_VISITS, 0)
    full = pos >= RECENT_VISITS
    recent_n = np.where(full, past_n - past_n[back], past_n)
    recent_p = np.where(full, past_p - past_p[back], past_p)

    out = np.empty((n, 6))
    cols = np.column_stack([past_n, past_p, last_problem, since_last, recent_n, recent_p])
    out[order] = cols[gid]
    frame = pd.DataFrame(
        out,
        columns=["history_inspections", "history_problems", "history_last_problem",
                 "history_days_since_last", "recent_inspections", "recent_problems"],
    )
    return frame


def fit_prior_strength(entity: np.ndarray, outcome: np.ndarray) -> float:
    """Empirical-Bayes strength of the beta prior on entities' problem rates.

    Parameters
    ----------
    entity : array of int
        Entity code per inspection.
    outcome : array of {0, 1}
        Problem found.

    Returns
    -------
    float
        ``k`` such that a rate is shrunk as ``(problems + k * prior) / (inspections + k)``;
        within [0.5, 1000].

    Notes
    -----
    Method of moments for the beta-binomial: the between-entity variance of the true
    rates is the variance of the observed rates (entities with two or more
    inspections) minus their mean binomial sampling variance; then
    ``k = mu (1 - mu) / tau2 - 1`` (Efron & Morris; Robbins 1956).
    """
    entity = np.asarray(entity)
    y = np.asarray(outcome, dtype=np.float64)
    _, inv = np.unique(entity, return_inverse=True)
    n = np.bincount(inv).astype(np.float64)
    p = np.bincount(inv, weights=y)
    keep = n >= 2
    if keep.sum() < 2:
        return 10.0
    n, p = n[keep], p[keep]
    mu = p.sum() / n.sum()
    if mu <= 0 or mu >= 1:
        return 1000.0
    rates = p / n
    observed = np.average((rates - mu) ** 2, weights=n)
    sampling = mu * (1 - mu) * np.average(1 / n, weights=n)
    tau2 = observed - sampling
    if tau2 <= 0:
        return 1000.0
    return float(np.clip(mu * (1 - mu) / tau2 - 1, 0.5, 1000.0))


def _derived(stats: pd.DataFrame, strength: float, prior: float) -> pd.DataFrame:
    """Model features from :func:`history_features`, shrunk towards ``prior``.

    The prior mean is one number per fold (the training period's rate): a prior that
    moved with the date would give every entity without history a distinct value,
    which a tree model reads as a date and overfits.
    """
    n, p = stats["history_inspections"], stats["history_problems"]
    rate = (p + strength * prior) / (n + strength)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = p / n.where(n > 0)
        recent = stats["recent_problems"] / stats["recent_inspections"].where(n > 0)
    return pd.DataFrame({
        "history_inspections": n,
        "history_problems": p,
        "history_problem_rate": rate,
        "history_last_problem": stats["history_last_problem"],
        "history_days_since_last": stats["history_days_since_last"],
        "history_trend": recent - raw,
    })


# ------------------------------------------------------------------------- metrics


def top_hits(score: np.ndarray, outcome: np.ndarray, k: int) -> float:
    """Count the expected problems found among the ``k`` highest scores.

    Parameters
    ----------
    score : array of float
        Risk score (NaN ranks last).
    outcome : array of {0, 1}
        Problem found.
    k : int
        Inspections taken from the top.

    Returns
    -------
    float
        Hits above the cut, plus the tied scores at the cut counted at their mean
        outcome (the expectation under random tie-breaking).
    """
    score = np.where(np.isnan(score), -np.inf, np.asarray(score, dtype=np.float64))
    y = np.asarray(outcome, dtype=np.float64)
    if k <= 0:
        return 0.0
    if k >= score.size:
        return float(y.sum())
    cut = np.partition(score, score.size - k)[score.size - k]
    above = score > cut
    at = score == cut
    return float(y[above].sum() + (k - above.sum()) * y[at].mean())


def wilson_interval(hits: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Parameters
    ----------
    hits : float
        Successes (may be fractional, e.g. expected hits).
    n : float
        Trials.
    confidence : float
        Two-sided coverage.

    Returns
    -------
    (float, float)
        Lower and upper bound; (0, 1) when ``n`` is 0.

    Notes
    -----
    Wilson (1927): centre ``(p + z^2/2n) / (1 + z^2/n)``, half-width
    ``z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n)`` with ``z = Phi^-1(1 - alpha/2)``.

    Examples
    --------
    >>> [round(x, 4) for x in wilson_interval(38, 100)]
    [0.291, 0.4779]
    """
    if n <= 0:
        return 0.0, 1.0
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _take(n: int, fraction: float) -> int:
    return max(1, min(n, int(math.floor(fraction * n + 0.5))))


def _auc(outcome: np.ndarray, score: np.ndarray) -> float | None:
    if outcome.min() == outcome.max():
        return None
    return float(roc_auc_score(outcome, np.nan_to_num(score, nan=-1e9)))


# ------------------------------------------------------------------------ backtest


def _windows(day: np.ndarray, windows: int, test_from: int | None) -> list[tuple[int, int]]:
    """Test windows as [start, end) day pairs; raise if history is under two windows."""
    last = int(day.max()) + 1
    if test_from is not None:
        n_test = int((day >= test_from).sum())
        n_before = int((day < test_from).sum())
        if n_test == 0:
            raise HistoryInputError(
                f"no inspections on or after --test-from {_iso(test_from)} / 测试窗口没有记录"
            )
        if n_before < 2 * n_test:
            raise HistoryInputError(
                f"fewer than two windows of history: {n_before} inspections before "
                f"{_iso(test_from)}, need at least {2 * n_test} (twice the {n_test} tested) "
                f"/ 历史数据不足两个窗口"
            )
        return [(test_from, last)]
    sorted_days = np.sort(day)
    blocks = windows + 2
    starts = [int(sorted_days[int(round(b * day.size / blocks))]) for b in range(2, blocks)]
    if any(b <= a for a, b in zip(starts, starts[1:], strict=False)) or starts[0] <= sorted_days[0]:
        raise HistoryInputError(
            f"fewer than two windows of history: {day.size} inspections on "
            f"{np.unique(day).size} distinct days cannot be cut into {windows} test window(s) "
            f"after two windows of history / 历史数据不足两个窗口"
        )
    return list(zip(starts, starts[1:] + [last], strict=True))


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _categories(train: pd.Series, test: pd.Series) -> tuple[pd.Series, pd.Series]:
    # Levels come from the training period only; a level first seen later is unknown.
    levels = sorted(train.dropna().unique().tolist())
    dtype = pd.CategoricalDtype(levels)
    return train.astype(dtype), test.where(test.isin(levels)).astype(dtype)


def _lgb_params(n_train: int, seed: int) -> dict[str, Any]:
    return {
        "objective": "binary",
        "learning_rate": 0.03,
        "num_leaves": 15,
        "min_data_in_leaf": int(np.clip(n_train // 200, 5, 50)),
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 10.0,
        "cat_smooth": 20.0,
        "min_data_per_group": 50,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "verbose": -1,
    }


def _fit_predict(
    x_train: pd.DataFrame, y_train: np.ndarray, day_train: np.ndarray,
    x_test: pd.DataFrame, seed: int,
) -> tuple[np.ndarray, dict[str, float]]:
    """Fit LightGBM (rounds chosen on the latest fifth of training) and score the test."""
    params = _lgb_params(len(y_train), seed)
    # A higher shrunk past rate never lowers risk: the constraint keeps small or
    # drifting training periods from learning a wiggly, overfitted shape for it.
    params["monotone_constraints"] = [int(c in MONOTONE) for c in x_train.columns]
    cut = np.sort(day_train)[int(0.8 * day_train.size)]
    fit = day_train < cut
    rounds = 100
    if fit.sum() >= 20 and (~fit).sum() >= 10 and np.ptp(y_train[fit]) and np.ptp(y_train[~fit]):
        booster = lgb.train(
            params,
            lgb.Dataset(x_train[fit], y_train[fit]),
            num_boost_round=2000,
            valid_sets=[lgb.Dataset(x_train[~fit], y_train[~fit])],
            callbacks=[lgb.early_stopping(100, verbose=False)],
        )
        rounds = max(10, int(round(booster.best_iteration * 1.1)))
    booster = lgb.train(params, lgb.Dataset(x_train, y_train), num_boost_round=rounds)
    gain = booster.feature_importance("gain")
    total = gain.sum() or 1.0
    importance = {str(name): float(g / total)
                  for name, g in zip(x_train.columns, gain, strict=True)}
    return booster.predict(x_test), importance


def backtest(
    data: HistoryData,
    *,
    windows: int = 4,
    test_from: str | None = None,
    top: float = 0.1,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """Rolling-origin backtest of LightGBM against history-only and random ranking.

    Parameters
    ----------
    data : HistoryData
        From :func:`load_history`.
    windows : int
        Number of test windows: the rows, sorted by date, are cut into ``windows + 2``
        blocks of equal size at day boundaries, and each of the last ``windows``
        blocks is tested with a model trained on everything before it.
    test_from : str, optional
        ISO date: test one window from this date to the end instead.
    top : float
        Fraction of each window inspected, in (0, 1].
    seed : int
        LightGBM seed; the output is identical for the same seed.
    progress : callable, optional
        Receives one line of progress per fold.

    Returns
    -------
    BacktestResult

    Raises
    ------
    HistoryInputError
        Fewer than two windows of history, or a training period with one outcome.
    """
    if not 0 < top <= 1:
        raise HistoryInputError(f"--top must be in (0, 1], got {top}")
    if windows < 1:
        raise HistoryInputError(f"--windows must be at least 1, got {windows}")
    say = progress or (lambda _line: None)
    start_day = None
    if test_from is not None:
        start_day = int(_parse_days(pd.Series([test_from]), "--test-from")[0])
    spans = _windows(data.day, windows, start_day)
    stats = history_features(data.entity, data.day, data.outcome)
    y = data.outcome.astype(np.int8)

    folds: list[dict[str, Any]] = []
    parts: list[pd.DataFrame] = []
    importance: dict[str, float] = {}
    features: list[str] = []
    for number, (lo, hi) in enumerate(spans, start=1):
        train = data.day < lo
        test = (data.day >= lo) & (data.day < hi)
        if np.ptp(y[train]) == 0:
            raise HistoryInputError(
                f"all inspections before {_iso(lo)} have outcome {int(y[train][0])}: "
                f"nothing to learn / 训练期结果全部相同"
            )
        strength = fit_prior_strength(data.entity[train], y[train])
        derived = _derived(stats, strength, float(y[train].mean()))
        x = pd.concat([derived, data.features], axis=1)
        features = list(x.columns)
        x_train, x_test = x[train].reset_index(drop=True), x[test].reset_index(drop=True)
        for name in data.categorical:
            x_train[name], x_test[name] = _categories(x_train[name], x_test[name])
        model_score, importance = _fit_predict(x_train, y[train], data.day[train], x_test, seed)
        history_score = derived["history_problem_rate"].to_numpy()[test]
        y_test = y[test]
        k = _take(int(test.sum()), top)
        fold = {
            "test_from": _iso(lo),
            "test_to": _iso(int(data.day[test].max())),
            "inspections": int(test.sum()),
            "base_rate": float(y_test.mean()),
            "model_hit_rate": top_hits(model_score, y_test, k) / k,
            "history_hit_rate": top_hits(history_score, y_test, k) / k,
            "top_k": k,
            "model_auc": _auc(y_test, model_score),
            "history_auc": _auc(y_test, history_score),
            "prior_strength": strength,
        }
        folds.append(fold)
        parts.append(pd.DataFrame({
            "row": np.flatnonzero(test), "fold": number, "outcome": y_test,
            "model_score": model_score, "history_score": history_score,
        }))
        say(f"fold {number}/{len(spans)} {fold['test_from']}..{fold['test_to']}: "
            f"{fold['inspections']} inspections, top {k}: model {fold['model_hit_rate']:.3f}, "
            f"history {fold['history_hit_rate']:.3f}, base {fold['base_rate']:.3f}")

    predictions = pd.concat(parts, ignore_index=True)
    ks = np.array([f["top_k"] for f in folds], dtype=np.float64)
    n_top = ks.sum()
    model_hits = sum(f["model_hit_rate"] * f["top_k"] for f in folds)
    history_hits = sum(f["history_hit_rate"] * f["top_k"] for f in folds)
    random_hits = sum(f["base_rate"] * f["top_k"] for f in folds)
    base = float(predictions["outcome"].mean())
    model_rate, history_rate = model_hits / n_top, history_hits / n_top

    def pooled_auc(key: str) -> float:
        pairs = [(f[key], f["inspections"]) for f in folds if f[key] is not None]
        if not pairs:
            return 0.5
        return float(np.average([a for a, _ in pairs], weights=[w for _, w in pairs]))

    def lift(rate: float) -> float:
        return rate / base if base > 0 else 0.0

    lo_ci, hi_ci = wilson_interval(model_hits, n_top)
    summary: dict[str, Any] = {
        "rows": int(data.day.size),
        "entities": int(np.unique(data.entity).size),
        "base_rate": base,
        "top_fraction": float(top),
        "folds": folds,
        "model": {"hit_rate": model_rate, "lift": lift(model_rate), "auc": pooled_auc("model_auc"),
                  "ci95": [lo_ci, hi_ci]},
        "history_baseline": {"hit_rate": history_rate, "lift": lift(history_rate),
                             "auc": pooled_auc("history_auc")},
        "random": {"hit_rate": random_hits / n_top},
        "features": features,
        "categorical": list(data.categorical),
        "skipped_columns": dict(data.skipped),
        "feature_importance": dict(sorted(importance.items(), key=lambda kv: -kv[1])),
        "seed": int(seed),
    }
    return BacktestResult(_rounded(summary), predictions, _curve(predictions, folds))


def _curve(predictions: pd.DataFrame, folds: list[dict[str, Any]]) -> pd.DataFrame:
    fractions = np.round(np.arange(0.02, 1.0001, 0.02), 2)
    rows = []
    for q in fractions:
        hits = {"model": 0.0, "history": 0.0, "random": 0.0}
        taken = 0
        for number, fold in enumerate(folds, start=1):
            part = predictions[predictions["fold"] == number]
            y = part["outcome"].to_numpy()
            k = _take(len(part), float(q))
            hits["model"] += top_hits(part["model_score"].to_numpy(), y, k)
            hits["history"] += top_hits(part["history_score"].to_numpy(), y, k)
            hits["random"] += fold["base_rate"] * k
            taken += k
        rows.append({"fraction": float(q), **{key: v / taken for key, v in hits.items()}})
    return pd.DataFrame(rows)


def _rounded(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {key: _rounded(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_rounded(value) for value in obj]
    if isinstance(obj, float | np.floating):
        return round(float(obj), 6)
    return obj


# ------------------------------------------------------------------------- output


def lift_chart_png(result: BacktestResult, *, title: str = "") -> bytes:
    """Render the pooled hit rate by fraction inspected as a PNG.

    Parameters
    ----------
    result : BacktestResult
        From :func:`backtest`.
    title : str
        Chart title (ASCII is safest: fonts without CJK glyphs are common).

    Returns
    -------
    bytes
        PNG image.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curve = result.curve
    top = result.summary["top_fraction"]
    fig = Figure(figsize=(7, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(curve["fraction"] * 100, curve["model"] * 100, label="LightGBM model", lw=2)
    ax.plot(curve["fraction"] * 100, curve["history"] * 100, label="history-only baseline", lw=2)
    ax.plot(curve["fraction"] * 100, curve["random"] * 100, label="random (base rate)", ls="--")
    ax.axvline(top * 100, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("inspections taken from the top of the ranking (%)")
    ax.set_ylabel("hit rate among them (%)")
    ax.set_title(title or "Lift chart: hit rate by fraction inspected (pooled over folds)")
    ax.set_xlim(0, 100)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def format_report(summary: dict[str, Any], *, source: str = "", chart: str = "") -> str:
    """Readable bilingual (Chinese / English) text of a backtest summary.

    Parameters
    ----------
    summary : dict
        ``BacktestResult.summary``.
    source : str
        Name of the input, shown in the heading.
    chart : str
        Path of the saved lift chart, if any.

    Returns
    -------
    str
    """
    pct = lambda x: f"{100 * x:5.1f}%"  # noqa: E731
    top = summary["top_fraction"]
    lines = [
        f"历史回测 Backtest on own inspection history{': ' + source if source else ''}",
        f"记录 rows {summary['rows']:,} · 对象 entities {summary['entities']:,} · "
        f"检查前 {100 * top:g}% top fraction · 特征 features {len(summary['features'])}",
        "",
        f"{'测试窗口 test window':<26}{'检查数 n':>10}{'基准 base':>11}{'模型 model':>12}"
        f"{'历史 history':>14}",
    ]
    for fold in summary["folds"]:
        lines.append(
            f"{fold['test_from'] + '..' + fold['test_to']:<26}{fold['inspections']:>10,}"
            f"{pct(fold['base_rate']):>11}{pct(fold['model_hit_rate']):>12}"
            f"{pct(fold['history_hit_rate']):>14}"
        )
    model, hist = summary["model"], summary["history_baseline"]
    lo, hi = model["ci95"]
    lines += [
        "",
        f"合计 pooled, top {100 * top:g}% of each window:",
        f"  模型 LightGBM       命中率 hit rate {pct(model['hit_rate'])} "
        f"(95% CI {pct(lo).strip()}–{pct(hi).strip()})  提升 lift {model['lift']:.2f}×  "
        f"AUC {model['auc']:.3f}",
        f"  历史基线 history    命中率 hit rate {pct(hist['hit_rate'])}  "
        f"提升 lift {hist['lift']:.2f}×  AUC {hist.get('auc', float('nan')):.3f}",
        f"  随机 random         命中率 hit rate {pct(summary['random']['hit_rate'])}  "
        f"(基准 base rate {pct(summary['base_rate']).strip()})",
    ]
    importance = list(summary.get("feature_importance", {}).items())[:8]
    if importance:
        lines += ["", "主要特征 top features (gain share, last fold): " + ", ".join(
            f"{name} {100 * share:.0f}%" for name, share in importance)]
    if summary.get("skipped_columns"):
        lines += ["未使用列 skipped columns: " + "; ".join(
            f"{name} ({why})" for name, why in summary["skipped_columns"].items())]
    if chart:
        lines += [f"提升图 lift chart: {chart}"]
    return "\n".join(lines)


def run_report(
    csv_text_or_path: Any,
    *,
    entity_col: str = "entity_id",
    date_col: str = "inspected_on",
    outcome_col: str = "violation",
    feature_cols: Sequence[str] | None = None,
    exclude_cols: Sequence[str] = (),
    test_from: str | None = None,
    windows: int = 4,
    top: float = 0.1,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], bytes]:
    """Run the whole backtest on a CSV: the JSON report and its lift chart.

    Parameters
    ----------
    csv_text_or_path : str, path, bytes or file-like
        The CSV (an upload's text or bytes, or a file path).
    entity_col, date_col, outcome_col, feature_cols, exclude_cols
        See :func:`load_history`.
    test_from, windows, top, seed, progress
        See :func:`backtest`.

    Returns
    -------
    (dict, bytes)
        The summary (schema ``evaluate-history.schema.json``) and the PNG chart.

    Raises
    ------
    HistoryInputError
        Bad input; the message names the column or row.
    """
    data = load_history(
        csv_text_or_path, entity_col=entity_col, date_col=date_col, outcome_col=outcome_col,
        feature_cols=feature_cols, exclude_cols=exclude_cols,
    )
    result = backtest(data, windows=windows, test_from=test_from, top=top, seed=seed,
                      progress=progress)
    return result.summary, lift_chart_png(result)


# -------------------------------------------------------------------- preparation


def collapse_carryovers(
    frame: pd.DataFrame,
    *,
    entity_col: str,
    date_col: str,
    count_cols: Sequence[str],
    within_days: int = 30,
) -> pd.DataFrame:
    """Drop re-inspection copies: rows repeating the previous row's counts soon after.

    Parameters
    ----------
    frame : DataFrame
        One row per inspection.
    entity_col, date_col : str
        Entity id and (parseable) date columns.
    count_cols : sequence of str
        Violation counts; a row whose counts all equal those of the same entity's
        previous row dated at most ``within_days`` earlier is a copy.
    within_days : int
        Carry-over horizon.

    Returns
    -------
    DataFrame
        The kept rows, sorted by entity then date.
    """
    when = pd.to_datetime(frame[date_col], format="ISO8601")
    ordered = frame.assign(_when=when).sort_values([entity_col, "_when"], kind="stable")
    group = ordered.groupby(entity_col, sort=False)
    previous = group[list(count_cols)].shift()
    same = (ordered[list(count_cols)] == previous).all(axis=1)
    gap = (ordered["_when"] - group["_when"].shift()).dt.days
    copy = same & (gap <= within_days)
    return ordered.loc[~copy].drop(columns="_when").reset_index(drop=True)


def prepare_boston(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Boston "Keeping it Fresh" ``AllViolations.csv`` as an evaluate-history input.

    Parameters
    ----------
    path : str or path
        ``AllViolations.csv`` (columns: row id, ``date``, ``restaurant_id``, ``*``,
        ``**``, ``***``).

    Returns
    -------
    DataFrame
        Columns ``entity_id``, ``inspected_on``, ``violation`` (1 if ``***`` >= 1),
        after :func:`collapse_carryovers` over 30 days (24,072 of 34,879 rows kept).
    """
    raw = pd.read_csv(path)
    kept = collapse_carryovers(raw, entity_col="restaurant_id", date_col="date",
                               count_cols=["*", "**", "***"], within_days=30)
    return pd.DataFrame({
        "entity_id": kept["restaurant_id"].astype(str),
        "inspected_on": kept["date"].astype(str),
        "violation": (kept["***"] >= 1).astype(int),
    })
