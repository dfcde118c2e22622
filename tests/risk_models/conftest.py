"""Fixtures of the warning-model tests: a small synthetic province and hand-made entities."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from risk_models.bench import synthetic_columns
from risk_models.features import FEATURES

#: Columns of a compliant entity with no records in any special domain.
CLEAN: dict[str, Any] = {
    "age_years": 6.0, "is_individual": 0.0, "capital_log": 13.0,
    "annual_report_missing": 0.0, "annual_report_late_3y": 0.0, "on_abnormal_list": 0.0,
    "address_unreachable": 0.0, "closure_signal": 0.0,
    "penalties_3y": 0.0, "penalty_amount_log": 0.0, "on_serious_violation_list": 0.0,
    "inspections_3y": 1.0, "inspection_problems_3y": 0.0, "problem_rate_shrunk": 0.08,
    "last_inspection_problem": 0.0, "days_since_inspection": 400.0, "warnings_confirmed_2y": 0.0,
    "complaints_90d": 0.0, "complaints_365d": 0.0, "complaints_prior_360d": 0.0,
    "court_enforcement": 0.0, "tax_arrears": 0.0,
    "licence_required": 1.0, "licence_valid": 1.0, "licence_expired_days": 0.0,
    "activity_signals_90d": 3.0,
    "equipment_count": 0.0, "equipment_overdue": 0.0, "equipment_max_age_years": np.nan,
    "equipment_incidents_3y": 0.0,
    "price_reports_90d": 0.0, "price_deviation_max": np.nan, "price_deviation_mean": np.nan,
    "emergency_price_reports": 0.0,
    "ad_count_90d": 0.0, "ad_text": "",
    "online_orders_90d": 0.0, "online_refund_rate": np.nan, "online_complaint_rate": np.nan,
    "licence_displayed": np.nan,
    "prepaid_balance_log": 0.0, "prepaid_cards_90d": 0.0,
    "instrument_count": 0.0, "instrument_overdue": 0.0,
    "ccc_products": 0.0, "cert_expired_selling": 0.0, "cert_suspended": 0.0,
    "peer_group_id": 0.0,
}
_ids = itertools.count(10**9)


@pytest.fixture(scope="session")
def province() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A synthetic province of 3,000 entities (columns, business types)."""
    return synthetic_columns(3000, rng=7)


@pytest.fixture(scope="session")
def entity() -> Callable[..., dict[str, Any]]:
    """Build a hand-made entity: the clean one with ``changes`` (unique ids)."""

    def make(**changes: Any) -> dict[str, Any]:
        row = {f.name: CLEAN.get(f.name, 0.0) for f in FEATURES}
        for key in ("address_id", "phone_id", "legal_rep_id"):
            row[key] = float(next(_ids))
        unknown = set(changes) - set(row)
        if unknown:
            raise KeyError(f"not catalogue features: {unknown}")
        row.update(changes)
        return row

    return make


@pytest.fixture(scope="session")
def with_rows(province: tuple[dict[str, np.ndarray], np.ndarray]
              ) -> Callable[..., dict[str, np.ndarray]]:
    """Return the province's columns with hand-made rows appended at the end."""
    cols, _ = province

    def build(*rows: dict[str, Any]) -> dict[str, np.ndarray]:
        out = {}
        for f in FEATURES:
            extra = np.array([r[f.name] for r in rows],
                             dtype=object if f.kind == "text" else np.float64)
            out[f.name] = np.concatenate([cols[f.name], extra])
        return out

    return build
