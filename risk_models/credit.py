"""Public credit score and grades A/B/C/D, with reasons in Chinese.

The credit indicators are the catalogue features of the five credit dimensions
(:data:`CREDIT_FEATURES`: basic registration, operation and annual reports,
compliance, supervision results, social signals). :class:`CreditModel` bundles a
:class:`~risk_models.scorecard.Scorecard` trained on recorded inspection outcomes
(1 = the inspection found a problem), the grade cut-offs and its metadata; it is
saved and loaded through :mod:`risk_models.persist`, which refuses a file of another
version or feature list.

Grades (:func:`assign_grades`): by score against cut-offs (A best), the cut-offs
fixed at training from target shares unless given; then hard rules override the
score, each leaving a reason: on the serious-violation list → D; on the
abnormal-operation list → at most C. An entity without any indicator value gets the
documented default grade B (reason ``"无足够数据，默认B级"``).

:func:`validate_on_arff` measures the scorecard next to LightGBM on a held-out split
of a real data set (the Polish companies bankruptcy data, see ``docs/credit.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from risk_models import persist
from risk_models.credit_prior import reason_dicts
from risk_models.features import DIMENSIONS, FEATURE_INDEX, FEATURES, feature
from risk_models.scorecard import Scorecard, ks_statistic

__all__ = [
    "CREDIT_DIMENSIONS",
    "CREDIT_FEATURES",
    "CREDIT_FEATURE_NAMES",
    "DEFAULT_TARGET_SHARES",
    "GRADES",
    "NO_DATA_REASON",
    "OVERRIDE_REASONS",
    "CreditModel",
    "assign_grades",
    "cutoffs_from_shares",
    "default_scorecard",
    "load_arff",
    "validate_on_arff",
]

#: The five credit dimensions (``domain`` signals are for the warning models only).
CREDIT_DIMENSIONS: tuple[str, ...] = ("basic", "operation", "compliance", "supervision", "social")

#: Credit indicators: numeric catalogue features of the five dimensions → Chinese label.
#: Identifier codes (address, phone, legal representative, peer group) are not
#: indicators: equal codes mean shared attributes, their magnitude means nothing.
CREDIT_FEATURES: dict[str, str] = {
    f.name: f.label for f in FEATURES if f.dimension in CREDIT_DIMENSIONS and f.kind == "num"
}
CREDIT_FEATURE_NAMES: tuple[str, ...] = tuple(CREDIT_FEATURES)

#: Grades, best first.
GRADES: tuple[str, ...] = ("A", "B", "C", "D")

#: Share of the scored population in A, B, C, D when cut-offs come from shares.
DEFAULT_TARGET_SHARES: tuple[float, float, float, float] = (0.30, 0.50, 0.15, 0.05)

NO_DATA_REASON = "无足够数据，默认B级"

#: Reason code → Chinese text of each grade override.
OVERRIDE_REASONS: dict[str, str] = {
    "no_data": NO_DATA_REASON,
    "serious_violation": "列入严重违法失信名单，信用等级直接评为D级",
    "abnormal_list": "列入经营异常名录，信用等级最高为C级",
}


# -- grades ---------------------------------------------------------------------
def cutoffs_from_shares(scores: Any, target_shares: Sequence[float]) -> np.ndarray:
    """Return the score cut-offs (A, B, C minimum scores) giving ``target_shares``.

    Parameters
    ----------
    scores : array-like of float
        Credit scores; NaN (no data) are ignored.
    target_shares : sequence of 4 floats
        Shares of A, B, C, D; non-negative, summing to 1.

    Returns
    -------
    ndarray of shape (3,)
        Non-increasing minimum scores of A, B and C (D below). Ties at a cut-off
        all take the better grade, so shares are approximate on discrete scores.

    Raises
    ------
    ValueError
        On malformed shares or when no score is finite.
    """
    shares = np.asarray(target_shares, dtype=np.float64)
    if shares.shape != (4,) or np.any(shares < 0) or not np.isclose(shares.sum(), 1.0):
        raise ValueError(
            f"target_shares must be 4 non-negative shares summing to 1, got {target_shares}"
        )
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise ValueError("no finite score to place the cut-offs")
    q = np.clip(1.0 - np.cumsum(shares)[:3], 0.0, 1.0)
    cut = np.quantile(s, q)
    cut[shares[:3].cumsum() <= 0] = np.inf  # an empty grade: nobody reaches it
    return np.minimum.accumulate(cut)


def _check_mask(mask: Any, n: int, name: str) -> np.ndarray:
    if mask is None:
        return np.zeros(n, dtype=bool)
    m = np.asarray(mask)
    if m.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {m.shape}")
    return np.nan_to_num(m.astype(np.float64)) != 0


def _check_cutoffs(cutoffs: Any) -> np.ndarray:
    cut = np.asarray(cutoffs, dtype=np.float64)
    if cut.shape != (3,) or np.isnan(cut).any() or np.any(np.diff(cut) > 0):
        raise ValueError(
            f"cutoffs must be 3 non-increasing scores (A, B, C minimum), got {cutoffs}"
        )
    return cut


@dataclass(frozen=True)
class _Grading:
    grades: np.ndarray
    no_data: np.ndarray
    serious: np.ndarray
    capped: np.ndarray


def _grade(
    scores: Any, *, cutoffs: Any, target_shares: Any, serious_violation: Any, abnormal_list: Any
) -> _Grading:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {s.shape}")
    if cutoffs is not None and target_shares is not None:
        raise ValueError("give cutoffs or target_shares, not both")
    if cutoffs is None:
        shares = DEFAULT_TARGET_SHARES if target_shares is None else target_shares
        no_data = ~np.isfinite(s)
        cut = cutoffs_from_shares(s, shares) if (~no_data).any() else np.full(3, np.inf)
    else:
        cut = _check_cutoffs(cutoffs)
    n = len(s)
    serious = _check_mask(serious_violation, n, "serious_violation")
    abnormal = _check_mask(abnormal_list, n, "abnormal_list")
    no_data = ~np.isfinite(s)
    # number of cut-offs a score falls below: 0 → A ... 3 → D
    level = (np.nan_to_num(s, nan=-np.inf)[:, None] < cut[None, :]).sum(axis=1)
    level[no_data] = 1  # documented default: B
    before = level.copy()
    level = np.where(abnormal, np.maximum(level, 2), level)
    capped = abnormal & (level != before)
    level[serious] = 3
    capped &= ~serious
    return _Grading(np.asarray(GRADES)[level], no_data, serious, capped)


def assign_grades(
    scores: Any,
    *,
    cutoffs: Sequence[float] | None = None,
    target_shares: Sequence[float] | None = None,
    serious_violation: Any = None,
    abnormal_list: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Grade credit scores A/B/C/D, then apply the hard rules.

    Parameters
    ----------
    scores : array-like of float, shape (n,)
        Credit scores (higher = better); NaN = no data.
    cutoffs : sequence of 3 floats, optional
        Minimum scores of A, B and C (non-increasing); below the last → D.
    target_shares : sequence of 4 floats, optional
        Shares of A, B, C, D among the scored rows, used to place the cut-offs
        (:func:`cutoffs_from_shares`). Default :data:`DEFAULT_TARGET_SHARES` when
        neither is given.
    serious_violation : array-like of bool, shape (n,), optional
        On the serious-violation (严重违法失信) list: grade D, always with a reason.
    abnormal_list : array-like of bool, shape (n,), optional
        On the abnormal-operation (经营异常) list: grade at most C; a reason where
        the rule lowered the grade.

    Returns
    -------
    grades : ndarray of str, shape (n,)
    reasons : ndarray of object, shape (n,)
        The override reasons in Chinese joined by "；" (``""`` where none), see
        :data:`OVERRIDE_REASONS`. A row without data gets B and
        ``"无足够数据，默认B级"`` unless a list rule overrides it.

    Raises
    ------
    ValueError
        On both ``cutoffs`` and ``target_shares``, malformed cut-offs or shares, or
        list masks of the wrong length.
    """
    g = _grade(scores, cutoffs=cutoffs, target_shares=target_shares,
               serious_violation=serious_violation, abnormal_list=abnormal_list)
    reasons = np.full(len(g.grades), "", dtype=object)
    for mask, code in ((g.no_data & ~g.serious, "no_data"), (g.capped, "abnormal_list"),
                       (g.serious, "serious_violation")):
        text = OVERRIDE_REASONS[code]
        reasons[mask] = np.where(reasons[mask] == "", text, reasons[mask] + "；" + text)
    return g.grades, reasons


