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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from risk_models import persist
from risk_models.credit_prior import POINTS as PRIOR_POINTS
from risk_models.features import (
    COMPLAINT_CATEGORIES,
    DIMENSIONS,
    FEATURE_INDEX,
    FEATURES,
    TEST_KINDS,
    feature,
)
from risk_models.scorecard import Scorecard, ks_statistic

__all__ = [
    "CREDIT_DIMENSIONS",
    "CREDIT_FEATURES",
    "CREDIT_FEATURE_NAMES",
    "DEFAULT_TARGET_SHARES",
    "DIRECTIONS",
    "INDICATORS",
    "Indicator",
    "GRADES",
    "NO_DATA_REASON",
    "OVERRIDE_REASONS",
    "CreditModel",
    "assign_grades",
    "cutoffs_from_shares",
    "default_scorecard",
    "credit_scorecard",
    "load_arff",
    "point_reasons",
    "validate_on_arff",
]

#: The five credit dimensions (``domain`` signals are for the warning models only).
CREDIT_DIMENSIONS: tuple[str, ...] = ("basic", "operation", "compliance", "supervision", "social")

#: Sampling-test failures (监督抽检不合格) are compliance records: credit indicators too,
#: though the catalogue files them with the domain signals of the warning models.
_FAILED_TESTS: tuple[str, ...] = tuple(f"tests_failed_3y_{k}" for k in TEST_KINDS)

#: Credit indicators: numeric catalogue features of the five dimensions (and the failed
#: sampling tests) → Chinese label. Identifier codes (address, phone, legal
#: representative, peer group) are not indicators: equal codes mean shared attributes,
#: their magnitude means nothing.
CREDIT_FEATURES: dict[str, str] = {
    f.name: f.label for f in FEATURES
    if (f.dimension in CREDIT_DIMENSIONS and f.kind == "num") or f.name in _FAILED_TESTS
}
CREDIT_FEATURE_NAMES: tuple[str, ...] = tuple(CREDIT_FEATURES)

#: The declared directions of a credit indicator.
DIRECTIONS: tuple[str, ...] = ("adverse", "favourable", "neutral")


def _count(phrase: str, unit: str) -> Callable[[float], str]:
    return lambda v: f"{phrase} {int(round(v))} {unit}"


def _flag(phrase: str) -> Callable[[float], str]:
    return lambda v: phrase


def _money(v: float, unit: str) -> str:
    amount = float(np.expm1(v))
    if unit == "元" and amount >= 10_000:
        return f"{amount / 10_000:,.1f} 万元"
    return f"{amount:,.0f} {unit}"


@dataclass(frozen=True)
class Indicator:
    """The credit policy of one indicator (the one place it is declared).

    Attributes
    ----------
    name : str
        Catalogue feature name.
    direction : {"adverse", "favourable", "neutral"}
        ``adverse``: a record of misconduct (problems found, penalties, confirmed
        warnings, list entries, complaints, failed sampling, overdue annual reports…);
        its points can only fall as the value rises, and "no record" is its best bin.
        ``favourable``: its points can only rise with the value (age, capital).
        ``neutral``: context, not conduct; it carries no points (see ``note``).
    kind : {"flag", "count", "amount", "measure"}
        A 0/1 flag or a count keeps "0" and "1 or more" as two bins whatever the
        training rows say; an amount keeps "0" and "more than 0".
    describe : callable
        The entity's value in plain Chinese, e.g. ``"近3年检查发现问题 2 次"``.
    note : str
        Why a neutral indicator carries no points.
    """

    name: str
    direction: str
    kind: str
    describe: Callable[[float], str]
    note: str = ""

    @property
    def label(self) -> str:
        """The catalogue's Chinese label."""
        return feature(self.name).label

    @property
    def split(self) -> float | None:
        """The bin edge kept between "no record" and "a record"."""
        if self.direction != "adverse":
            return None
        return 0.5 if self.kind == "amount" else 1.0


def _neutral(name: str, note: str) -> Indicator:
    return Indicator(name, "neutral", "measure", lambda v: "", note)


