"""Benchmark of the 15 warning models on a synthetic province.

:func:`synthetic_columns` draws every catalogue feature for ``n`` entities with
plausible distributions (business-type mix, latent compliance propensity, shell
farms sharing an address, complaint surges, price gougers, adverts with forbidden
terms...). :func:`synthetic_labels` draws inspection outcomes whose log-odds depend
on the features (partly as the models' priors assume, partly not) and on the hidden
propensity. :func:`bench_models` fits each model on a small labelled subset and
times scoring the whole population.

Run ``python -m risk_models.bench [N]`` to print the figures as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np
from scipy.special import expit

from risk_models.features import FEATURES, feature

__all__ = [
    "BUSINESS_TYPES",
    "bench_models",
    "synthetic_columns",
    "synthetic_labels",
]

#: Business-type mix of the synthetic province.
BUSINESS_TYPES: dict[str, float] = {
    "catering": 0.18,
    "food_production": 0.02,
    "food_retail": 0.14,
    "pharmacy": 0.02,
    "medical_device": 0.01,
    "manufacturer": 0.08,
    "ecommerce": 0.08,
    "prepaid": 0.03,
    "general_retail": 0.26,
    "services": 0.18,
}

_CLEAN_ADS = np.array([
    "新鲜食材，每日现做", "周末特价，欢迎选购", "正品行货，全国联保", "专业团队，用心服务",
    "会员日全场九折", "新店开业，欢迎光临", "品质生活从这里开始", "支持七天无理由退货",
], dtype=object)
_BAD_ADS = np.array([
    "全国第一品牌，国家级品质", "本店最佳口味，顶级享受", "根治颈椎病，药到病除", "三天治愈脱发，无效退款",
    "投资保本，稳赚不赔", "治愈率高达98%，无副作用", "最好的选择，销量第一", "降血糖神器，包治百病",
], dtype=object)


def synthetic_columns(n: int, rng: Any = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Draw the feature catalogue for ``n`` synthetic entities.

    Parameters
    ----------
    n : int
        Entities.
    rng : int or numpy Generator
        Seed.

    Returns
    -------
    columns : dict of str to ndarray
        Every feature of :data:`risk_models.features.FEATURES`, plus ``"_latent"``
        (the hidden propensity, for :func:`synthetic_labels` only).
    business_type : ndarray of str
        Each entity's business type.
    """
    rng = np.random.default_rng(rng)
    types = np.array(list(BUSINESS_TYPES))
    bt = types[rng.choice(len(types), size=n, p=np.array(list(BUSINESS_TYPES.values())))]
    u = rng.normal(size=n)  # hidden propensity to break rules
    c: dict[str, np.ndarray] = {"_latent": u}

    def bern(p: Any) -> np.ndarray:
        return (rng.random(n) < p).astype(np.float64)

    def isin(*names: str) -> np.ndarray:
        return np.isin(bt, names)

    # shell farms: groups of 5-40 young entities sharing an address and often a phone
    farm = np.zeros(n, dtype=bool)
    address = rng.permutation(n).astype(np.float64)
    phone = np.where(rng.random(n) < 0.1, -1.0, rng.permutation(n) + 2.0 * n)
    rep = rng.permutation(n).astype(np.float64)
    n_farms = max(1, n // 3000)
    starts = rng.choice(n, size=n_farms, replace=False)
    for s in starts:  # a few hundred farms: a loop over farms, not entities
        size = int(rng.integers(5, 40))
        members = rng.choice(n, size=size, replace=False)
        farm[members] = True
        address[members] = address[s]
        phone[members[: size // 2]] = phone[s] if phone[s] >= 0 else 3.0 * n + s
        rep[members[: size // 4]] = rep[s]
    u = np.where(farm, u + 1.5, u)
    c["_latent"] = u
    c["_farm"] = farm.astype(np.float64)

    c["age_years"] = np.where(farm, rng.uniform(0.05, 1.5, n),
                              np.clip(rng.lognormal(1.5, 0.9, n), 0.05, 40))
    c["is_individual"] = bern(np.where(isin("catering", "food_retail", "general_retail",
                                            "services"), 0.6, 0.15))
    c["capital_log"] = rng.normal(12.0 - 2.0 * c["is_individual"], 1.5)
    c["address_id"], c["phone_id"], c["legal_rep_id"] = address, phone, rep
    c["annual_report_missing"] = bern(expit(-3.0 + 0.8 * u + 2.0 * farm))
    c["annual_report_late_3y"] = rng.binomial(3, expit(-2.5 + 0.6 * u)).astype(np.float64)
    c["on_abnormal_list"] = bern(0.5 * c["annual_report_missing"] + 0.01)
    c["address_unreachable"] = bern(expit(-4.0 + 0.8 * u + 2.5 * farm))
    c["closure_signal"] = bern(expit(-4.0 + 0.5 * u))
    c["penalties_3y"] = rng.poisson(np.exp(-2.5 + 0.7 * u)).astype(np.float64)
    c["penalty_amount_log"] = np.where(c["penalties_3y"] > 0, rng.normal(8.0, 2.0, n), 0.0)
    c["on_serious_violation_list"] = bern(0.002)
    c["inspections_3y"] = rng.poisson(0.6, n).astype(np.float64)
    c["inspection_problems_3y"] = rng.binomial(
        c["inspections_3y"].astype(np.int64), expit(-2.0 + 0.8 * u)).astype(np.float64)
    c["problem_rate_shrunk"] = (c["inspection_problems_3y"] + 0.5) / (c["inspections_3y"] + 5.0)
    c["last_inspection_problem"] = ((c["inspection_problems_3y"] > 0) * bern(0.6))
    c["days_since_inspection"] = np.where(c["inspections_3y"] > 0, rng.uniform(0, 1095, n), np.nan)
    c["warnings_confirmed_2y"] = rng.poisson(np.exp(-4.0 + 0.8 * u)).astype(np.float64)

    # complaints: a category rate per business type, 1 % of entities surge now
    surge = np.where(rng.random(n) < 0.01, rng.uniform(3.0, 8.0, n), 1.0)
    category_of = {
        "food": ("catering", "food_production", "food_retail"),
        "drug": ("pharmacy", "medical_device"),
        "equipment": ("manufacturer", "general_retail"),
        "quality": ("manufacturer", "general_retail", "ecommerce"),
        "price": ("food_retail", "general_retail", "pharmacy"),
        "advertising": ("services", "ecommerce", "medical_device"),
        "online": ("ecommerce",),
        "prepaid": ("prepaid", "services"),
        "metrology": ("food_retail", "general_retail"),
        "counterfeit": ("general_retail", "ecommerce", "manufacturer"),
    }
    total90, total365, prior360 = np.zeros(n), np.zeros(n), np.zeros(n)
    for cat, types_ in category_of.items():
        rate = np.where(isin(*types_), 0.8, 0.05) * np.exp(0.5 * u)  # per year
        before = rng.poisson(rate * 0.75)
        recent = rng.poisson(rate * 0.25 * surge)
        c[f"complaints_90d_{cat}"] = recent.astype(np.float64)
        c[f"complaints_365d_{cat}"] = (recent + before).astype(np.float64)
        total90 += recent
        total365 += recent + before
        prior360 += rng.poisson(rate)
    c["complaints_90d"], c["complaints_365d"] = total90, total365
    c["complaints_prior_360d"] = prior360
    c["court_enforcement"] = bern(expit(-4.5 + 0.6 * u))
    c["tax_arrears"] = bern(expit(-4.0 + 0.5 * u))

    required = isin("catering", "food_production", "food_retail", "pharmacy", "medical_device")
    c["licence_required"] = np.maximum(required, bern(0.2))
    valid = 1.0 - bern(expit(-3.5 + 0.7 * u))
    c["licence_valid"] = np.where(c["licence_required"] > 0, valid, np.nan)
    c["licence_expired_days"] = np.where((c["licence_required"] > 0) & (valid == 0),
                                         np.exp(rng.normal(5.0, 1.0, n)), 0.0)
    c["activity_signals_90d"] = rng.poisson(3.0, n) * (1.0 - c["closure_signal"])

    has_eq = bern(np.where(isin("manufacturer", "food_production", "general_retail",
                                "catering"), 0.25, 0.04))
    c["equipment_count"] = has_eq * (1 + rng.poisson(2.0, n))
    c["equipment_overdue"] = rng.binomial(c["equipment_count"].astype(np.int64),
                                          expit(-3.5 + 0.8 * u)).astype(np.float64)
    c["equipment_max_age_years"] = np.where(has_eq > 0, rng.uniform(0, 30, n), np.nan)
    c["equipment_incidents_3y"] = rng.poisson(0.05 * c["equipment_count"] * np.exp(0.5 * u))

    priced = bern(np.where(isin("food_retail", "general_retail", "pharmacy", "catering"),
                           0.5, 0.03))
    c["price_reports_90d"] = priced * (1 + rng.poisson(5.0, n))
    gouger = bern(expit(-4.0 + 0.8 * u)) * priced
    mean_dev = rng.normal(0.0, 0.06, n) + gouger * rng.uniform(0.2, 0.8, n)
    c["price_deviation_mean"] = np.where(priced > 0, mean_dev, np.nan)
    c["price_deviation_max"] = np.where(priced > 0, mean_dev + np.abs(rng.normal(0, 0.08, n)),
                                        np.nan)
    emergency = np.where(gouger > 0, 0.6, 0.1)
    c["emergency_price_reports"] = rng.binomial(c["price_reports_90d"].astype(np.int64),
                                                emergency).astype(np.float64)

    advertises = bern(np.where(isin("services", "ecommerce", "medical_device", "prepaid"),
                               0.3, 0.05))
    c["ad_count_90d"] = advertises * (1 + rng.poisson(4.0, n))
    bad_ad = bern(expit(-2.5 + 0.8 * u)) > 0
    text = np.where(bad_ad, _BAD_ADS[rng.integers(0, len(_BAD_ADS), n)],
                    _CLEAN_ADS[rng.integers(0, len(_CLEAN_ADS), n)])
    c["ad_text"] = np.where(advertises > 0, text, "").astype(object)

    online = np.where(isin("ecommerce"), 1.0, bern(0.05))
    c["online_orders_90d"] = online * np.round(rng.lognormal(5.0, 1.5, n))
    c["online_refund_rate"] = np.where(online > 0, np.clip(
        rng.beta(2, 30, n) + 0.08 * np.maximum(u, 0), 0, 1), np.nan)
    c["online_complaint_rate"] = np.where(online > 0, rng.gamma(1.0, 0.5, n) * np.exp(0.5 * u),
                                          np.nan)
    c["licence_displayed"] = np.where(online > 0, bern(expit(2.5 - 0.8 * u)), np.nan)

    prepaid = np.where(isin("prepaid"), 1.0, bern(np.where(isin("services"), 0.2, 0.0)))
    c["prepaid_balance_log"] = prepaid * rng.normal(11.0, 1.5, n)
    c["prepaid_cards_90d"] = prepaid * rng.poisson(30.0, n)

    weighs = bern(np.where(isin("food_retail", "general_retail", "catering", "pharmacy"),
                           0.4, 0.03))
    c["instrument_count"] = weighs * (1 + rng.poisson(2.0, n))
    c["instrument_overdue"] = rng.binomial(c["instrument_count"].astype(np.int64),
                                           expit(-3.0 + 0.8 * u)).astype(np.float64)

    ccc = bern(np.where(isin("manufacturer", "general_retail", "ecommerce"), 0.25, 0.01))
    c["ccc_products"] = ccc * (1 + rng.poisson(5.0, n))
    c["cert_expired_selling"] = rng.binomial(c["ccc_products"].astype(np.int64),
                                             expit(-4.5 + 0.8 * u)).astype(np.float64)
    c["cert_suspended"] = ccc * bern(expit(-5.0 + 0.8 * u))

    tested_by = {
        "food": ("catering", "food_production", "food_retail"),
        "drug": ("pharmacy", "medical_device"),
        "product": ("manufacturer",),
        "authenticity": ("general_retail", "ecommerce"),
    }
    for kind, types_ in tested_by.items():
        tests = np.where(isin(*types_), rng.poisson(2.0, n), 0)
        p_fail = np.clip(rng.beta(1.0, 19.0, n) * np.exp(0.6 * u), 0, 1)
        c[f"tests_3y_{kind}"] = tests.astype(np.float64)
        c[f"tests_failed_3y_{kind}"] = rng.binomial(tests, p_fail).astype(np.float64)

    region = rng.integers(0, 100, n)
    c["peer_group_id"] = (np.searchsorted(types, bt, sorter=np.argsort(types)) * 100
                          + region).astype(np.float64)
    missing = [f.name for f in FEATURES if f.name not in c]
    if missing:  # pragma: no cover - guards edits of the catalogue
        raise RuntimeError(f"synthetic_columns lacks {missing}")
    return c, bt


def _standard(x: np.ndarray) -> np.ndarray:
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0)
    x = np.log1p(np.maximum(x, 0.0)) if x.max(initial=0.0) > 5 else x
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def synthetic_labels(
    model: Any,
    X: np.ndarray,
    latent: np.ndarray,
    rng: Any = 0,
    *,
    prior_weight: float = 0.7,
) -> np.ndarray:
    """Draw inspection outcomes for ``X`` (rows of one model) from a hidden truth.

    The truth's log-odds are ``prior_weight`` times the cold-start prior of
    ``model`` (fitted without labels), plus a random sparse combination of the
    model's numeric features that its prior ignores (signs as
    ``higher_is_riskier``, seeded by the model's name), plus the hidden propensity:
    a model that learns should beat its prior.

    Returns
    -------
    ndarray of float, shape (n,)
        0/1 outcomes (NaN where the model does not apply).
    """
    from sklearn.base import clone

    rng = np.random.default_rng(rng)
    cold = clone(model).fit(X)
    prior = cold.decision_function(X)
    names = type(model).features
    beta_rng = np.random.default_rng(sum(map(ord, type(model).name)))
    extra = np.zeros(len(X))
    nums = [j for j, f in enumerate(names) if feature(f).kind == "num"]
    unused = [j for j in nums if names[j] not in cold.term_codes_]  # what the prior ignores
    pool = unused if len(unused) >= 2 else nums
    for j in beta_rng.choice(pool, size=min(3, len(pool)), replace=False):
        h = feature(names[j]).higher_is_riskier
        sign = -1.0 if h is False else 1.0
        col = X[:, j].astype(np.float64)
        extra += sign * beta_rng.uniform(0.5, 1.0) * _standard(col)
    logit = prior_weight * prior + extra + 0.6 * latent
    logit += np.log(0.12) - np.log(np.mean(expit(logit)))  # about 10-15 % positive
    y = (rng.random(len(X)) < expit(logit)).astype(np.float64)
    return np.where(cold.applicable(X), y, np.nan)


def bench_models(n: int = 1_000_000, rng: int = 0, *, n_labels: int = 2000,
                 explain_top: int = 3) -> dict[str, Any]:
    """Fit the 15 models on small labelled subsets and time scoring ``n`` entities.

    Parameters
    ----------
    n : int
        Entities in the synthetic province.
    rng : int
        Seed.
    n_labels : int
        Labelled (inspected) applicable entities per model; 0 for a cold start.
    explain_top : int
        Reasons explained per warned row.

    Returns
    -------
    dict
        ``generate_s``, ``fit_s`` (per model), ``score_s`` (per model:
        score_samples + warning_levels + explain on the warned rows),
        ``score_total_s``, per-model ``mode``, ``cv_auc``, ``applicable``,
        ``warned`` and ``levels`` counts, and ``warned_entities_share`` (entities
        warned by at least one model) and ``warnings_share`` (warnings ÷ entities).
    """
    from risk_models.models import make_model_matrix
    from risk_models.registry import get_model, list_models

    gen = np.random.default_rng(rng)
    t0 = time.perf_counter()
    cols, bt = synthetic_columns(n, gen)
    out: dict[str, Any] = {"n": n, "generate_s": round(time.perf_counter() - t0, 2),
                           "models": {}}
    fitted = {}
    for name in list_models():
        model = get_model(name)
        rows = (np.arange(n) if model.business_types is None
                else np.flatnonzero(np.isin(bt, list(model.business_types))))
        X = make_model_matrix(model, cols, rows)
        t = time.perf_counter()
        y = None  # cold start without labels
        if n_labels > 0:
            app = np.flatnonzero(model.applicable(X))
            lab = gen.choice(app, size=min(n_labels, len(app)), replace=False)
            y = np.full(len(X), np.nan)
            y[lab] = synthetic_labels(model, X[lab], cols["_latent"][rows][lab], gen)
        model.fit(X, y)  # the population, NaN where not inspected
        fitted[name] = (model, rows)
        out["models"][name] = {
            "fit_s": round(time.perf_counter() - t, 2),
            "mode": model.mode_,
            "cv_auc": {k: round(v, 3) for k, v in model.cv_auc_.items()},
            "n_labels": model.n_labels_,
            "thresholds": [round(v, 4) for v in model.thresholds_],
        }
        del X

    warned_any = np.zeros(n, dtype=bool)
    total_warnings = 0
    t_all = time.perf_counter()
    for name, (model, rows) in fitted.items():
        t = time.perf_counter()
        X = make_model_matrix(model, cols, rows)
        t_matrix = time.perf_counter() - t
        scores = model.score_samples(X)
        levels = model.warning_levels(scores)
        warned = np.flatnonzero(levels > 0)
        explanation = model.explain(X, top=explain_top, rows=warned)
        elapsed = time.perf_counter() - t
        warned_any[rows[warned]] = True
        total_warnings += len(warned)
        out["models"][name].update({
            "matrix_s": round(t_matrix, 2),
            "score_s": round(elapsed, 2),
            "rows": len(rows),
            "applicable": int((scores > 0).sum()),
            "warned": len(warned),
            "levels": np.bincount(levels, minlength=4)[1:].tolist(),
            "top_reason": _top_code(explanation.codes[:, 0]) if len(warned) else "",
        })
    out["score_total_s"] = round(time.perf_counter() - t_all, 2)
    out["warned_entities_share"] = round(float(warned_any.mean()), 4)
    out["warnings_share"] = round(total_warnings / n, 4)
    return out


def _top_code(codes: np.ndarray) -> str:
    values, counts = np.unique(codes.astype(str), return_counts=True)
    return str(values[np.argmax(counts)])


if __name__ == "__main__":  # pragma: no cover
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(json.dumps(bench_models(size), ensure_ascii=False, indent=1))