# -- model ----------------------------------------------------------------------
def default_scorecard() -> Scorecard:
    """Return the scorecard used by :class:`CreditModel` and :func:`validate_on_arff`.

    Monotone bins, the bins' points fitted jointly by a sign-constrained logistic
    regression (``encoding="bins"``), segmented by a shallow decision tree when that
    wins the cross-validation on the training rows (``segment_by="auto"``).
    """
    return Scorecard(encoding="bins", segment_by="auto")


def _direction(name: str) -> str:
    if name not in FEATURE_INDEX:
        return "auto"
    higher = feature(name).higher_is_riskier
    return {True: "ascending", False: "descending"}.get(higher, "auto")


class CreditModel:
    """The public credit model: scorecard + grade cut-offs + metadata.

    Parameters
    ----------
    scorecard : Scorecard, optional
        Unfitted template (its ``directions`` are set from the catalogue at fit);
        default :func:`default_scorecard` (bins' points by a sign-constrained
        logistic regression, segments chosen by cross-validation on the training rows).
    cutoffs : sequence of 3 floats, optional
        Fixed minimum scores of A, B, C. Default: placed at fit from
        ``target_shares`` on the training population's scores.
    target_shares : sequence of 4 floats
        Shares of A, B, C, D used when ``cutoffs`` is None.
    top : int, default 3
        Point reasons per entity.

    Attributes
    ----------
    scorecard_ : Scorecard
    cutoffs_ : ndarray of shape (3,)
    feature_names_ : list of str
    trained_from_, trained_to_ : str or None
        Training data period (ISO dates).

    Examples
    --------
    The server calls::

        model = CreditModel().fit(X, y, feature_names=CREDIT_FEATURE_NAMES)
        model.save(stem)
        model = CreditModel.load(stem)
        scores, grades, reasons = model.grade(X, serious_violation=s, abnormal_list=a)
    """

    name: ClassVar[str] = "credit"
    #: Version of the credit model's code and indicator contract; checked on load.
    version: ClassVar[str] = "2"

    def __init__(
        self,
        *,
        scorecard: Scorecard | None = None,
        cutoffs: Sequence[float] | None = None,
        target_shares: Sequence[float] = DEFAULT_TARGET_SHARES,
        top: int = 3,
    ) -> None:
        self.scorecard = scorecard
        self.cutoffs = cutoffs
        self.target_shares = target_shares
        self.top = top

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        feature_names: Sequence[str] = CREDIT_FEATURE_NAMES,
        sample_weight: Any = None,
        population: Any = None,
        trained_from: str | None = None,
        trained_to: str | None = None,
    ) -> CreditModel:
        """Train the scorecard on recorded inspection outcomes and fix the cut-offs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Indicator values in the order of ``feature_names`` (NaN = missing).
        y : array-like of 0/1
            1 if the inspection found a problem.
        feature_names : sequence of str
            Catalogue names of the columns (default :data:`CREDIT_FEATURE_NAMES`);
            the catalogue gives each its Chinese label and monotone direction.
        sample_weight : array-like, optional
            E.g. inverse inclusion probabilities of the inspected entities.
        population : array-like, optional
            Indicators of the whole entity population, to place the cut-offs by
            ``target_shares`` on it rather than on the inspected rows.
        trained_from, trained_to : str, optional
            Training period, stored in the metadata.

        Returns
        -------
        self : CreditModel
        """
        from sklearn.base import clone

        names = list(feature_names)
        if len(set(names)) != len(names):
            raise ValueError("feature_names has duplicates")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(names):
            raise ValueError(
                f"X must have {len(names)} columns (feature_names), got shape {X.shape}"
            )
        card = clone(self.scorecard) if self.scorecard is not None else default_scorecard()
        card.set_params(directions=tuple(_direction(n) for n in names))
        self.scorecard_ = card.fit(X, y, sample_weight=sample_weight)
        self.feature_names_ = names
        self.labels_ = [CREDIT_FEATURES.get(n) or (feature(n).label if n in FEATURE_INDEX else n)
                        for n in names]
        self.trained_from_, self.trained_to_ = trained_from, trained_to
        self.n_samples_ = int(len(X))
        self.n_positive_ = int(np.sum(self.scorecard_.classes_[1] == np.asarray(y)))
        if self.cutoffs is not None:
            self.cutoffs_ = _check_cutoffs(self.cutoffs)
        else:
            base = X if population is None else np.asarray(population, dtype=np.float64)
            self.cutoffs_ = cutoffs_from_shares(self.score(base), self.target_shares)
        return self

    def _check(self, X: Any) -> np.ndarray:
        if not hasattr(self, "scorecard_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("CreditModel is not fitted; call fit or load first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names_):
            raise ValueError(
                f"X must have {len(self.feature_names_)} columns in the order of "
                f"feature_names_, got shape {X.shape}"
            )
        return X

    def score(self, X: Any) -> np.ndarray:
        """Return credit scores in [0, 1000] (higher = better); NaN for rows without data."""
        X = self._check(X)
        s = self.scorecard_.score(X)
        s[np.isnan(X).all(axis=1)] = np.nan
        return s

    def reasons(self, X: Any, top: int | None = None) -> list[list[dict[str, Any]]]:
        """Return per row the indicators that cost the most points.

        Each reason is ``{"code": feature name, "label": Chinese label,
        "points_lost": points below the indicator's best bin}``, worst first; rows
        without data get none.
        """
        X = self._check(X)
        r = self.scorecard_.reasons(X, top=self.top if top is None else top)
        r.index[np.isnan(X).all(axis=1)] = -1
        return self._reason_dicts(r.index, r.points_lost)

    def _reason_dicts(self, index: np.ndarray, lost: np.ndarray) -> list[list[dict[str, Any]]]:
        return reason_dicts(index, lost, self.feature_names_, self.labels_)

    def grade(
        self, X: Any, *, serious_violation: Any = None, abnormal_list: Any = None
    ) -> tuple[np.ndarray, np.ndarray, list[list[dict[str, Any]]]]:
        """Score, grade and explain every row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        serious_violation, abnormal_list : array-like of bool, optional
            List memberships (see :func:`assign_grades`).

        Returns
        -------
        scores : ndarray of float
            NaN for rows without data.
        grades : ndarray of str
            "A".."D" from the model's cut-offs, after the hard rules.
        reasons : list of list of dict
            Per row: first the overrides (codes ``serious_violation``,
            ``abnormal_list``, ``no_data``, ``points_lost`` 0), then the indicators
            that cost most points, each ``{"code", "label", "points_lost"}``.
        """
        X = self._check(X)
        scores, r = self.scorecard_.score_with_reasons(X, top=self.top)
        scores[np.isnan(X).all(axis=1)] = np.nan
        g = _grade(scores, cutoffs=self.cutoffs_, target_shares=None,
                   serious_violation=serious_violation, abnormal_list=abnormal_list)
        r.index[g.no_data] = -1
        reasons = self._reason_dicts(r.index, r.points_lost)
        for mask, code in ((g.serious, "serious_violation"), (g.capped, "abnormal_list"),
                           (g.no_data & ~g.serious, "no_data")):
            entry = {"code": code, "label": OVERRIDE_REASONS[code], "points_lost": 0.0}
            for i in np.flatnonzero(mask).tolist():
                reasons[i].insert(0, dict(entry))
        return scores, g.grades, reasons

    def table(self) -> list[dict[str, Any]]:
        """Return the scorecard table with each indicator's code, Chinese label and dimension.

        Rows as :meth:`Scorecard.table` (``segment``: the segment's conditions on the
        indicator codes, ``"all"`` when unsegmented) plus ``label``, ``dimension`` and
        ``segment_label`` (the conditions in Chinese).
        """
        rows = self.scorecard_.table(self.feature_names_)
        label = dict(zip(self.feature_names_, self.labels_, strict=True))
        seg_label = dict(zip(self.scorecard_.segment_labels(self.feature_names_),
                             self.segment_labels(), strict=True))
        for r in rows:
            name = r["feature"]
            r["label"] = label[name]
            dim = feature(name).dimension if name in FEATURE_INDEX else ""
            r["dimension"] = DIMENSIONS.get(dim, "")
            r["segment_label"] = seg_label[r["segment"]]
        return rows

    def segment_labels(self) -> list[str]:
        """Return each segment's conditions in Chinese (``["全部"]`` when unsegmented)."""
        rule = self.scorecard_.segment_rule_
        if rule is None:
            return ["全部"]
        return [rule.describe(s, self.labels_, or_missing=" 或缺失", conj=" 且 ", everything="全部")
                for s in range(rule.n_segments)]

    def to_csv(self, path: str | Path | None = None) -> str:
        """Return the scorecard table as CSV (code names), also written to ``path``."""
        return self.scorecard_.to_csv(path, self.feature_names_)

    # -- persistence ------------------------------------------------------------
    def metadata(self) -> persist.ModelMetadata:
        """Return what is saved beside the model."""
        return persist.ModelMetadata(
            name=self.name, version=self.version, features=list(self.feature_names_),
            trained_from=self.trained_from_, trained_to=self.trained_to_,
            n_samples=self.n_samples_, n_positive=self.n_positive_,
            extra={"cutoffs": [float(c) for c in self.cutoffs_],
                   "segments": self.scorecard_.segment_labels(self.feature_names_),
                   "params": {k: (v if v is None or isinstance(v, int | float | str) else repr(v))
                              for k, v in self.scorecard_.get_params().items()
                              if k != "directions"}},
        )

    def save(self, stem: str | Path) -> Path:
        """Write ``<stem>.joblib`` and ``<stem>.json``; return the JSON path."""
        self._check(np.zeros((0, len(getattr(self, "feature_names_", [])))))
        return persist.save(self, stem, self.metadata())

    @classmethod
    def load(cls, stem: str | Path, *,
             feature_names: Sequence[str] = CREDIT_FEATURE_NAMES) -> CreditModel:
        """Load a saved model, refusing another version or feature list.

        Raises
        ------
        risk_models.persist.ModelVersionError
            If the stored model name, version or features differ from this code's
            (``feature_names`` is what the caller will pass as columns).
        """
        model, _ = persist.load(stem, name=cls.name, version=cls.version,
                                features=list(feature_names))
        if not isinstance(model, cls):
            raise persist.ModelVersionError(f"{stem} does not hold a {cls.__name__}")
        return model


