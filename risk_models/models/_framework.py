"""Machinery shared by the 15 warning models.

Every model here is an **additive log-odds model** whose terms explain it:

* Its *prior* (cold start) is a hand-set logistic score: a bias plus weighted
  *terms*, each a named signal computed from catalogue features (a rule that fires,
  a test statistic, a transformed count). It needs no labels, so period 1 of the
  system already produces warnings.
* With enough recorded outcomes (``min_labels``, both classes) ``fit`` tries the
  model's *learners* and keeps the one with the best out-of-fold AUC:

  - ``"platt"``: the prior rescaled, ``a * prior_logit + b`` (calibration only);
  - ``"logistic"``: the term weights re-estimated by logistic regression, with a
    Gaussian prior centred on the hand-set weights (``prior_strength``), so a rule
    that never fired among the labelled rows keeps its hand-set weight;
  - ``"lightgbm"``: gradient boosting on the model's numeric features, its derived
    features (graph, shrunk rates...) and the prior logit as one more feature
    (stacking), with monotone constraints from ``Feature.higher_is_riskier``.

  The out-of-fold scores of the kept learner choose the warning thresholds, so the
  precision they promise is not an in-sample illusion.
* Explanations are exact decompositions of the raw score (log-odds): term
  contributions for the linear learners, ``pred_contrib`` for LightGBM, where the
  prior feature's contribution is shared among the prior's positive terms.

A model whose ``X`` does not have its catalogue width (``len(features)`` columns)
cannot know which column is which: it then runs in *generic mode*, where its terms
are constant (bias only), it applies to every row and only a LightGBM learner can
learn from the columns. This keeps the scikit-learn contract (estimator checks feed
arbitrary matrices); the server always builds ``X`` with
:func:`risk_models.models.make_model_matrix`, so production never hits it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from risk_models.base import BIAS_CODE, Explanation, RiskModel
from risk_models.features import feature

__all__ = [
    "Columns",
    "DomainModel",
    "LGBMDomainModel",
    "Terms",
    "TermsBuilder",
    "fit_logistic",
]

LEARNERS = ("platt", "logistic", "lightgbm")


class Columns:
    """Named access to the columns of ``X`` (catalogue features, in ``features`` order).

    In generic mode (``X`` not of the catalogue width) every named column reads as
    missing (NaN, empty text).
    """

    def __init__(self, X: np.ndarray, features: tuple[str, ...]) -> None:
        self.X = X
        self.features = features
        self.named = X.shape[1] == len(features)
        self._pos = {f: i for i, f in enumerate(features)} if self.named else {}
        self._cache: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.X)

    def take(self, rows: np.ndarray) -> Columns:
        """Return the columns of ``rows`` only."""
        everything = len(rows) == len(self.X) and (
            len(rows) == 0 or (rows[0] == 0 and bool(np.all(np.diff(rows) == 1))))
        if everything:
            return self
        return Columns(self.X[rows], self.features)

    def num(self, name: str) -> np.ndarray:
        """Float column (NaN = no data)."""
        col = self._cache.get(name)
        if col is None:
            pos = self._pos.get(name)
            if pos is None:
                col = np.full(len(self.X), np.nan)
            else:
                raw = self.X[:, pos]
                if raw.dtype == object:
                    try:
                        raw = raw.astype(np.float64)
                    except (TypeError, ValueError):
                        raw = np.array([v if isinstance(v, int | float) else np.nan for v in raw],
                                       dtype=np.float64)
                col = np.asarray(raw, dtype=np.float64)
            self._cache[name] = col
        return col

    def count(self, name: str) -> np.ndarray:
        """Non-negative count (NaN read as 0)."""
        c = self.num(name)
        return np.where(c > 0, c, 0.0)

    def flag(self, name: str) -> np.ndarray:
        """0/1 indicator ``x > 0.5`` (NaN read as 0)."""
        return (self.num(name) > 0.5).astype(np.float64)

    def is_zero(self, name: str) -> np.ndarray:
        """0/1 indicator of a recorded 0 (NaN, unknown, read as 0)."""
        return (self.num(name) == 0).astype(np.float64)

    def text(self, name: str) -> np.ndarray:
        """Object array of ``str`` (``""`` where there is none)."""
        pos = self._pos.get(name)
        if pos is None or self.X.dtype != object:
            return np.full(len(self.X), "", dtype=object)
        col = self.X[:, pos]
        bad = ~np.frompyfunc(lambda v: isinstance(v, str), 1, 1)(col).astype(bool)
        if bad.any():
            col = col.copy()
            col[bad] = ""
        return col


@dataclass
class Terms:
    """Prior terms of ``n`` rows: ``logit = bias + signals @ weights``."""

    codes: tuple[str, ...]
    signals: np.ndarray
    values: np.ndarray
    weights: np.ndarray
    bias: float

    def logit(self) -> np.ndarray:
        """Return the prior log-odds of each row."""
        return self.bias + self.signals @ self.weights


@dataclass
class TermsBuilder:
    """Collect terms one by one: ``add(code, signal, weight, value)``."""

    n: int
    bias: float
    codes: list[str] = field(default_factory=list)
    signals: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def add(self, code: str, signal: np.ndarray, weight: float,
            value: np.ndarray | None = None) -> None:
        """Add a term; ``value`` (default the signal) is what reasons show."""
        signal = np.nan_to_num(np.asarray(signal, dtype=np.float64), nan=0.0)
        self.codes.append(code)
        self.signals.append(np.broadcast_to(signal, (self.n,)))
        self.values.append(np.broadcast_to(
            np.asarray(signal if value is None else value, dtype=np.float64), (self.n,)))
        self.weights.append(float(weight))

    def feature(self, C: Columns, name: str, weight: float, how: str = "log1p",
                cap: float | None = None) -> None:
        """Add catalogue feature ``name`` as a term (code = name, value = raw feature).

        ``how``: ``"log1p"`` of the count, ``"count"``, ``"flag"`` (x > 0.5),
        ``"rate"`` (the value itself, NaN as 0); ``cap`` clips the signal.
        """
        if how == "log1p":
            signal = _log1p(C.count(name))
        elif how == "count":
            signal = C.count(name)
        elif how == "flag":
            signal = C.flag(name)
        elif how == "rate":
            signal = np.nan_to_num(C.num(name), nan=0.0)
        else:
            raise ValueError(f"unknown transform {how!r}")
        if cap is not None:
            signal = np.minimum(signal, cap)
        self.add(name, signal, weight, C.num(name))

    def build(self) -> Terms:
        """Return the collected :class:`Terms`."""
        k = len(self.codes)
        return Terms(
            codes=tuple(self.codes),
            signals=np.column_stack(self.signals) if k else np.zeros((self.n, 0)),
            values=np.column_stack(self.values) if k else np.zeros((self.n, 0)),
            weights=np.asarray(self.weights, dtype=np.float64),
            bias=float(self.bias),
        )


def fit_logistic(
    S: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    coef0: np.ndarray,
    bias0: float,
    strength: float,
    bias_strength: float = 1e-3,
) -> tuple[np.ndarray, float]:
    """Weighted logistic regression with a Gaussian prior around ``(coef0, bias0)``.

    Minimises ``sum w (log(1 + e^z) - y z) + strength/2 |coef - coef0|^2
    + bias_strength/2 (b - bias0)^2`` with ``z = S @ coef + b`` (L-BFGS).

    Parameters
    ----------
    S : ndarray of shape (n, k)
        Signals.
    y, w : ndarray of shape (n,)
        Outcomes (0/1) and weights.
    coef0 : ndarray of shape (k,)
        Prior mean of the coefficients (the hand-set weights).
    bias0 : float
        Prior mean of the intercept.
    strength, bias_strength : float
        Prior precisions, in units of (weighted) labelled rows.

    Returns
    -------
    coef : ndarray of shape (k,)
    intercept : float
    """
    k = S.shape[1]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef, b = theta[:k], theta[k]
        z = S @ coef + b
        loss = np.sum(w * (np.logaddexp(0.0, z) - y * z))
        dc, db = coef - coef0, b - bias0
        loss += 0.5 * strength * dc @ dc + 0.5 * bias_strength * db * db
        g = w * (expit(z) - y)
        grad = np.empty(k + 1)
        grad[:k] = S.T @ g + strength * dc
        grad[k] = g.sum() + bias_strength * db
        return float(loss), grad

    res = minimize(objective, np.r_[coef0, bias0], jac=True, method="L-BFGS-B",
                   options={"maxiter": 500})
    return res.x[:k].copy(), float(res.x[k])


def _log1p(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.where(x > 0, x, 0.0))


class DomainModel(RiskModel):
    """A warning model made of prior terms plus a learner (see the module docstring).

    Parameters
    ----------
    min_labels : int
        Fewest labelled applicable rows (with both outcomes) needed to learn;
        fewer means cold start (the prior alone).
    n_folds : int
        Folds of the out-of-fold comparison of learners (< 2: no comparison, the
        model's richest learner is kept and thresholds use in-sample scores).
    volume : tuple of 3 floats or None
        Largest share of applicable rows flagged at yellow-or-above,
        orange-or-above and red; ``None`` uses the model's ``default_volume``,
        set so that the 15 models together warn about 1–3 % of entities.
    target_precision : tuple of 3 floats
        Precision wanted at yellow, orange and red (with labels).
    min_score : tuple of 3 floats
        Lowest probability for yellow, orange and red (a warning below the random
        hit rate is not worth an inspector's visit).
    prior_strength : float
        Weight of the hand-set term weights when they are re-estimated, in
        labelled rows (Gaussian prior precision).
    random_state : int
        Seed of the fold split (and of LightGBM).

    Attributes
    ----------
    mode_ : {"prior", "platt", "logistic", "lightgbm"}
        The learner kept (``"prior"``: cold start).
    cold_start_ : bool
        ``mode_ == "prior"``.
    coef_, intercept_ : ndarray, float
        Term weights and bias in log-odds (linear modes).
    booster_ : lightgbm.Booster or None
        The boosted trees (``"lightgbm"`` mode).
    term_codes_ : tuple of str
        Codes of the prior terms, in order.
    thresholds_ : (yellow, orange, red)
        Score thresholds of the warning levels.
    n_labels_, n_positive_ : int
        Labelled applicable rows used, and positives among them.
    cv_auc_ : dict of str to float
        Out-of-fold AUC of each learner tried (and of the prior).
    population_size_, applicable_share_ : int, float
        Size of the population the thresholds were chosen on, share applicable.
    """

    #: Candidate learners, simplest first (ties in out-of-fold AUC keep the simpler).
    learners: ClassVar[tuple[str, ...]] = ("platt", "logistic")
    #: Default (yellow, orange, red) volume shares of applicable rows.
    default_volume: ClassVar[tuple[float, float, float]] = (0.02, 0.007, 0.002)
    #: Derived LightGBM columns' monotone constraints (+1, -1, 0) by code.
    derived_monotone: ClassVar[dict[str, int]] = {}

    def __init__(
        self,
        *,
        min_labels: int = 50,
        n_folds: int = 3,
        volume: tuple[float, float, float] | None = None,
        target_precision: tuple[float, float, float] = (0.2, 0.35, 0.5),
        min_score: tuple[float, float, float] = (0.15, 0.3, 0.5),
        prior_strength: float = 5.0,
        random_state: int = 0,
    ) -> None:
        self.min_labels = min_labels
        self.n_folds = n_folds
        self.volume = volume
        self.target_precision = target_precision
        self.min_score = min_score
        self.prior_strength = prior_strength
        self.random_state = random_state

    # -- hooks -------------------------------------------------------------------
    def _fit_population(self, C: Columns) -> None:
        """Learn population statistics (priors of shrinkage, robust scales)."""

    def _context(self, C: Columns) -> dict[str, np.ndarray]:
        """Per-row features that depend on the other rows (graph, peers)."""
        return {}

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        raise NotImplementedError

    def _derived(self, C: Columns, ctx: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
        """Extra LightGBM columns (codes, matrix) beyond the numeric features."""
        return [], np.zeros((len(C), 0))

    def _applicable_cols(self, C: Columns) -> np.ndarray:
        return np.ones(len(C), dtype=bool)

    def _details(self, C: Columns, ctx: dict[str, np.ndarray], terms: Terms,
                 codes: list[str]) -> dict[str, np.ndarray]:
        """Evidence strings for some reason codes, one per row of ``C``."""
        return {}

    # -- parameters ----------------------------------------------------------------
    def _check_params(self, **params: Any) -> None:
        for key in ("min_labels", "n_folds"):
            if not isinstance(params[key], int | np.integer) or isinstance(params[key], bool):
                raise TypeError(f"{key} must be an int, got {params[key]!r}")
            if params[key] < 0:
                raise ValueError(f"{key} must be >= 0, got {params[key]}")
        for key in ("volume", "target_precision", "min_score"):
            value = params[key]
            if value is None and key == "volume":
                continue
            if len(value) != 3 or not all(0.0 <= float(v) <= 1.0 for v in value):
                raise ValueError(f"{key} must be 3 numbers in [0, 1], got {value!r}")
        if not params["prior_strength"] >= 0:
            raise ValueError(f"prior_strength must be >= 0, got {params['prior_strength']}")

    def _threshold_options(self) -> dict[str, Any]:
        return {
            "volume": self.default_volume if self.volume is None else self.volume,
            "target_precision": self.target_precision,
            "min_score": self.min_score,
            "min_labels": self.min_labels,
        }

    # -- preparation ---------------------------------------------------------------
    def _prepare(self, X: np.ndarray, rows: np.ndarray,
                 groups: np.ndarray | None = None) -> tuple[Columns, dict[str, np.ndarray], Terms]:
        C_all = Columns(X, self.features)
        if groups is None:
            ctx = self._context(C_all)
        else:
            ctx = {}
            for g in np.unique(groups):
                idx = np.flatnonzero(groups == g)
                for key, arr in self._context(C_all.take(idx)).items():
                    ctx.setdefault(key, np.zeros(len(X)))[idx] = arr
        C = C_all.take(rows)
        ctx_r = {k: v[rows] for k, v in ctx.items()}
        return C, ctx_r, self._terms(C, ctx_r)

    def _applicable(self, X: np.ndarray) -> np.ndarray:
        C = Columns(X, self.features)
        if not C.named:
            return np.ones(len(X), dtype=bool)
        return np.asarray(self._applicable_cols(C), dtype=bool)

    def _design(self, C: Columns, ctx: dict[str, np.ndarray], terms: Terms
                ) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
        """LightGBM columns: numeric features, derived, prior logit (codes, matrix, values)."""
        if C.named:
            num = [f for f in self.features if feature(f).kind == "num"]
            base = [C.num(f) for f in num]
        else:
            num = [f"x{j}" for j in range(C.X.shape[1])]
            base = [np.asarray(C.X[:, j], dtype=np.float64) for j in range(C.X.shape[1])]
        dcodes, dmat = self._derived(C, ctx)
        cols = base + [dmat[:, j] for j in range(dmat.shape[1])] + [terms.logit()]
        codes = num + list(dcodes) + ["__prior__"]
        return codes, np.column_stack(cols), cols

    def _monotone(self, codes: list[str]) -> list[int]:
        out = []
        for code in codes:
            if code == "__prior__":
                out.append(1)
            elif code in self.derived_monotone:
                out.append(self.derived_monotone[code])
            else:
                try:
                    h = feature(code).higher_is_riskier
                except KeyError:
                    h = None
                out.append(0 if h is None else (1 if h else -1))
        return out

    # -- fitting -------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, *,
            population: Any = None, groups: Any = None) -> DomainModel:
        """Fit population statistics, choose the learner, choose the thresholds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Catalogue columns in ``features`` order: the inspected rows, or better a
            whole snapshot (context models compute graph and peer features over it).
        y : array-like of shape (n_samples,), optional
            Outcomes: 1 problem found, 0 none, NaN not inspected. ``None``: cold start.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the labelled rows (e.g. inverse inclusion probabilities).
        population : array-like, optional
            Features of the population to be warned (e.g. the latest snapshot):
            population statistics (shrinkage priors, robust scales) and the volume
            caps of the thresholds are taken from it. Default: all rows of ``X``.
        groups : array-like of shape (n_samples,), optional
            Rows with equal values form one population for context features (graph,
            peers), e.g. the snapshot date when several snapshots are stacked.

        Returns
        -------
        self : DomainModel
        """
        return super().fit(X, y, sample_weight, population=population, groups=groups)

    def _fit(self, X: np.ndarray, labelled: np.ndarray, y: np.ndarray,
             sample_weight: np.ndarray | None, *, population: Any = None,
             groups: Any = None) -> None:
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (len(X),):
                raise ValueError(f"groups must have shape ({len(X)},), got {groups.shape}")
        if population is not None:
            X_pop = self._validate_X(population, reset=False)
        else:
            X_pop = X
        C_pop = Columns(X_pop, self.features)
        app_pop = self._applicable(X_pop)
        self._fit_population(C_pop.take(np.flatnonzero(app_pop)))

        w = np.ones(len(X)) if sample_weight is None else sample_weight
        app = self._applicable(X)
        lab_rows = np.flatnonzero(labelled & app & (w > 0))
        y_lab, w_lab = y[lab_rows], w[lab_rows]
        if len(lab_rows):
            w_lab = w_lab / w_lab.mean()
        self.n_labels_ = len(lab_rows)
        self.n_positive_ = int(y_lab.sum())
        n_neg = self.n_labels_ - self.n_positive_
        self.cv_auc_: dict[str, float] = {}

        C, ctx, terms = self._prepare(X, lab_rows, groups)
        self.term_codes_ = terms.codes
        self._set_linear("prior", terms.weights, terms.bias)
        lab_raw = terms.logit()
        learn = self.n_labels_ >= self.min_labels and min(self.n_positive_, n_neg) >= 2
        if learn:
            lab_raw = self._choose_learner(C, ctx, terms, y_lab, w_lab)
        self.cold_start_ = self.mode_ == "prior"

        rows_pop = np.flatnonzero(app_pop)
        pop_groups = groups if population is None else None
        pop_scores = expit(self._raw(X_pop, rows_pop, pop_groups)) if len(rows_pop) else np.zeros(0)
        self.population_size_ = len(X_pop)
        self.applicable_share_ = float(app_pop.mean()) if len(X_pop) else 0.0
        self.thresholds_ = (0.0, 0.0, 0.0)  # marks fitted for calibrate_thresholds
        self.calibrate_thresholds(
            pop_scores,
            expit(lab_raw) if learn else None,
            y_lab if learn else None,
            w_lab if learn else None,
        )

    def _set_linear(self, mode: str, coef: np.ndarray, intercept: float) -> None:
        self.mode_ = mode
        self.coef_ = np.asarray(coef, dtype=np.float64)
        self.intercept_ = float(intercept)

    def _fit_candidate(self, learner: str, C: Columns, ctx: dict[str, np.ndarray], terms: Terms,
                       y: np.ndarray, w: np.ndarray, rows: np.ndarray) -> Any:
        """Fit ``learner`` on ``rows``; return its state."""
        if learner == "platt":
            a, b = fit_logistic(terms.logit()[rows, None], y[rows], w[rows],
                                np.ones(1), 0.0, self.prior_strength)
            return a[0] * terms.weights, a[0] * terms.bias + b
        if learner == "logistic":
            return fit_logistic(terms.signals[rows], y[rows], w[rows], terms.weights,
                                terms.bias, self.prior_strength)
        raise ValueError(f"unknown learner {learner!r}")

    def _predict_candidate(self, learner: str, state: Any, C: Columns,
                           ctx: dict[str, np.ndarray], terms: Terms,
                           rows: np.ndarray) -> np.ndarray:
        coef, intercept = state
        return intercept + terms.signals[rows] @ coef

    def _choose_learner(self, C: Columns, ctx: dict[str, np.ndarray], terms: Terms,
                        y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Compare learners out of fold, refit the best on all rows; return its OOF raw."""
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold

        n_pos = int(y.sum())
        n_splits = min(self.n_folds, n_pos, len(y) - n_pos)
        everything = np.arange(len(y))
        if n_splits >= 2:
            folds = list(StratifiedKFold(n_splits, shuffle=True,
                                         random_state=self.random_state).split(everything, y))
            best, best_auc, best_oof = None, -np.inf, None
            for learner in self.learners:
                oof = np.zeros(len(y))
                for train, test in folds:
                    state = self._fit_candidate(learner, C, ctx, terms, y, w, train)
                    oof[test] = self._predict_candidate(learner, state, C, ctx, terms, test)
                auc = float(roc_auc_score(y, oof, sample_weight=w))
                self.cv_auc_[learner] = auc
                if auc > best_auc + 0.005:
                    best, best_auc, best_oof = learner, auc, oof
            self.cv_auc_["prior"] = float(roc_auc_score(y, terms.logit(), sample_weight=w))
        else:
            best, best_oof = self.learners[-1], None
        state = self._fit_candidate(best, C, ctx, terms, y, w, everything)
        self._store(best, state)
        if best_oof is None:
            best_oof = self._predict_candidate(best, state, C, ctx, terms, everything)
        return best_oof

    def _store(self, learner: str, state: Any) -> None:
        self._set_linear(learner, *state)

    # -- scoring -------------------------------------------------------------------
    def _raw(self, X: np.ndarray, rows: np.ndarray,
             groups: np.ndarray | None = None) -> np.ndarray:
        C, ctx, terms = self._prepare(X, rows, groups)
        return self.intercept_ + terms.signals @ self.coef_

    def _explain_all(self, X: np.ndarray, rows: np.ndarray) -> Explanation:
        C, ctx, terms = self._prepare(X, rows)
        codes = list(terms.codes) + [BIAS_CODE]
        contrib = np.column_stack([terms.signals * self.coef_, np.full(len(C), self.intercept_)])
        values = np.column_stack([terms.values, np.full(len(C), np.nan)])
        return self._explanation(C, ctx, terms, codes, values, contrib)

    def _explanation(self, C: Columns, ctx: dict[str, np.ndarray], terms: Terms,
                     codes: list[str], values: np.ndarray, contrib: np.ndarray) -> Explanation:
        n = len(C)
        details = np.full((n, len(codes)), "", dtype=object)
        for code, text in self._details(C, ctx, terms, codes).items():
            details[:, codes.index(code)] = text
        return Explanation(
            codes=np.broadcast_to(np.asarray(codes, dtype=object), (n, len(codes))).copy(),
            values=values,
            contributions=contrib,
            details=details,
        )


class LGBMDomainModel(DomainModel):
    """A :class:`DomainModel` that can also learn with LightGBM.

    Parameters
    ----------
    n_estimators : int
        Boosting rounds.
    learning_rate : float
        Shrinkage.
    num_leaves : int
        Leaves per tree (small: label sets are hundreds to a few thousand rows).
    min_child_samples : int
        Fewest rows per leaf.
    reg_lambda : float
        L2 penalty of leaf values.
    colsample_bytree : float
        Share of columns tried per tree.
    monotone : bool
        Constrain features monotone by ``Feature.higher_is_riskier`` (and the prior
        logit increasing).
    n_jobs : int
        LightGBM threads.
    **kwargs
        As :class:`DomainModel`.
    """

    learners: ClassVar[tuple[str, ...]] = ("platt", "lightgbm")

    def __init__(
        self,
        *,
        min_labels: int = 50,
        n_folds: int = 3,
        volume: tuple[float, float, float] | None = None,
        target_precision: tuple[float, float, float] = (0.2, 0.35, 0.5),
        min_score: tuple[float, float, float] = (0.15, 0.3, 0.5),
        prior_strength: float = 5.0,
        random_state: int = 0,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        reg_lambda: float = 1.0,
        colsample_bytree: float = 0.9,
        monotone: bool = True,
        n_jobs: int = 2,
    ) -> None:
        super().__init__(
            min_labels=min_labels, n_folds=n_folds, volume=volume,
            target_precision=target_precision, min_score=min_score,
            prior_strength=prior_strength, random_state=random_state,
        )
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.colsample_bytree = colsample_bytree
        self.monotone = monotone
        self.n_jobs = n_jobs

    def _check_params(self, **params: Any) -> None:
        super()._check_params(**params)
        for key in ("n_estimators", "num_leaves", "min_child_samples", "n_jobs"):
            if not isinstance(params[key], int | np.integer) or params[key] < 1:
                raise ValueError(f"{key} must be a positive int, got {params[key]!r}")
        if params["num_leaves"] < 2:
            raise ValueError(f"num_leaves must be >= 2, got {params['num_leaves']}")
        if not 0 < params["learning_rate"]:
            raise ValueError(f"learning_rate must be > 0, got {params['learning_rate']}")
        if not 0 < params["colsample_bytree"] <= 1:
            raise ValueError(
                f"colsample_bytree must be in (0, 1], got {params['colsample_bytree']}")

    def _lgb_params(self, codes: list[str]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "lambda_l2": self.reg_lambda,
            "feature_fraction": self.colsample_bytree,
            "num_threads": self.n_jobs,
            "seed": self.random_state,
            "deterministic": True,
            "force_col_wise": True,
            "max_bin": 63,
            "min_data_in_bin": 1,
            "verbose": -1,
        }
        if self.monotone:
            params["monotone_constraints"] = self._monotone(codes)
        return params

    def _fit_candidate(self, learner: str, C: Columns, ctx: dict[str, np.ndarray], terms: Terms,
                       y: np.ndarray, w: np.ndarray, rows: np.ndarray) -> Any:
        if learner != "lightgbm":
            return super()._fit_candidate(learner, C, ctx, terms, y, w, rows)
        import lightgbm as lgb

        codes, design, _ = self._design(C, ctx, terms)
        params = self._lgb_params(codes)
        data = lgb.Dataset(design[rows], label=y[rows], weight=w[rows],
                           params={"max_bin": 63, "min_data_in_bin": 1, "verbose": -1},
                           feature_name=[f"c{j}" for j in range(len(codes))])
        booster = lgb.train(params, data, num_boost_round=self.n_estimators)
        return booster, codes

    def _predict_candidate(self, learner: str, state: Any, C: Columns,
                           ctx: dict[str, np.ndarray], terms: Terms,
                           rows: np.ndarray) -> np.ndarray:
        if learner != "lightgbm":
            return super()._predict_candidate(learner, state, C, ctx, terms, rows)
        booster, _ = state
        _, design, _ = self._design(C, ctx, terms)
        return booster.predict(design[rows], raw_score=True, num_threads=self.n_jobs)

    def _set_linear(self, mode: str, coef: np.ndarray, intercept: float) -> None:
        super()._set_linear(mode, coef, intercept)
        self.booster_ = None

    def _store(self, learner: str, state: Any) -> None:
        if learner != "lightgbm":
            super()._store(learner, state)
            return
        self.mode_ = "lightgbm"
        self.booster_, self.design_codes_ = state

    def _raw(self, X: np.ndarray, rows: np.ndarray,
             groups: np.ndarray | None = None) -> np.ndarray:
        if self.mode_ != "lightgbm":
            return super()._raw(X, rows, groups)
        C, ctx, terms = self._prepare(X, rows, groups)
        _, design, _ = self._design(C, ctx, terms)
        return self.booster_.predict(design, raw_score=True, num_threads=self.n_jobs)

    def _explain_all(self, X: np.ndarray, rows: np.ndarray) -> Explanation:
        if self.mode_ != "lightgbm":
            return super()._explain_all(X, rows)
        C, ctx, terms = self._prepare(X, rows)
        dcodes, design, dcols = self._design(C, ctx, terms)
        n = len(C)
        pc = self.booster_.predict(design, pred_contrib=True, num_threads=self.n_jobs)
        pc = np.asarray(pc, dtype=np.float64).reshape(n, len(dcodes) + 1)
        own = dcodes[:-1]  # without "__prior__"
        extra = [c for c in terms.codes if c not in own]
        codes = own + extra + [BIAS_CODE]
        index = {c: i for i, c in enumerate(codes)}
        contrib = np.zeros((n, len(codes)))
        values = np.full((n, len(codes)), np.nan)
        contrib[:, : len(own)] = pc[:, : len(own)]
        for j in range(len(own)):
            values[:, j] = dcols[j]
        for j, code in enumerate(terms.codes):
            if code in extra:
                values[:, index[code]] = terms.values[:, j]
        # share the prior feature's contribution among the prior's positive terms
        prior_c = pc[:, len(own)]
        parts = np.maximum(terms.signals * terms.weights, 0.0)
        total = parts.sum(axis=1)
        has = total > 0
        share = np.divide(parts, total[:, None], out=np.zeros_like(parts), where=has[:, None])
        for j, code in enumerate(terms.codes):
            contrib[:, index[code]] += prior_c * share[:, j]
        contrib[:, -1] = pc[:, -1] + np.where(has, 0.0, prior_c)
        return self._explanation(C, ctx, terms, codes, values, contrib)
