"""The LightGBM warning models: food safety, drugs and devices, online trade,
trademarks and prepaid consumption.

Each learns with LightGBM from the inspection outcomes the system records (its
numeric features, plus the prior logit stacked as a feature); before enough outcomes
exist it scores with the hand-set prior written in its ``_terms``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from risk_models.models._framework import (
    Columns,
    LGBMDomainModel,
    Terms,
    TermsBuilder,
    _log1p,
)
from risk_models.registry import register

__all__ = [
    "DrugDeviceRetail",
    "FoodSafety",
    "OnlineTrade",
    "PrepaidConsumer",
    "TrademarkIP",
]

#: Inspection history features that most models read.
HISTORY = (
    "penalties_3y",
    "inspections_3y",
    "inspection_problems_3y",
    "problem_rate_shrunk",
    "last_inspection_problem",
    "days_since_inspection",
    "warnings_confirmed_2y",
)


def add_history(b: TermsBuilder, C: Columns, scale: float = 1.0) -> None:
    """Add the inspection-history terms shared by most priors."""
    b.feature(C, "last_inspection_problem", 0.9 * scale, how="flag")
    b.feature(C, "problem_rate_shrunk", 2.5 * scale, how="rate", cap=1.0)
    b.feature(C, "penalties_3y", 0.4 * scale)
    b.feature(C, "warnings_confirmed_2y", 0.5 * scale)


def licence_lapsed(C: Columns) -> np.ndarray:
    """1 where a licence is required (or unknown whether) and recorded as not valid."""
    required = np.where(np.isnan(C.num("licence_required")), 1.0, C.flag("licence_required"))
    return required * C.is_zero("licence_valid")


class FoodSafety(LGBMDomainModel):
    """Food production and catering: sampling failures, complaints, history, licence."""

    name = "food_safety"
    description = "食品安全风险预警"
    domain = "food_safety"
    kind = "lightgbm"
    features = (
        "age_years",
        "is_individual",
        *HISTORY,
        "complaints_90d_food",
        "complaints_365d_food",
        "tests_3y_food",
        "tests_failed_3y_food",
        "licence_required",
        "licence_valid",
        "licence_expired_days",
        "on_abnormal_list",
    )
    business_types = frozenset({"catering", "food_production", "food_retail"})
    legal_basis = (("食品安全法", 34), ("食品安全法", 33), ("食品安全法", 35))
    rule_articles: ClassVar[dict[str, tuple[str, int]]] = {
        "tests_failed_3y_food": ("食品安全法", 34),
        "food_licence_lapsed": ("食品安全法", 35),
    }
    reason_labels: ClassVar[dict[str, str]] = {
        "food_licence_lapsed": "食品经营许可证失效仍在经营",
    }
    default_volume = (0.005, 0.0017, 0.0005)

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        b = TermsBuilder(len(C), bias=-3.4)
        b.feature(C, "tests_failed_3y_food", 1.1, how="count", cap=3)
        b.feature(C, "complaints_90d_food", 0.8)
        b.feature(C, "complaints_365d_food", 0.3)
        b.add("food_licence_lapsed", licence_lapsed(C), 1.2, C.num("licence_valid"))
        add_history(b, C)
        return b.build()


class DrugDeviceRetail(LGBMDomainModel):
    """Pharmacies and medical-device sellers."""

    name = "drug_device_retail"
    description = "药品医疗器械经营风险预警"
    domain = "drug_device_retail"
    kind = "lightgbm"
    features = (
        "age_years",
        "is_individual",
        *HISTORY,
        "complaints_90d_drug",
        "complaints_365d_drug",
        "tests_3y_drug",
        "tests_failed_3y_drug",
        "licence_valid",
        "licence_expired_days",
    )
    business_types = frozenset({"pharmacy", "medical_device"})
    legal_basis = (("药品管理法", 98), ("药品管理法", 51), ("医疗器械监督管理条例", 55))
    rule_articles: ClassVar[dict[str, tuple[str, int]]] = {
        "tests_failed_3y_drug": ("药品管理法", 98),
        "drug_licence_lapsed": ("药品管理法", 51),
    }
    reason_labels: ClassVar[dict[str, str]] = {
        "drug_licence_lapsed": "药品(医疗器械)经营许可证失效仍在经营",
    }
    default_volume = (0.02, 0.007, 0.002)

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        b = TermsBuilder(len(C), bias=-3.5)
        b.feature(C, "tests_failed_3y_drug", 1.3, how="count", cap=3)
        b.feature(C, "complaints_90d_drug", 0.9)
        b.feature(C, "complaints_365d_drug", 0.3)
        b.add("drug_licence_lapsed", C.is_zero("licence_valid"), 1.8, C.num("licence_valid"))
        add_history(b, C)
        return b.build()


class OnlineTrade(LGBMDomainModel):
    """E-commerce merchants: refund and complaint rates, licence display."""

    name = "online_trade"
    description = "网络交易风险预警"
    domain = "online_trade"
    kind = "lightgbm"
    features = (
        "age_years",
        "penalties_3y",
        "inspection_problems_3y",
        "last_inspection_problem",
        "online_orders_90d",
        "online_refund_rate",
        "online_complaint_rate",
        "licence_displayed",
        "licence_required",
        "licence_valid",
        "complaints_90d_online",
        "complaints_365d_online",
        "complaints_90d_counterfeit",
    )
    business_types = frozenset({"ecommerce"})
    legal_basis = (("电子商务法", 17), ("电子商务法", 15), ("电子商务法", 12))
    rule_articles: ClassVar[dict[str, tuple[str, int]]] = {
        "licence_not_displayed": ("电子商务法", 15),
        "online_licence_lapsed": ("电子商务法", 12),
    }
    reason_labels: ClassVar[dict[str, str]] = {
        "licence_not_displayed": "网店未在首页公示营业执照或许可信息",
        "online_licence_lapsed": "需许可的网络经营未持有效许可",
        "refund_rate_excess": "退款率高于5%的部分",
    }
    default_volume = (0.01, 0.0035, 0.001)

    def _applicable_cols(self, C: Columns) -> np.ndarray:
        return C.count("online_orders_90d") > 0

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        b = TermsBuilder(len(C), bias=-3.6)
        refund = np.nan_to_num(C.num("online_refund_rate"), nan=0.0)
        b.add("refund_rate_excess", np.clip(refund - 0.05, 0.0, 1.0), 6.0,
              C.num("online_refund_rate"))
        b.feature(C, "online_complaint_rate", 0.7)
        b.add("licence_not_displayed", C.is_zero("licence_displayed"), 1.3,
              C.num("licence_displayed"))
        b.add("online_licence_lapsed", C.flag("licence_required") * C.is_zero("licence_valid"),
              1.5, C.num("licence_valid"))
        b.feature(C, "complaints_90d_online", 0.6)
        b.feature(C, "last_inspection_problem", 0.9, how="flag")
        b.feature(C, "penalties_3y", 0.4)
        return b.build()


class TrademarkIP(LGBMDomainModel):
    """Counterfeits and trademark infringement: complaints, failed authenticity tests."""

    name = "trademark_ip"
    description = "商标侵权假冒风险预警"
    domain = "trademark_ip"
    kind = "lightgbm"
    features = (
        "age_years",
        "is_individual",
        "capital_log",
        "penalties_3y",
        "penalty_amount_log",
        "inspection_problems_3y",
        "last_inspection_problem",
        "complaints_90d_counterfeit",
        "complaints_365d_counterfeit",
        "tests_3y_authenticity",
        "tests_failed_3y_authenticity",
        "online_orders_90d",
        "online_complaint_rate",
    )
    business_types = frozenset({"general_retail", "ecommerce", "manufacturer"})
    legal_basis = (("商标法", 57), ("反不正当竞争法", 6))
    reason_labels: ClassVar[dict[str, str]] = {}
    default_volume = (0.003, 0.001, 0.0003)

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        b = TermsBuilder(len(C), bias=-4.0)
        b.feature(C, "tests_failed_3y_authenticity", 1.6, how="count", cap=3)
        b.feature(C, "complaints_90d_counterfeit", 1.0)
        b.feature(C, "complaints_365d_counterfeit", 0.4)
        b.feature(C, "last_inspection_problem", 0.8, how="flag")
        b.feature(C, "penalties_3y", 0.3)
        return b.build()


def complaint_trend(C: Columns, recent: str, year: str) -> np.ndarray:
    """Log ratio of the last 90 days' complaints to the rate of the 275 days before."""
    c90, c365 = C.count(recent), C.count(year)
    before = np.maximum(c365 - c90, 0.0) / 3.0
    return np.log((c90 + 0.5) / (before + 0.5))


