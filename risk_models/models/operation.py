"""Rule models where the law is the rule: abnormal operation, unlicensed operation,
compulsory certification.

Each prior is a hand-set logistic score over rule indicators; with outcomes the
weights are re-estimated by logistic regression around the hand-set values (or the
prior is only recalibrated, whichever predicts better out of fold). Explanations
name the rule that fired and the article it applies.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from risk_models.models._framework import Columns, DomainModel, Terms, TermsBuilder, _log1p
from risk_models.registry import register

__all__ = ["AbnormalOperation", "Certification", "UnlicensedOperation"]


class AbnormalOperation(DomainModel):
    """Annual reports, unreachable address, closure signs: rules + logistic."""

    name = "abnormal_operation"
    description = "经营异常风险预警"
    domain = "abnormal_operation"
    kind = "rules+logistic"
    features = (
        "age_years",
        "annual_report_missing",
        "annual_report_late_3y",
        "on_abnormal_list",
        "address_unreachable",
        "closure_signal",
        "court_enforcement",
        "tax_arrears",
        "activity_signals_90d",
        "penalties_3y",
        "last_inspection_problem",
    )
    business_types = None
    legal_basis = (
        ("企业信息公示暂行条例", 8),
        ("企业信息公示暂行条例", 17),
        ("市场主体登记管理条例", 24),
    )
    rule_articles: ClassVar[dict[str, tuple[str, int]]] = {
        "annual_report_missing_rule": ("企业信息公示暂行条例", 8),
        "address_unreachable_rule": ("市场主体登记管理条例", 24),
        "missing_report_and_unreachable": ("企业信息公示暂行条例", 17),
        "on_abnormal_list": ("企业信息公示暂行条例", 17),
    }
    reason_labels: ClassVar[dict[str, str]] = {
        "annual_report_missing_rule": "未按期报送公示上一年度年度报告",
        "address_unreachable_rule": "通过登记的住所或经营场所无法联系",
        "missing_report_and_unreachable": "未报年报且登记住所无法联系",
        "no_recent_activity": "近90天无经营活动信号",
    }
    default_volume = (0.003, 0.001, 0.0003)

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        missing, unreachable = C.flag("annual_report_missing"), C.flag("address_unreachable")
        b = TermsBuilder(len(C), bias=-4.6)
        b.add("annual_report_missing_rule", missing, 1.6, C.num("annual_report_missing"))
        b.add("address_unreachable_rule", unreachable, 2.0, C.num("address_unreachable"))
        b.add("missing_report_and_unreachable", missing * unreachable, 1.0)
        b.feature(C, "on_abnormal_list", 0.8, how="flag")
        b.feature(C, "closure_signal", 1.2, how="flag")
        b.feature(C, "annual_report_late_3y", 0.3, how="count", cap=3)
        b.feature(C, "court_enforcement", 0.4, how="flag")
        b.feature(C, "tax_arrears", 0.4, how="flag")
        b.add("no_recent_activity", C.is_zero("activity_signals_90d"), 0.3,
              C.num("activity_signals_90d"))
        b.feature(C, "last_inspection_problem", 0.6, how="flag")
        return b.build()


def activity(C: Columns) -> np.ndarray:
    """Recorded signs of trading in the last 90 days (activity, complaints, orders, ads)."""
    return (C.count("activity_signals_90d") + C.count("complaints_90d")
            + C.count("online_orders_90d") + C.count("ad_count_90d"))


class UnlicensedOperation(DomainModel):
    """Operating without a valid licence: activity signals vs licence state."""

    name = "unlicensed_operation"
    description = "无证无照经营风险预警"
    domain = "unlicensed_operation"
    kind = "rules"
    features = (
        "licence_required",
        "licence_valid",
        "licence_expired_days",
        "activity_signals_90d",
        "complaints_90d",
        "online_orders_90d",
        "ad_count_90d",
        "closure_signal",
        "penalties_3y",
    )
    business_types = None
    legal_basis = (("无证无照经营查处办法", 2), ("无证无照经营查处办法", 5))
    rule_articles: ClassVar[dict[str, tuple[str, int]]] = {
        "operating_without_licence": ("无证无照经营查处办法", 2),
        "licence_expired": ("无证无照经营查处办法", 2),
    }
    reason_labels: ClassVar[dict[str, str]] = {
        "operating_without_licence": "无有效许可证但近90天有经营活动",
        "licence_expired": "许可证已过期",
        "activity_without_licence": "无证期间的经营活动量",
    }
    default_volume = (0.003, 0.001, 0.0003)

    def _applicable_cols(self, C: Columns) -> np.ndarray:
        return C.num("licence_required") == 1

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        invalid = C.is_zero("licence_valid")
        act = activity(C)
        b = TermsBuilder(len(C), bias=-4.5)
        b.add("operating_without_licence", invalid * (act > 0), 3.6, C.num("licence_valid"))
        days = C.count("licence_expired_days")
        b.add("licence_expired", (days > 0) * (0.5 + _log1p(days / 30.0)), 0.4,
              C.num("licence_expired_days"))
        b.add("activity_without_licence", invalid * _log1p(act), 0.4, act)
        b.feature(C, "closure_signal", -1.0, how="flag")
        b.feature(C, "penalties_3y", 0.3)
        return b.build()


class Certification(DomainModel):
    """Compulsory product certification (CCC): certificate expired or suspended while selling."""

    name = "certification"
    description = "强制性产品认证风险预警"
    domain = "certification"
    kind = "rules"
    features = (
        "ccc_products",
        "cert_expired_selling",
        "cert_suspended",
        "tests_3y_product",
        "tests_failed_3y_product",
        "complaints_90d_quality",
        "penalties_3y",
        "last_inspection_problem",
    )
    business_types = None
    legal_basis = (("认证认可条例", 27), ("认证认可条例", 28))
    rule_articles: ClassVar[dict[str, tuple[str, int]]] = {
        "cert_expired_selling_rule": ("认证认可条例", 27),
        "cert_expired_share": ("认证认可条例", 27),
        "cert_suspended_rule": ("认证认可条例", 28),
    }
    reason_labels: ClassVar[dict[str, str]] = {
        "cert_expired_selling_rule": "强制性认证证书过期或撤销后仍在销售",
        "cert_expired_share": "证书失效仍销售的产品占强制性认证产品的比例",
        "cert_suspended_rule": "强制性认证证书被暂停",
    }
    default_volume = (0.012, 0.004, 0.0012)

    def _applicable_cols(self, C: Columns) -> np.ndarray:
        return C.count("ccc_products") > 0

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        expired, products = C.count("cert_expired_selling"), C.count("ccc_products")
        share = np.divide(expired, products, out=np.zeros(len(C)), where=products > 0)
        b = TermsBuilder(len(C), bias=-4.6)
        b.add("cert_expired_selling_rule", (expired > 0).astype(float), 3.8,
              C.num("cert_expired_selling"))
        b.add("cert_expired_share", np.clip(share, 0.0, 1.0), 0.8)
        b.add("cert_suspended_rule", (C.count("cert_suspended") > 0).astype(float), 2.4,
              C.num("cert_suspended"))
        b.feature(C, "tests_failed_3y_product", 0.5, how="count", cap=3)
        b.feature(C, "complaints_90d_quality", 0.5)
        b.feature(C, "penalties_3y", 0.3)
        b.feature(C, "last_inspection_problem", 0.6, how="flag")
        return b.build()


for _cls in (AbnormalOperation, UnlicensedOperation, Certification):
    register(_cls)