_LIST: list[Indicator] = [
    # basic registration facts
    Indicator("age_years", "favourable", "measure", lambda v: f"成立 {v:.1f} 年"),
    _neutral("is_individual", "登记类型（个体工商户或企业）不是守法记录，不计分"),
    Indicator("capital_log", "favourable", "measure", lambda v: f"注册资本 {_money(v, '万元')}"),
    # operation and annual reports
    Indicator("annual_report_missing", "adverse", "flag", _flag("上一年度年报未报送")),
    Indicator("annual_report_late_3y", "adverse", "count", _count("近3年年报逾期", "次")),
    Indicator("on_abnormal_list", "adverse", "flag", _flag("列入经营异常名录")),
    Indicator("address_unreachable", "adverse", "flag", _flag("通过登记住所无法联系")),
    Indicator("closure_signal", "adverse", "flag", _flag("有停业或失联迹象")),
    # compliance
    Indicator("penalties_3y", "adverse", "count", _count("近3年行政处罚", "次")),
    Indicator("penalty_amount_log", "adverse", "amount", lambda v: f"近3年罚没金额 {_money(v, '元')}"),
    Indicator("on_serious_violation_list", "adverse", "flag", _flag("列入严重违法失信名单")),
    # supervision results
    _neutral("inspections_3y", "被检查的次数本身不是违法记录；发现的问题由“近3年检查发现问题”计分"),
    Indicator("inspection_problems_3y", "adverse", "count", _count("近3年检查发现问题", "次")),
    _neutral("problem_rate_shrunk", "问题发现率随未发现问题的检查次数下降，会奖励“被检查过”；"
             "问题本身由“近3年检查发现问题”和“上次检查发现问题”计分"),
    Indicator("last_inspection_problem", "adverse", "flag", _flag("上次检查发现问题")),
    _neutral("days_since_inspection", "距上次检查的时间由抽查安排决定，不是主体的行为"),
    Indicator("warnings_confirmed_2y", "adverse", "count", _count("近2年风险预警经核实有问题", "次")),
    # social signals
    Indicator("complaints_90d", "adverse", "count", _count("近90天投诉举报", "件")),
    Indicator("complaints_365d", "adverse", "count", _count("近1年投诉举报", "件")),
    _neutral("complaints_prior_360d", "投诉激增检测的基线，同一批投诉已由近90天、近1年投诉计分"),
    Indicator("court_enforcement", "adverse", "flag", _flag("被列为失信被执行人")),
    Indicator("tax_arrears", "adverse", "flag", _flag("欠缴税款")),
]
_LIST += [
    Indicator(f"complaints_{w}_{cat}", "adverse", "count",
              _count(f"{'近90天' if w == '90d' else '近1年'}{label}投诉", "件"))
    for cat, label in COMPLAINT_CATEGORIES.items() for w in ("90d", "365d")
]
_LIST += [
    Indicator(f"tests_failed_3y_{kind}", "adverse", "count", _count(f"近3年{label}不合格", "批次"))
    for kind, label in TEST_KINDS.items()
]

#: Every credit indicator's policy, by name: direction, kind, how its value reads.
INDICATORS: dict[str, Indicator] = {i.name: i for i in _LIST}

if set(INDICATORS) != set(CREDIT_FEATURES):  # pragma: no cover - guards edits of the catalogue
    raise RuntimeError(f"credit indicators without a declared direction: "
                       f"{set(CREDIT_FEATURES) ^ set(INDICATORS)}")

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
    """Return the scorecard validated on real data by :func:`validate_on_arff`.

    Monotone bins, the bins' points fitted jointly by a sign-constrained logistic
    regression (``encoding="bins"``), segmented by a shallow decision tree when that
    wins the cross-validation on the training rows (``segment_by="auto"``).
    :class:`CreditModel` uses the same card unsegmented (:func:`credit_scorecard`).
    """
    return Scorecard(encoding="bins", segment_by="auto")


def _catalogue_direction(name: str) -> str:
    if name in INDICATORS:
        d = INDICATORS[name].direction
        return {"adverse": "ascending", "favourable": "descending"}.get(d, "auto")
    if name not in FEATURE_INDEX:
        return "auto"
    higher = feature(name).higher_is_riskier
    return {True: "ascending", False: "descending"}.get(higher, "auto")


def credit_scorecard(names: Sequence[str], *, blend: bool = True, C: float = 0.1) -> Scorecard:
    """Return the credit card's unfitted :class:`Scorecard` for the scored ``names``.

    One card, never segmented: a row crossing a segment boundary changes card, so a
    segmented card cannot promise that an adverse record never raises a score.

    * adverse indicators: ascending, "no record" and "a record" always two bins
      (:attr:`Indicator.split`), and the published points table
      (:data:`risk_models.credit_prior.POINTS`) as the prior the fit is shrunk
      towards (``blend``; prior 0 for an adverse indicator the table does not list);
    * favourable indicators: descending, missing bin held at the average (neutral);
    * an adverse indicator's missing value reads "no record": its missing bin has the
      points of its first bin (e.g. never inspected = no problem found, neither
      rewarded nor punished by a bin fitted on the rows that happened to be missing).
    """
    names = list(names)
    return Scorecard(
        encoding="bins", segment_by=None, C=C,
        directions=tuple(_catalogue_direction(n) for n in names),
        split_points=tuple(INDICATORS[n].split if n in INDICATORS else None for n in names),
        missing=tuple("first" if n in INDICATORS and INDICATORS[n].direction == "adverse"
                      else "neutral" for n in names),
        prior_points=(tuple(PRIOR_POINTS.get(n) if n in INDICATORS
                            and INDICATORS[n].direction == "adverse" else None for n in names)
                      if blend else None),
    )


