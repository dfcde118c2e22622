"""Common base of the 15 risk-warning models.

Every model follows the scikit-learn estimator contract (``develop.rst``):
``__init__`` takes keyword-only, typed parameters and only stores them; ``fit``
validates them, learns attributes whose names end in ``_`` and returns ``self``;
``predict_proba`` returns the two-column probability matrix. On top of that a
warning model

* declares what it is (``name``, ``description``, ``domain``, ``kind``) and which
  catalogue features it reads (``features``, see :mod:`risk_models.features`);
* says which rows it applies to (:meth:`RiskModel.applicable`): a model scores 0 on
  an entity without records in its domain (no special equipment, no adverts...);
* explains each score with its top reasons (:meth:`RiskModel.explain`), and with
  ``top=None`` gives the complete additive decomposition of the raw score
  (:meth:`RiskModel.decision_function`, log-odds) including the ``"__bias__"`` term;
* turns scores into warning levels with thresholds chosen from recorded outcomes and
  bounded in volume on the population (:meth:`RiskModel.warning_levels`,
  :meth:`RiskModel.calibrate_thresholds`, :func:`choose_thresholds`);
* cites the legal basis of the violation it suspects (``legal_basis``, and per reason
  code ``rule_articles``, see :meth:`RiskModel.cited_articles`).

Models never see the simulator's hidden truth: ``X`` holds catalogue features built
from recorded data and ``y`` holds recorded inspection outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = [
    "BIAS_CODE",
    "LEVELS",
    "LEVEL_NAMES",
    "NEVER",
    "Explanation",
    "RiskModel",
    "choose_thresholds",
    "volume_threshold",
]

#: Warning levels as stored integers: 0 none, 1 yellow, 2 orange, 3 red.
LEVELS: dict[int, str] = {0: "none", 1: "yellow", 2: "orange", 3: "red"}
LEVEL_NAMES: dict[str, str] = {"yellow": "黄色", "orange": "橙色", "red": "红色"}

#: Reason code of the constant term in a complete explanation (``explain(top=None)``).
BIAS_CODE = "__bias__"

#: A threshold no score reaches (scores are clipped to [0, 1]); JSON-safe, unlike inf.
NEVER = float(np.nextafter(1.0, 2.0))


@dataclass(frozen=True)
class Explanation:
    """Reasons behind each entity's score, as arrays (no per-row objects).

    Attributes
    ----------
    codes : ndarray of str, shape (n_samples, k)
        A feature name from the catalogue, or a rule/test code of the model
        (listed in the model's ``reason_labels``); ``""`` pads rows with fewer
        reasons. In a complete explanation (``top=None``) the last column is
        ``"__bias__"``.
    values : ndarray of float, shape (n_samples, k)
        The feature value (or the test statistic) behind each reason; NaN if none.
    contributions : ndarray of float, shape (n_samples, k)
        How much each reason adds to the raw score, in log-odds. Top-k explanations
        keep only positive contributions, sorted descending within a row; a complete
        explanation keeps every term in the model's fixed column order, and its rows
        sum to :meth:`RiskModel.decision_function`.
    details : ndarray of str, shape (n_samples, k), optional
        Human-readable evidence for a reason where the model has some (the matched
        advert term, the count test that fired); ``""`` otherwise.
    """

    codes: np.ndarray
    values: np.ndarray
    contributions: np.ndarray
    details: np.ndarray | None = None

    def row(self, i: int) -> list[tuple[str, float, float]]:
        """Return the non-empty reasons of row ``i`` as ``(code, value, contribution)``."""
        return [
            (str(c), float(v), float(w))
            for c, v, w in zip(self.codes[i], self.values[i], self.contributions[i], strict=True)
            if c
        ]

    def detail(self, i: int) -> list[str]:
        """Return the evidence strings of row ``i``'s non-empty reasons (``""`` if none)."""
        if self.details is None:
            return ["" for c in self.codes[i] if c]
        return [str(d) for c, d in zip(self.codes[i], self.details[i], strict=True) if c]


class RiskModel(ClassifierMixin, BaseEstimator):
    """Base class of a risk-warning model.

    Subclasses set the class attributes below, implement ``_fit``, ``_raw`` and
    ``_explain_all``, optionally ``_applicable``, and are registered with
    :func:`risk_models.registry.register`. The shared machinery of the 15 models
    (prior terms, learners, explanations) is in :mod:`risk_models.models._framework`.
    """

    #: Registry name (one of the 15 in DESIGN.md).
    name: ClassVar[str] = ""
    #: Chinese name shown to users.
    description: ClassVar[str] = ""
    #: Warning domain (same as ``name`` for the 15 models).
    domain: ClassVar[str] = ""
    #: "lightgbm", "rules", "statistical", "graph" or a "+"-joined combination.
    kind: ClassVar[str] = ""
    #: Catalogue features read, in column order of ``X``.
    features: ClassVar[tuple[str, ...]] = ()
    #: Business types the model applies to (``None`` = every entity).
    business_types: ClassVar[frozenset[str] | None] = None
    #: Legal basis of the suspected violation, e.g. ``("食品安全法", 34)``; the law's
    #: short title is the file name of the law text before its "(".
    legal_basis: ClassVar[tuple[tuple[str, int], ...]] = ()
    #: Article cited when a given reason code is the top reason (rule models).
    rule_articles: ClassVar[dict[str, tuple[str, int]]] = {}
    #: Chinese labels of the model's own rule/test reason codes.
    reason_labels: ClassVar[dict[str, str]] = {}
    #: Version of the model's code and feature contract; persisted and checked on load.
    version: ClassVar[str] = "1"

    # -- sklearn contract -------------------------------------------------------
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, **fit_params: Any) -> RiskModel:
        """Learn from recorded outcomes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Columns as in ``features``.
        y : array-like of shape (n_samples,), optional
            1 if the inspection found a problem in the model's domain, else 0; NaN
            for rows without an outcome (they still count as population). ``None``
            means no outcomes at all (cold start).
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the labelled rows, e.g. inverse inclusion probabilities.
        **fit_params
            Model-specific options (see the subclass).

        Returns
        -------
        self : RiskModel
        """
        self._check_params(**self.get_params(deep=False))
        X = self._validate_X(X, reset=True)
        labelled, y01 = self._encode_y(y, len(X))
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.shape != (len(X),):
                raise ValueError(
                    f"sample_weight must have shape ({len(X)},), got {sample_weight.shape}"
                )
            if np.any(sample_weight < 0) or not np.all(np.isfinite(sample_weight)):
                raise ValueError("sample_weight must be finite and non-negative")
            if len(sample_weight) and not np.any(sample_weight > 0):
                raise ValueError("sample_weight is zero for every row; nothing to learn from")
        self._fit(X, labelled, y01, sample_weight, **fit_params)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Return each entity's raw score in log-odds (before applicability).

        ``explain(X, top=None)`` decomposes exactly this value.
        """
        self._check_fitted()
        X = self._validate_X(X, reset=False)
        return self._raw(X, np.arange(len(X)))

    def score_samples(self, X: Any) -> np.ndarray:
        """Return each entity's risk score in [0, 1]; 0 where the model does not apply.

        Models with population context (graph or peer features) compute it over
        the rows of ``X``: pass the whole population at once.
        """
        self._check_fitted()
        X = self._validate_X(X, reset=False)
        mask = self._applicable(X)
        out = np.zeros(len(X), dtype=np.float64)
        rows = np.flatnonzero(mask)
        if len(rows):
            out[rows] = _sigmoid(self._raw(X, rows))
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return ``[[1 - p, p], ...]``, ``p`` = :meth:`score_samples`."""
        p = self.score_samples(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """Return the positive class where the score reaches yellow, else the negative."""
        flagged = self.warning_levels(self.score_samples(X)) > 0
        return self.classes_[flagged.astype(np.int64)]

    def explain(self, X: Any, top: int | None = 3, *, rows: Any = None) -> Explanation:
        """Return the reasons behind each entity's score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The population (context models compute graph/peer features over it).
        top : int or None
            Number of reasons per row (positive contributions only, largest first,
            without the bias). ``None`` returns every term of the model in its fixed
            order, the bias last (code ``"__bias__"``), summing to
            :meth:`decision_function`.
        rows : array of int or bool mask, optional
            Rows of ``X`` to explain (default all), e.g. the warned entities.

        Returns
        -------
        Explanation
            One row per explained entity.
        """
        self._check_fitted()
        X = self._validate_X(X, reset=False)
        idx = _as_rows(rows, len(X))
        full = self._explain_all(X, idx)
        if top is None:
            return full
        if top < 0:
            raise ValueError(f"top must be >= 0 or None, got {top}")
        return _top_reasons(full, top)

    def applicable(self, X: Any) -> np.ndarray:
        """Return a boolean mask of the rows the model applies to."""
        if hasattr(self, "n_features_in_"):
            X = self._validate_X(X, reset=False)
        else:
            X = self._check_array(X)
        return self._applicable(X)

    def warning_levels(self, scores: np.ndarray) -> np.ndarray:
        """Map scores to levels 0 (none), 1 yellow, 2 orange, 3 red (score >= threshold)."""
        self._check_fitted()
        return np.searchsorted(
            np.asarray(self.thresholds_), np.asarray(scores, dtype=np.float64), side="right"
        ).astype(np.int8)

    def calibrate_thresholds(
        self,
        scores_population: np.ndarray,
        scores_labelled: np.ndarray | None = None,
        y: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[float, float, float]:
        """Re-choose ``thresholds_`` from scores the caller computed with this model.

        Parameters
        ----------
        scores_population : ndarray
            Scores of the applicable rows of the population to be warned (bounds
            the volume of each level).
        scores_labelled : ndarray, optional
            Scores of inspected rows, preferably out-of-sample.
        y : ndarray, optional
            Their outcomes (0/1).
        sample_weight : ndarray, optional
            Weights of the labelled rows.

        Returns
        -------
        (yellow, orange, red) : tuple of float
            The new thresholds, also stored in ``thresholds_``.
        """
        self._check_fitted()
        self.thresholds_ = choose_thresholds(
            scores_labelled if scores_labelled is not None else scores_population,
            y,
            population_scores=scores_population,
            sample_weight=sample_weight,
            **self._threshold_options(),
        )
        return self.thresholds_

    def cited_articles(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the (law, article) cited for each row of reason codes.

        The article of the first code in a row found in ``rule_articles``, else the
        first entry of ``legal_basis``.

        Parameters
        ----------
        codes : ndarray of str, shape (n, k)
            Reason codes, e.g. ``explain(X).codes``.

        Returns
        -------
        laws : ndarray of object, shape (n,)
        articles : ndarray of int, shape (n,)
        """
        codes = np.asarray(codes, dtype=object)
        if codes.ndim == 1:
            codes = codes[:, None]
        law0, art0 = self.legal_basis[0] if self.legal_basis else ("", 0)
        laws = np.full(len(codes), law0, dtype=object)
        arts = np.full(len(codes), art0, dtype=np.int64)
        done = np.zeros(len(codes), dtype=bool)
        for j in range(codes.shape[1]):
            col = codes[:, j]
            for code, (law, art) in self.rule_articles.items():
                hit = ~done & (col == code)
                laws[hit], arts[hit] = law, art
                done |= hit
        return laws, arts

    @classmethod
    def param_schema(cls) -> dict[str, Any]:
        """Return a JSON Schema of the model's parameters (for the admin console)."""
        props: dict[str, Any] = {}
        for key, value in cls().get_params(deep=False).items():
            if isinstance(value, tuple):
                props[key] = {"type": ["array", "null"], "items": {"type": "number"},
                              "default": list(value)}
                continue
            typ = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(
                type(value), ["array", "null"] if value is None else "string"
            )
            props[key] = {"type": typ, "default": value}
        return {"title": cls.name, "type": "object", "properties": props}

    # -- for subclasses -----------------------------------------------------------
    def _check_params(self, **params: Any) -> None:
        """Raise ``TypeError``/``ValueError`` on invalid parameters (override)."""

    def _fit(
        self,
        X: np.ndarray,
        labelled: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        **fit_params: Any,
    ) -> None:
        raise NotImplementedError

    def _raw(self, X: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return log-odds of ``rows`` (context taken from all of ``X``)."""
        raise NotImplementedError

    def _explain_all(self, X: np.ndarray, rows: np.ndarray) -> Explanation:
        """Return the complete explanation (bias last) of ``rows``."""
        raise NotImplementedError

    def _applicable(self, X: np.ndarray) -> np.ndarray:
        return np.ones(len(X), dtype=bool)

    def _threshold_options(self) -> dict[str, Any]:
        return {}

    # -- helpers ----------------------------------------------------------------
    def _encode_y(self, y: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (labelled mask, 0/1 float labels) and set ``classes_``."""
        self.classes_ = np.array([0, 1])
        if y is None:
            return np.zeros(n, dtype=bool), np.zeros(n)
        from sklearn.utils.validation import column_or_1d

        y = column_or_1d(y, warn=True)
        if len(y) != n:
            raise ValueError(f"y must have {n} labels, got {len(y)}")
        if y.dtype.kind == "f":
            if np.isinf(y).any():
                raise ValueError("Input y contains infinity; outcomes must be 0/1 (NaN: none)")
            labelled = ~np.isnan(y)
        else:
            labelled = np.ones(n, dtype=bool)
        values = y[labelled]
        if values.dtype.kind == "f" and values.size and np.any(values != np.round(values)):
            raise ValueError("Unknown label type: continuous; y must hold 0/1 outcomes")
        classes = np.unique(values)
        y01 = np.zeros(n)
        if len(classes) > 2:
            raise ValueError(
                "Only binary classification is supported: outcomes are 0/1; "
                f"y has {len(classes)} classes"
            )
        if len(classes) == 2:
            self.classes_ = classes
            y01[labelled] = (values == classes[1]).astype(np.float64)
        elif len(classes) == 1:
            if classes[0] not in (0, 1):
                raise ValueError(
                    f"y has the single class {classes[0]!r}; outcomes must be 0/1 or two classes"
                )
            y01[labelled] = float(classes[0])
        return labelled, y01

    def _check_array(self, X: Any) -> np.ndarray:
        from sklearn.utils.validation import check_array

        if (isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 2
                and X.shape[1] == len(self.features) and self._reads_text()):
            return check_array(X, dtype=None, ensure_all_finite=False, estimator=self)
        return check_array(X, dtype=np.float64, ensure_all_finite="allow-nan", estimator=self)

    @classmethod
    def _reads_text(cls) -> bool:
        from risk_models.features import feature

        return any(feature(f).kind == "text" for f in cls.features)

    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray:
        X = self._check_array(X)
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        return X

    def _check_fitted(self) -> None:
        if not hasattr(self, "thresholds_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit first")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags


def _sigmoid(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(z)


def _as_rows(rows: Any, n: int) -> np.ndarray:
    if rows is None:
        return np.arange(n)
    rows = np.asarray(rows)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise ValueError(f"rows mask must have shape ({n},), got {rows.shape}")
        return np.flatnonzero(rows)
    return rows.astype(np.int64, copy=False)


def _top_reasons(full: Explanation, top: int) -> Explanation:
    """Keep the ``top`` largest positive contributions of each row (bias excluded)."""
    n = len(full.codes)
    contrib = np.array(full.contributions[:, :-1], dtype=np.float64)  # drop the bias
    k = min(top, contrib.shape[1])
    if k == 0 or n == 0:
        empty = np.empty((n, top))
        return Explanation(np.full((n, top), "", dtype=object), empty * np.nan,
                           np.zeros((n, top)), np.full((n, top), "", dtype=object))
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
    c = np.take_along_axis(contrib, order, axis=1)
    keep = c > 0
    codes = np.where(keep, np.take_along_axis(full.codes[:, :-1], order, axis=1), "")
    values = np.where(keep, np.take_along_axis(full.values[:, :-1], order, axis=1), np.nan)
    details = (
        np.where(keep, np.take_along_axis(full.details[:, :-1], order, axis=1), "")
        if full.details is not None
        else np.full((n, k), "", dtype=object)
    )
    c = np.where(keep, c, 0.0)
    if k < top:  # pad to the requested width
        pad = top - k
        codes = np.hstack([codes, np.full((n, pad), "", dtype=object)])
        values = np.hstack([values, np.full((n, pad), np.nan)])
        c = np.hstack([c, np.zeros((n, pad))])
        details = np.hstack([details, np.full((n, pad), "", dtype=object)])
    return Explanation(codes.astype(object), values, c, details.astype(object))


def volume_threshold(scores: np.ndarray, share: float) -> float:
    """Return the lowest threshold flagging at most ``share`` of ``scores``.

    Rows flagged are those with ``score >= threshold``; ties are never split, so
    a block of equal scores straddling the limit is left out entirely.

    Parameters
    ----------
    scores : ndarray of shape (n,)
        Scores of the population.
    share : float
        Largest share of rows flagged, in [0, 1].

    Returns
    -------
    float
        The threshold (``-inf`` if ``share`` allows every row, :data:`NEVER` if the
        population is empty or no row fits).
    """
    s = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    n = len(s)
    if n == 0:
        return NEVER
    k = int(np.floor(share * n + 1e-9))
    if k >= n:
        return float("-inf")
    return float(np.nextafter(s[k], np.inf))


def _precision_threshold(
    scores: np.ndarray, y: np.ndarray, w: np.ndarray, target: float, min_support: int
) -> float | None:
    """Lowest score whose warnings reach ``target`` precision among labelled rows."""
    order = np.argsort(-scores, kind="stable")
    s, yy, ww = scores[order], y[order], w[order]
    hits, tot = np.cumsum(yy * ww), np.cumsum(ww)
    count = np.arange(1, len(s) + 1)
    # only cut between distinct scores, so a tie group is flagged whole or not at all
    cut = np.r_[s[1:] < s[:-1], True]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tot > 0, hits / tot, 0.0)
    ok = np.flatnonzero(cut & (count >= min_support) & (precision >= target))
    if len(ok):
        return float(s[ok[-1]])
    return None


def choose_thresholds(
    scores: np.ndarray,
    y: np.ndarray | None = None,
    *,
    population_scores: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    target_precision: Sequence[float] = (0.2, 0.35, 0.5),
    volume: Sequence[float] = (0.03, 0.01, 0.003),
    min_score: Sequence[float] = (0.0, 0.0, 0.0),
    min_labels: int = 30,
    min_support: int = 5,
) -> tuple[float, float, float]:
    """Choose yellow/orange/red thresholds.

    Each level's threshold is the largest of

    * its **volume cap**: the lowest score flagging at most ``volume[level]`` of the
      population (``population_scores``, else ``scores``), ties never split;
    * its **score floor** ``min_score[level]`` (a probability below which a warning
      is not worth an inspector's visit);
    * with at least ``min_labels`` labelled rows of both classes, its **precision
      threshold**: the lowest score whose warnings reach ``target_precision[level]``
      among labelled rows (weighted, at least ``min_support`` rows flagged). If no
      score reaches the target, the level is not issued (threshold :data:`NEVER`).

    Without labels (cold start) only the volume caps and floors apply. Thresholds
    are made non-decreasing (red >= orange >= yellow).

    Parameters
    ----------
    scores : ndarray of shape (n,)
        Scores of the labelled rows if ``y`` is given, else of the population.
    y : ndarray of shape (n,), optional
        Recorded outcomes (0/1) of the rows in ``scores``.
    population_scores : ndarray, optional
        Scores of the population to be warned (applicable rows); default ``scores``.
    sample_weight : ndarray of shape (n,), optional
        Weights of the labelled rows.
    target_precision : 3 floats
        Precision wanted at yellow, orange and red.
    volume : 3 floats
        Largest share of the population flagged at yellow-or-above,
        orange-or-above and red.
    min_score : 3 floats
        Lowest score for each level.
    min_labels : int
        Fewer labelled rows than this fall back to the volume rule.
    min_support : int
        Fewest labelled rows a precision estimate may rest on.

    Returns
    -------
    (yellow, orange, red) : tuple of float
        Non-decreasing thresholds.

    Examples
    --------
    >>> import numpy as np
    >>> [round(t, 6) for t in choose_thresholds(np.linspace(0, 1, 1001), volume=(0.1, 0.05, 0.01))]
    [0.9, 0.95, 0.99]
    """
    scores = np.asarray(scores, dtype=np.float64)
    pop = scores if population_scores is None else np.asarray(population_scores, np.float64)
    if len(target_precision) != 3 or len(volume) != 3 or len(min_score) != 3:
        raise ValueError("target_precision, volume and min_score need 3 values each")
    labelled = False
    if y is not None:
        yy = np.asarray(y, dtype=np.float64)
        if yy.shape != scores.shape:
            raise ValueError(f"y has shape {yy.shape}, scores {scores.shape}")
        ww = np.ones_like(yy) if sample_weight is None else np.asarray(sample_weight, np.float64)
        labelled = len(yy) >= min_labels and 0 < yy.sum() < len(yy)
    out = []
    for level in range(3):
        thr = max(volume_threshold(pop, float(volume[level])), float(min_score[level]))
        if labelled:
            t_p = _precision_threshold(scores, yy, ww, float(target_precision[level]), min_support)
            thr = max(thr, NEVER if t_p is None else t_p)
        out.append(min(thr, NEVER))
    yellow, orange, red = np.maximum.accumulate(np.asarray(out, dtype=np.float64))
    return float(yellow), float(orange), float(red)
