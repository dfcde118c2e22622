"""Each rule/statistical model fires on a hand-made case and not on its twin."""

from __future__ import annotations

import numpy as np
import pytest

from risk_models.models import make_model_matrix
from risk_models.registry import get_model

#: Only the score floors decide the level here (no volume cap), so the tests say
#: whether the model's own probability reaches a warning.
FLOORS_ONLY = (1.0, 1.0, 1.0)


def _levels(name, with_rows, *rows):
    """Fit cold on the province plus ``rows``; return (levels, explanation, model) of ``rows``."""
    model = get_model(name, volume=FLOORS_ONLY)
    cols = with_rows(*rows)
    X = make_model_matrix(model, cols)
    model.fit(X)
    tail = np.arange(len(X) - len(rows), len(X))
    levels = model.warning_levels(model.score_samples(X))[tail]
    return levels, model.explain(X, top=3, rows=tail), model


CASES = [
    # model, case changes, twin changes (one fact different), expected top reason, article
    ("certification", {"ccc_products": 5.0, "cert_expired_selling": 2.0},
     {"cert_expired_selling": 0.0}, "cert_expired_selling_rule", ("认证认可条例", 27)),
    ("unlicensed_operation",
     {"licence_valid": 0.0, "activity_signals_90d": 20.0, "complaints_90d": 4.0},
     {"licence_valid": 1.0}, "operating_without_licence", ("无证无照经营查处办法", 2)),
    ("abnormal_operation", {"annual_report_missing": 1.0, "address_unreachable": 1.0},
     {"address_unreachable": 0.0}, "address_unreachable_rule", ("市场主体登记管理条例", 24)),
    ("special_equipment",
     {"equipment_count": 3.0, "equipment_overdue": 1.0, "equipment_max_age_years": 8.0},
     {"equipment_overdue": 0.0}, "equipment_overdue_rule", ("特种设备安全法", 40)),
    ("metrology", {"instrument_count": 2.0, "instrument_overdue": 1.0},
     {"instrument_overdue": 0.0}, "instrument_overdue_rule", ("计量法", 9)),
    ("advertising", {"ad_count_90d": 3.0, "ad_text": "全国销量第一，品质最佳"},
     {"ad_text": "品质优良，欢迎选购"}, "ad_absolute_terms", ("广告法", 9)),
    ("advertising", {"ad_count_90d": 3.0, "ad_text": "祖传秘方，根治失眠"},
     {"ad_text": "祖传秘方，安心睡眠"}, "ad_medical_claims", ("广告法", 17)),
    ("advertising", {"ad_count_90d": 3.0, "ad_text": "投资理财，保本高息"},
     {"ad_text": "投资理财，专业服务"}, "ad_investment_guarantee", ("广告法", 25)),
    ("complaint_surge",
     {"complaints_90d": 12.0, "complaints_365d": 13.0, "complaints_prior_360d": 4.0,
      "peer_group_id": 999.0},
     {"complaints_prior_360d": 48.0}, "complaint_surge_test", ("消费者权益保护法", 16)),
    ("price_violation",
     {"price_reports_90d": 10.0, "price_deviation_max": 0.9, "price_deviation_mean": 0.6,
      "emergency_price_reports": 6.0},
     {"price_deviation_max": 0.03, "price_deviation_mean": 0.01},
     "price_deviation_max_z", ("价格法", 14)),
    ("product_quality", {"tests_3y_product": 6.0, "tests_failed_3y_product": 4.0},
     {"tests_failed_3y_product": 0.0}, "failure_rate_shrunk", ("产品质量法", 13)),
    ("food_safety", {"tests_3y_food": 4.0, "tests_failed_3y_food": 3.0, "complaints_90d_food": 3.0},
     {"tests_failed_3y_food": 0.0, "complaints_90d_food": 0.0}, "tests_failed_3y_food",
     ("食品安全法", 34)),
    ("prepaid_consumer",
     {"prepaid_balance_log": 12.0, "prepaid_cards_90d": 40.0, "closure_signal": 1.0,
      "complaints_90d_prepaid": 5.0, "complaints_365d_prepaid": 6.0},
     {"closure_signal": 0.0, "complaints_90d_prepaid": 0.0, "complaints_365d_prepaid": 1.0},
     "closure_signal", ("消费者权益保护法", 53)),
    ("online_trade",
     {"online_orders_90d": 500.0, "online_refund_rate": 0.4, "online_complaint_rate": 3.0,
      "licence_displayed": 0.0},
     {"online_refund_rate": 0.02, "online_complaint_rate": 0.1, "licence_displayed": 1.0},
     "refund_rate_excess", ("电子商务法", 15)),  # top reason with an article: 亮照
]