# -- validation on real data ----------------------------------------------------
def load_arff(path: str | Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a Weka ARFF file of numeric attributes and a final 0/1 class.

    Returns
    -------
    X : ndarray of float, shape (n, p)
        ``?`` becomes NaN.
    y : ndarray of int, shape (n,)
    names : list of str
        Attribute names of the columns of ``X``.
    """
    from scipy.io import arff

    data, meta = arff.loadarff(str(path))
    names = meta.names()
    X = np.column_stack([data[n].astype(np.float64) for n in names[:-1]])
    label = data[names[-1]]
    y = (np.char.decode(label) if label.dtype.kind == "S" else label.astype(str)) == "1"
    return X, y.astype(np.int64), list(names[:-1])


def validate_on_arff(
    path: str | Path,
    *,
    test_size: float = 0.3,
    random_state: int = 0,
    scorecard: Scorecard | None = None,
) -> dict[str, float]:
    """Compare the scorecard with LightGBM on one stratified held-out split.

    Both are trained on the same training part, the scorecard as
    :func:`default_scorecard` (or the ``scorecard`` template if given; its segments
    and every other choice are made by cross-validation within the training part),
    LightGBM with its default parameters (one thread), and evaluated on the same test
    part.

    Returns
    -------
    dict
        ``n_train, n_test, event_rate, scorecard_auc, scorecard_ks, lightgbm_auc,
        lightgbm_ks``, ``scorecard_features`` (features given points in at least one
        segment) and ``scorecard_segments``.
    """
    import lightgbm
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    X, y, _ = load_arff(path)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=test_size, stratify=y,
                                          random_state=random_state)
    card = (clone(scorecard) if scorecard is not None else default_scorecard()).fit(Xtr, ytr)
    risk = -card.score(Xte)  # higher = riskier, as for the probabilities
    # one thread: deterministic, and not slowed down by a busy shared machine
    gbm = lightgbm.LGBMClassifier(random_state=random_state, verbose=-1, n_jobs=1).fit(Xtr, ytr)
    p = gbm.predict_proba(Xte)[:, 1]
    return {
        "n_train": int(len(ytr)), "n_test": int(len(yte)), "event_rate": float(y.mean()),
        "scorecard_auc": float(roc_auc_score(yte, risk)),
        "scorecard_ks": ks_statistic(yte, risk),
        "lightgbm_auc": float(roc_auc_score(yte, p)),
        "lightgbm_ks": ks_statistic(yte, p),
        "scorecard_features": int(np.count_nonzero(card.used_)),
        "scorecard_segments": len(card.segments_),
    }
