"""Complaint surge: a count anomaly test against the entity's and its peers' baseline.

Two upper-tail tests of the last 90 days' complaint count ``c``:

* **own baseline**: the entity's rate per quarter over the year before, i.e.
  ``complaints_prior_360d`` over the quarters it existed, shrunk towards its peers'
  rate by ``baseline_prior_quarters`` pseudo-quarters (a new entity has no history);
* **peers**: the mean quarterly count of the rows passed with the same
  ``peer_group_id`` (business type × county), shrunk towards the mean of all rows by
  ``peer_prior_rows`` pseudo-entities.

``p = P(N >= c)`` under a negative binomial (``test="negbin"``, size ``dispersion``;
complaint counts are over-dispersed) or a Poisson. The surge statistic is
``min(-log10 p_own, -log10 p_peer)``: a surge must be anomalous against both, so an
entity with steadily many complaints (high own baseline) does not fire, nor does a
noisy sector. The score is a logistic function of the statistics, recalibrated on
outcomes when they exist.

Peers are computed over the rows passed to each call: score the population at once.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy import stats

from risk_models.models._framework import Columns, DomainModel, Terms, TermsBuilder
from risk_models.registry import register

__all__ = ["ComplaintSurge", "count_tail_log10"]

_MU_FLOOR = 0.05
_CAP = 15.0


def count_tail_log10(
    count: np.ndarray, mean: np.ndarray, *, test: str = "negbin", dispersion: float = 4.0
) -> np.ndarray:
    """Return ``-log10 P(N >= count)`` for ``N`` with the given mean.

    Parameters
    ----------
    count : ndarray
        Observed counts (>= 0).
    mean : ndarray
        Expected counts (> 0).
    test : {"negbin", "poisson"}
        Distribution of ``N``.
    dispersion : float
        Negative binomial size ``r`` (variance ``mean + mean^2 / r``).

    Returns
    -------
    ndarray
        The statistic, 0 where ``count`` is 0.

    Examples
    --------
    >>> import numpy as np
    >>> count_tail_log10(np.array([0, 1, 10]), np.array([1.0, 1.0, 1.0]), test="poisson").round(2)
    array([0.  , 0.2 , 6.95])
    """
    k = np.asarray(count, dtype=np.float64) - 1.0
    mu = np.asarray(mean, dtype=np.float64)
    if test == "poisson":
        logsf = stats.poisson.logsf(k, mu)
    elif test == "negbin":
        logsf = stats.nbinom.logsf(k, dispersion, dispersion / (dispersion + mu))
    else:
        raise ValueError(f"test must be 'negbin' or 'poisson', got {test!r}")
    return np.where(k < 0, 0.0, -logsf / np.log(10.0))


class ComplaintSurge(DomainModel):
    """Consumer complaints (12315): surge against own and peers' baseline (scipy).

    Parameters
    ----------
    test : {"negbin", "poisson"}
        Distribution of the count under the baseline.
    dispersion : float
        Negative binomial size.
    baseline_prior_quarters : float
        Pseudo-quarters at the peers' rate added to the entity's own history.
    peer_prior_rows : float
        Pseudo-entities at the overall rate added to each peer group.
    **kwargs
        As :class:`~risk_models.models._framework.DomainModel`.
    """

    name = "complaint_surge"
    description = "投诉举报激增风险预警"
    domain = "complaint_surge"
    kind = "statistical"
    features = (
        "age_years",
        "complaints_90d",
        "complaints_365d",
        "complaints_prior_360d",
        "peer_group_id",
    )
    business_types = None
    legal_basis = (("消费者权益保护法", 16), ("消费者权益保护法", 48))
    reason_labels: ClassVar[dict[str, str]] = {
        "complaint_surge_test": "投诉量显著高于自身基线和同业水平(计数检验 -log10 p)",
        "surge_vs_own_baseline": "投诉量高于自身历史基线(-log10 p)",
        "above_peer_level": "投诉量高于同业同区水平(-log10 p)",
    }
    default_volume = (0.004, 0.0013, 0.0004)

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
        test: str = "negbin",
        dispersion: float = 4.0,
        baseline_prior_quarters: float = 1.0,
        peer_prior_rows: float = 10.0,
    ) -> None:
        super().__init__(
            min_labels=min_labels, n_folds=n_folds, volume=volume,
            target_precision=target_precision, min_score=min_score,
            prior_strength=prior_strength, random_state=random_state,
        )
        self.test = test
        self.dispersion = dispersion
        self.baseline_prior_quarters = baseline_prior_quarters
        self.peer_prior_rows = peer_prior_rows

    def _check_params(self, **params: Any) -> None:
        super()._check_params(**params)
        if params["test"] not in ("negbin", "poisson"):
            raise ValueError(f"test must be 'negbin' or 'poisson', got {params['test']!r}")
        for key in ("dispersion", "baseline_prior_quarters", "peer_prior_rows"):
            if not params[key] > 0:
                raise ValueError(f"{key} must be > 0, got {params[key]!r}")

    def _applicable_cols(self, C: Columns) -> np.ndarray:
        return C.count("complaints_90d") >= 1

    def _context(self, C: Columns) -> dict[str, np.ndarray]:
        c = C.count("complaints_90d")
        overall = float(c.mean()) if len(c) else 0.0
        group = np.nan_to_num(C.num("peer_group_id"), nan=-1.0)
        known = np.flatnonzero(group >= 0)
        peer = np.full(len(c), overall)
        if len(known):
            _, inv = np.unique(group[known], return_inverse=True)
            sums = np.bincount(inv, weights=c[known])
            counts = np.bincount(inv)
            k = self.peer_prior_rows
            peer[known] = ((sums + k * overall) / (counts + k))[inv]
        return {"peer_rate": np.maximum(peer, _MU_FLOOR)}

    def _statistics(self, C: Columns, ctx: dict[str, np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        c = C.count("complaints_90d")
        peer = ctx["peer_rate"]
        age = C.num("age_years")
        quarters = np.where(np.isnan(age), 4.0, np.clip((age * 365.0 - 90.0) / 90.0, 0.0, 4.0))
        m0 = self.baseline_prior_quarters
        own = np.maximum((C.count("complaints_prior_360d") + m0 * peer) / (quarters + m0),
                         _MU_FLOOR)
        opts = {"test": self.test, "dispersion": self.dispersion}
        s_own = np.minimum(count_tail_log10(c, own, **opts), _CAP)
        s_peer = np.minimum(count_tail_log10(c, peer, **opts), _CAP)
        return c, own, peer, s_own, s_peer

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        _, _, _, s_own, s_peer = self._statistics(C, ctx)
        b = TermsBuilder(len(C), bias=-4.2)
        b.add("complaint_surge_test", np.minimum(s_own, s_peer), 0.8)
        b.add("surge_vs_own_baseline", s_own, 0.1)
        b.add("above_peer_level", s_peer, 0.0)
        return b.build()

    def _details(self, C: Columns, ctx: dict[str, np.ndarray], terms: Terms,
                 codes: list[str]) -> dict[str, np.ndarray]:
        c, own, peer, s_own, s_peer = self._statistics(C, ctx)
        p = np.power(10.0, -np.minimum(s_own, s_peer))

        def fmt(spec: str, x: np.ndarray) -> np.ndarray:
            return np.char.mod(spec, x).astype(object)

        text = ("近90天投诉" + fmt("%d", c) + "件，自身基线" + fmt("%.1f", own)
                + "件/季，同业" + fmt("%.1f", peer) + "件/季，p=" + fmt("%.1e", p))
        return {"complaint_surge_test": text, "surge_vs_own_baseline": text,
                "above_peer_level": text}


register(ComplaintSurge)