@pytest.mark.parametrize(("name", "case", "twin", "code", "article"), CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_fires_on_case_not_on_twin(name, case, twin, code, article, entity, with_rows):
    levels, expl, model = _levels(name, with_rows, entity(**case), entity(**{**case, **twin}))
    assert levels[0] >= 1, f"{name} should warn on {case}"
    assert levels[1] == 0, f"{name} should not warn on its twin {twin}"
    assert expl.codes[0, 0] == code
    assert expl.contributions[0, 0] > 0
    laws, arts = model.cited_articles(expl.codes[:1])
    assert (laws[0], int(arts[0])) == article


def test_registration_cluster_fires_isolated_twin_does_not(entity, with_rows):
    shared = {"address_id": 5e9, "phone_id": 6e9}
    farm = [entity(**shared, age_years=0.3, annual_report_missing=1.0, address_unreachable=1.0)
            for _ in range(11)]
    member = entity(**shared, age_years=0.3, annual_report_missing=1.0)
    twin = entity(age_years=0.3, annual_report_missing=1.0)  # same facts, own address/phone
    levels, expl, _ = _levels("registration_fraud", with_rows, *farm, member, twin)
    assert levels[-2] >= 1 and levels[-1] == 0
    codes = set(expl.codes[-2])
    assert {"shared_phone", "cluster_misconduct_share"} & codes
    assert "shared_address" in set(expl.codes[-2]) | set(expl.codes[-3])


def test_advertising_explains_with_the_matched_term(entity, with_rows):
    levels, expl, model = _levels(
        "advertising", with_rows,
        entity(ad_count_90d=2.0, ad_text="本品治愈率高达95%，无效退款"),
        entity(ad_count_90d=2.0, ad_text="国家级品牌"))
    assert levels.min() >= 1
    first = dict(zip(expl.codes[0], expl.details[0], strict=True))
    assert first["ad_medical_claims"] == "治愈"
    assert first["ad_efficacy_assurance"] in {"治愈率", "无效退款"}
    assert expl.row(1)[0][0] == "ad_absolute_terms" and expl.details[1, 0] == "国家级"
    laws, arts = model.cited_articles(expl.codes)
    assert list(zip(laws, arts, strict=True)) == [("广告法", 17), ("广告法", 9)]


def test_complaint_surge_explains_the_test(entity, with_rows):
    surge = entity(complaints_90d=12.0, complaints_365d=13.0, complaints_prior_360d=4.0,
                   peer_group_id=999.0)
    _, expl, _ = _levels("complaint_surge", with_rows, surge)
    assert expl.codes[0, 0] == "complaint_surge_test"
    assert expl.values[0, 0] > 3  # -log10 p
    assert expl.details[0, 0].startswith("近90天投诉12件")


def test_complaint_surge_peers_come_from_the_rows_passed(entity, with_rows):
    """The same count is less surprising in a group whose peers all complain."""
    quiet = [entity(complaints_90d=0.0, peer_group_id=501.0) for _ in range(30)]
    noisy = [entity(complaints_90d=5.0, complaints_prior_360d=20.0, peer_group_id=502.0)
             for _ in range(30)]
    a = entity(complaints_90d=5.0, complaints_365d=5.0, peer_group_id=501.0)
    b = entity(complaints_90d=5.0, complaints_365d=5.0, peer_group_id=502.0)
    model = get_model("complaint_surge")
    X = make_model_matrix(model, with_rows(*quiet, *noisy, a, b))
    s = model.fit(X).score_samples(X)
    assert s[-2] > s[-1]


def test_price_emergency_window_weighs_more(entity, with_rows):
    base = {"price_reports_90d": 10.0, "price_deviation_max": 0.3, "price_deviation_mean": 0.2}
    model = get_model("price_violation")
    X = make_model_matrix(model, with_rows(entity(**base, emergency_price_reports=8.0),
                                           entity(**base, emergency_price_reports=0.0)))
    model.fit(X)
    s = model.score_samples(X)
    assert s[-2] > s[-1]


def test_unlicensed_needs_activity(entity, with_rows):
    """A lapsed licence with no sign of trading is not operating without a licence."""
    levels, _, _ = _levels(
        "unlicensed_operation", with_rows,
        entity(licence_valid=0.0, activity_signals_90d=0.0, closure_signal=1.0))
    assert levels[0] == 0


def test_not_applicable_rows_score_zero(entity, with_rows):
    model = get_model("certification")
    X = make_model_matrix(model, with_rows(entity(cert_expired_selling=2.0, ccc_products=0.0)))
    model.fit(X)
    assert not model.applicable(X)[-1]
    assert model.score_samples(X)[-1] == 0.0
    assert model.decision_function(X)[-1] > -2.0  # the rule fired; the row is just out of scope