class CreditModel:
    """The public credit model: scorecard + grade cut-offs + metadata.

    Parameters
    ----------
    cutoffs : sequence of 3 floats, optional
        Fixed minimum scores of A, B, C. Default: placed at fit from
        ``target_shares`` on the population's (or the training rows') scores.
    target_shares : sequence of 4 floats
        Shares of A, B, C, D used when ``cutoffs`` is None.
    top : int, default 3
        Point reasons per entity.
    blend : bool, default True
        Shrink the trained card towards the published points table (a Bayesian prior
        on the steps between bins, see :class:`~risk_models.scorecard.Scorecard`
        ``prior_points``): few outcomes leave the table's policy in place, many let
        the data speak; never a switch at a count.
    C : float, default 0.1
        Prior variance of each step (log-odds², also the L2 penalty's scale for the
        indicators the table does not list): smaller keeps the table longer. At 0.1 the
        prior on a step between two halves of the rows is worth about 200 outcomes of
        evidence, on the step of a rare flag (2 % of the rows) about 5,000.

    Attributes
    ----------
    scorecard_ : Scorecard
        Fitted on the scored indicators (:attr:`scored_names_`) only.
    scored_names_ : list of str
        The adverse and favourable indicators among ``feature_names_``; neutral ones
        carry no points.
    cutoffs_ : ndarray of shape (3,)
    feature_names_ : list of str
        The columns ``X`` has (all credit indicators, as the server passes them).
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
    version: ClassVar[str] = "3"

    def __init__(
        self,
        *,
        cutoffs: Sequence[float] | None = None,
        target_shares: Sequence[float] = DEFAULT_TARGET_SHARES,
        top: int = 3,
        blend: bool = True,
        C: float = 0.1,
    ) -> None:
        self.cutoffs = cutoffs
        self.target_shares = target_shares
        self.top = top
        self.blend = blend
        self.C = C

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
            :data:`INDICATORS` gives each its direction.
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
        names = list(feature_names)
        if len(set(names)) != len(names):
            raise ValueError("feature_names has duplicates")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(names):
            raise ValueError(
                f"X must have {len(names)} columns (feature_names), got shape {X.shape}"
            )
        self.feature_names_ = names
        self.scored_names_ = [n for n in names
                              if n not in INDICATORS or INDICATORS[n].direction != "neutral"]
        self._scored_cols = np.array([names.index(n) for n in self.scored_names_], dtype=np.int64)
        card = credit_scorecard(self.scored_names_, blend=self.blend, C=self.C)
        self.scorecard_ = card.fit(self._scored(X), y, sample_weight=sample_weight)
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

    def _scored(self, X: np.ndarray) -> np.ndarray:
        """The scored columns (neutral indicators carry no points)."""
        return X[:, self._scored_cols]

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
        s = self.scorecard_.score(self._scored(X))
        s[np.isnan(X).all(axis=1)] = np.nan
        return s

    def reasons(self, X: Any, top: int | None = None) -> list[list[dict[str, Any]]]:
        """Return per row the indicators that lowered its score most.

        Each reason is ``{"code", "label", "indicator", "value", "points_lost",
        "detail"}`` (:func:`point_reasons`), worst first; only indicators the row has a
        value for and that cost it at least :data:`MIN_REASON_POINTS` points below the
        indicator's best bin. Rows without data get none.
        """
        X = self._check(X)
        r = self.scorecard_.reasons(self._scored(X), top=self.top if top is None else top,
                                    present_only=True)
        r.index[np.isnan(X).all(axis=1)] = -1
        return self._reason_dicts(X, r.index, r.points_lost)

    def _reason_dicts(self, X: np.ndarray, index: np.ndarray,
                      lost: np.ndarray) -> list[list[dict[str, Any]]]:
        cols = np.where(index >= 0, self._scored_cols[np.maximum(index, 0)], -1)
        values = np.take_along_axis(X, np.maximum(cols, 0), axis=1)
        return point_reasons(cols, values, lost, self.feature_names_)

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
            that lowered the score most (:meth:`reasons`).
        """
        X = self._check(X)
        scores, r = self.scorecard_.score_with_reasons(self._scored(X), top=self.top,
                                                       present_only=True)
        scores[np.isnan(X).all(axis=1)] = np.nan
        g = _grade(scores, cutoffs=self.cutoffs_, target_shares=None,
                   serious_violation=serious_violation, abnormal_list=abnormal_list)
        r.index[g.no_data] = -1
        reasons = self._reason_dicts(X, r.index, r.points_lost)
        for mask, code in ((g.serious, "serious_violation"), (g.capped, "abnormal_list"),
                           (g.no_data & ~g.serious, "no_data")):
            entry = {"code": code, "label": OVERRIDE_REASONS[code], "points_lost": 0.0}
            for i in np.flatnonzero(mask).tolist():
                reasons[i].insert(0, dict(entry))
        return scores, g.grades, reasons

    def table(self) -> list[dict[str, Any]]:
        """Return the scorecard table with each indicator's code, Chinese label,
        dimension and declared direction (scored indicators only: neutral ones carry
        no points).

        Rows as :meth:`Scorecard.table` plus ``label``, ``dimension``, ``direction``
        (``不利`` / ``有利``) and ``segment_label`` (``全部``: one card).
        """
        rows = self.scorecard_.table(self.scored_names_)
        label = dict(zip(self.feature_names_, self.labels_, strict=True))
        for r in rows:
            name = r["feature"]
            r["label"] = label[name]
            dim = feature(name).dimension if name in FEATURE_INDEX else ""
            r["dimension"] = DIMENSIONS.get("compliance" if name in _FAILED_TESTS else dim, "")
            d = INDICATORS[name].direction if name in INDICATORS else ""
            r["direction"] = DIRECTION_LABELS.get(d, "")
            r["segment_label"] = "全部"
        return rows

    def segment_labels(self) -> list[str]:
        """Return each segment's conditions in Chinese (``["全部"]``: the card is one card)."""
        return ["全部"]

    def to_csv(self, path: str | Path | None = None) -> str:
        """Return the scorecard table as CSV (code names), also written to ``path``."""
        return self.scorecard_.to_csv(path, self.scored_names_)

    # -- persistence ------------------------------------------------------------
    def metadata(self) -> persist.ModelMetadata:
        """Return what is saved beside the model."""
        return persist.ModelMetadata(
            name=self.name, version=self.version, features=list(self.feature_names_),
            trained_from=self.trained_from_, trained_to=self.trained_to_,
            n_samples=self.n_samples_, n_positive=self.n_positive_,
            extra={"cutoffs": [float(c) for c in self.cutoffs_],
                   "segments": ["all"],
                   "scored": list(self.scored_names_),
                   "directions": {n: INDICATORS[n].direction for n in self.feature_names_
                                  if n in INDICATORS},
                   "blend": bool(self.blend), "C": float(self.C)},
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


# -- reasons --------------------------------------------------------------------
#: Chinese names of the directions, as the points table shows them.
DIRECTION_LABELS: dict[str, str] = {"adverse": "不利", "favourable": "有利", "neutral": "不计分"}

#: An indicator costing fewer points than this is no reason.
MIN_REASON_POINTS = 1.0


def point_reasons(cols: np.ndarray, values: np.ndarray, lost: np.ndarray,
                  names: Sequence[str]) -> list[list[dict[str, Any]]]:
    """Pack per row the reasons ``cols`` names (``-1``: none), worst first.

    Each reason: ``code`` (indicator), ``label`` (this entity's value in plain
    Chinese, e.g. ``"近3年检查发现问题 2 次"``), ``indicator`` (the indicator's label),
    ``value``, ``points_lost`` (rounded to 0.1) and ``detail`` (``"近3年检查发现问题 2 次
    −38 分"``). Reasons under :data:`MIN_REASON_POINTS` are left out. Texts are built
    once per distinct (indicator, value).
    """
    import gc

    names = list(names)
    cache: dict[tuple[int, float], tuple[str, str]] = {}

    def text(c: int, v: float) -> tuple[str, str]:
        key = (c, v)
        hit = cache.get(key)
        if hit is None:
            name = names[c]
            ind = INDICATORS.get(name)
            label = feature(name).label if name in FEATURE_INDEX else name
            hit = ((ind.describe(v) if ind is not None else f"{label} {v:g}"), label)
            cache[key] = hit
        return hit

    enabled = gc.isenabled()
    gc.disable()
    try:
        out = []
        for cr, vr, lr in zip(np.asarray(cols).tolist(), np.asarray(values).tolist(),
                              np.round(lost, 1).tolist(), strict=True):
            row = []
            for c, v, pts in zip(cr, vr, lr, strict=True):
                if c < 0 or pts < MIN_REASON_POINTS:
                    continue
                said, label = text(c, v)
                row.append({"code": names[c], "label": said, "indicator": label, "value": v,
                            "points_lost": pts, "detail": f"{said} −{pts:.0f} 分"})
            out.append(row)
        return out
    finally:
        if enabled:
            gc.enable()


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