class PrepaidConsumer(LGBMDomainModel):
    """Prepaid-card businesses (gyms, training): complaint trend, closure signals."""

    name = "prepaid_consumer"
    description = "预付式消费风险预警"
    domain = "prepaid_consumer"
    kind = "lightgbm"
    features = (
        "age_years",
        "capital_log",
        "penalties_3y",
        "last_inspection_problem",
        "closure_signal",
        "address_unreachable",
        "court_enforcement",
        "tax_arrears",
        "prepaid_balance_log",
        "prepaid_cards_90d",
        "complaints_90d_prepaid",
        "complaints_365d_prepaid",
    )
    business_types = frozenset({"prepaid", "services"})
    legal_basis = (("消费者权益保护法", 53),)
    reason_labels: ClassVar[dict[str, str]] = {
        "prepaid_complaint_trend": "预付式消费投诉上升趋势(近90天相对此前)",
        "cards_before_closure": "停业失联迹象下仍在售卡",
    }
    derived_monotone: ClassVar[dict[str, int]] = {"prepaid_complaint_trend": 1}
    default_volume = (0.02, 0.007, 0.002)

    def _applicable_cols(self, C: Columns) -> np.ndarray:
        return (C.count("prepaid_balance_log") > 0) | (C.count("prepaid_cards_90d") > 0)

    def _derived(self, C: Columns, ctx: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
        trend = complaint_trend(C, "complaints_90d_prepaid", "complaints_365d_prepaid")
        return ["prepaid_complaint_trend"], trend[:, None]

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        b = TermsBuilder(len(C), bias=-4.2)
        trend = complaint_trend(C, "complaints_90d_prepaid", "complaints_365d_prepaid")
        b.feature(C, "closure_signal", 2.2, how="flag")
        b.add("prepaid_complaint_trend", np.maximum(trend, 0.0), 0.8, trend)
        b.feature(C, "complaints_90d_prepaid", 0.8)
        leaving = np.maximum(C.flag("closure_signal"), C.flag("address_unreachable"))
        b.add("cards_before_closure", leaving * _log1p(C.count("prepaid_cards_90d")), 0.4,
              C.num("prepaid_cards_90d"))
        b.feature(C, "address_unreachable", 1.0, how="flag")
        b.feature(C, "court_enforcement", 0.8, how="flag")
        b.feature(C, "tax_arrears", 0.5, how="flag")
        return b.build()


for _cls in (FoodSafety, DrugDeviceRetail, OnlineTrade, TrademarkIP, PrepaidConsumer):
    register(_cls)
