"""Rules + LightGBM for regulated equipment: special equipment and measuring instruments.

The law is the rule: special equipment past its periodic inspection may not be used
(特种设备安全法 第四十条), nor instruments under compulsory verification past it
(计量法 第九条). The rule carries most of the prior; age, incidents and complaints
add to it, and LightGBM learns the rest once outcomes are recorded.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from risk_models.models._framework import Columns, LGBMDomainModel, Terms, TermsBuilder
from risk_models.registry import register

__all__ = ["Metrology", "SpecialEquipment"]


def overdue_share(C: Columns, overdue: str, count: str) -> np.ndarray:
    """Share of units overdue (0 where there are none)."""
    n = C.count(count)
    return np.divide(C.count(overdue), n, out=np.zeros(len(C)), where=n > 0).clip(0.0, 1.0)


class SpecialEquipment(LGBMDomainModel):
    """Elevators, boilers, pressure vessels: overdue inspection, age, incidents."""

    name = "special_equipment"
    description = "特种设备安全风险预警"
    domain = "special_equipment"
    kind = "rules+lightgbm"
    features = (
        "age_years",
        "penalties_3y",
        "inspection_problems_3y",
        "problem_rate_shrunk",
        "last_inspection_problem",
        "equipment_count",
        "equipment_overdue",
        "equipment_max_age_years",
        "equipment_incidents_3y",
        "complaints_90d_equipment",
        "complaints_365d_equipment",
    )
    business_types = None
    legal_basis = (("特种设备安全法", 40), ("特种设备安全法", 48))
    rule_articles: ClassVar[dict[str, tuple[str, int]]] = {
        "equipment_overdue_rule": ("特种设备安全法", 40),
        "equipment_overdue_share": ("特种设备安全法", 40),
        "equipment_aged": ("特种设备安全法", 48),
    }
    reason_labels: ClassVar[dict[str, str]] = {
        "equipment_overdue_rule": "特种设备超期未定期检验仍在使用",
        "equipment_overdue_share": "超期未检特种设备占比",
        "equipment_aged": "特种设备使用年限超过15年",
    }
    derived_monotone: ClassVar[dict[str, int]] = {"equipment_overdue_share": 1}
    default_volume = (0.01, 0.0035, 0.001)

    def _applicable_cols(self, C: Columns) -> np.ndarray:
        return C.count("equipment_count") > 0

    def _derived(self, C: Columns, ctx: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
        return ["equipment_overdue_share"], overdue_share(
            C, "equipment_overdue", "equipment_count")[:, None]

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        b = TermsBuilder(len(C), bias=-4.2)
        overdue = C.count("equipment_overdue")
        b.add("equipment_overdue_rule", (overdue > 0).astype(float), 3.4,
              C.num("equipment_overdue"))
        b.add("equipment_overdue_share",
              overdue_share(C, "equipment_overdue", "equipment_count"), 1.0)
        age = C.count("equipment_max_age_years")
        b.add("equipment_aged", np.clip((age - 15.0) / 10.0, 0.0, 2.0), 0.8,
              C.num("equipment_max_age_years"))
        b.feature(C, "equipment_incidents_3y", 0.9)
        b.feature(C, "complaints_90d_equipment", 0.7)
        b.feature(C, "last_inspection_problem", 0.8, how="flag")
        b.feature(C, "problem_rate_shrunk", 2.0, how="rate", cap=1.0)
        return b.build()


class Metrology(LGBMDomainModel):
    """Scales and fuel dispensers: verification overdue, metrology complaints."""

    name = "metrology"
    description = "计量器具风险预警"
    domain = "metrology"
    kind = "rules+lightgbm"
    features = (
        "penalties_3y",
        "inspection_problems_3y",
        "problem_rate_shrunk",
        "last_inspection_problem",
        "instrument_count",
        "instrument_overdue",
        "complaints_90d_metrology",
        "complaints_365d_metrology",
    )
    business_types = None
    legal_basis = (("计量法", 9), ("计量法实施细则", 11))
    rule_articles: ClassVar[dict[str, tuple[str, int]]] = {
        "instrument_overdue_rule": ("计量法", 9),
        "instrument_overdue_share": ("计量法实施细则", 11),
    }
    reason_labels: ClassVar[dict[str, str]] = {
        "instrument_overdue_rule": "强制检定计量器具超期未检定仍在使用",
        "instrument_overdue_share": "超期未检定计量器具占比",
    }
    derived_monotone: ClassVar[dict[str, int]] = {"instrument_overdue_share": 1}
    default_volume = (0.006, 0.002, 0.0006)

    def _applicable_cols(self, C: Columns) -> np.ndarray:
        return C.count("instrument_count") > 0

    def _derived(self, C: Columns, ctx: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
        return ["instrument_overdue_share"], overdue_share(
            C, "instrument_overdue", "instrument_count")[:, None]

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        b = TermsBuilder(len(C), bias=-4.0)
        overdue = C.count("instrument_overdue")
        b.add("instrument_overdue_rule", (overdue > 0).astype(float), 2.8,
              C.num("instrument_overdue"))
        b.add("instrument_overdue_share",
              overdue_share(C, "instrument_overdue", "instrument_count"), 1.0)
        b.feature(C, "complaints_90d_metrology", 0.9)
        b.feature(C, "complaints_365d_metrology", 0.3)
        b.feature(C, "last_inspection_problem", 0.8, how="flag")
        b.feature(C, "problem_rate_shrunk", 2.0, how="rate", cap=1.0)
        return b.build()


register(SpecialEquipment)
register(Metrology)
