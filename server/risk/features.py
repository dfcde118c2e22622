"""Building the feature catalogue (:mod:`risk_models.features`) for every entity, in bulk.

Each feed table is read once with a SQLAlchemy Core ``select`` of the columns needed
(no ORM objects), turned into numpy arrays, and aggregated per entity with
``np.bincount`` / pandas ``groupby`` — no Python loop over entities. Only records
observed strictly before ``as_of`` are used: a snapshot taken on a date is what the
system could have known that morning.

Snapshots are kept (``feature_snapshots`` + one compressed ``.npz`` per date under the
model directory) so that training joins each recorded inspection result to the features
computed before it.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import JSON, Boolean, Date, Float, Integer, Numeric, Select, Table, select
from sqlalchemy.orm import Session

from risk_models.features import COMPLAINT_CATEGORIES, FEATURE_INDEX, FEATURES, TEST_KINDS
from server import adbc_process, sqlite_gate
from server.entities.models import Entity, Licence
from server.feeds.models import (
    ActivitySignal,
    AdRecord,
    AnnualReport,
    Certificate,
    Complaint,
    EntityFlag,
    Equipment,
    Instrument,
    ListEntry,
    OnlineMetric,
    Penalty,
    PrepaidRecord,
    PriceReport,
    SamplingTest,
)
from server.inspections.models import InspectionResult
from server.reference.models import BusinessType
from server.risk.models import FeatureSnapshot
from server.warnings.models import Warning

#: Prior weight (pseudo-inspections) of the shrunk historical problem rate.
SHRINKAGE = 3.0
NUMERIC = [f.name for f in FEATURES if f.kind != "text"]
TEXT = [f.name for f in FEATURES if f.kind == "text"]


def locate(sorted_ids: np.ndarray, ids: Any) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``ids`` in the ascending array ``sorted_ids`` and the mask of those found.

    Positions of ids not found are clipped into range (use the mask before trusting them).
    """
    e = np.asarray(ids, dtype=np.int64)
    n = len(sorted_ids)
    if n == 0:
        return np.zeros(len(e), dtype=np.int64), np.zeros(len(e), dtype=bool)
    pos = np.clip(np.searchsorted(sorted_ids, e), 0, n - 1)
    return pos, sorted_ids[pos] == e


def snapshot_before(session: Session, dates: Any, *, until: dt.date) -> tuple[list[dt.date], np.ndarray]:
    """Snapshot dates before ``until`` and, for each of ``dates``, the index of the latest one
    taken strictly before it (-1 if none): the features the system had before that day.
    """
    snapshots = list(session.scalars(select(FeatureSnapshot.as_of).where(FeatureSnapshot.as_of < until)
                                     .order_by(FeatureSnapshot.as_of)))
    days = np.asarray(dates, dtype="datetime64[D]")
    if not snapshots:
        return snapshots, np.full(len(days), -1, dtype=np.int64)
    which = np.searchsorted(np.array(snapshots, dtype="datetime64[D]"), days, side="left") - 1
    return snapshots, which


@dataclass
class FeatureFrame:
    """Features of ``entity_ids`` (sorted) as of a date: numeric matrix + text columns."""

    entity_ids: np.ndarray
    numeric: np.ndarray  # (n, len(NUMERIC)) float64
    text: dict[str, np.ndarray] = field(default_factory=dict)
    as_of: dt.date = dt.date.today()

    def column(self, name: str) -> np.ndarray:
        if name in self.text:
            return self.text[name]
        return self.numeric[:, NUMERIC.index(name)]

    def matrix(self, names: list[str]) -> np.ndarray:
        """Columns ``names`` in order; float64 unless a text column is asked for (then object)."""
        if not any(n in self.text for n in names):
            return self.numeric[:, [NUMERIC.index(n) for n in names]]
        out = np.empty((len(self.entity_ids), len(names)), dtype=object)
        for j, name in enumerate(names):
            out[:, j] = self.column(name)
        return out

    @property
    def columns(self) -> list[str]:
        return [f.name for f in FEATURES]


class _Builder:
    def __init__(self, session: Session, as_of: dt.date) -> None:
        self.session = session
        self.as_of = as_of
        self.day = np.datetime64(as_of, "D")
        self.ent = read_frame(session, (
            select(Entity.id, Entity.region_code, Entity.business_type, Entity.entity_type, Entity.registered_on,
                   Entity.registered_capital, Entity.address, Entity.phone, Entity.legal_representative)
            .where(Entity.registered_on < as_of)
            .order_by(Entity.id)
        ), ["id", "region", "btype", "etype", "registered_on", "capital", "address", "phone", "legal_rep"])
        self.ids = self.ent["id"].to_numpy(dtype=np.int64)
        self.n = len(self.ids)
        self.out: dict[str, np.ndarray] = {}
        self._pos_key: tuple[Any, ...] | None = None
        self._pos_ref: np.ndarray | None = None
        self._pos_value: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0, bool))
        self._reads: Prefetch

    # -- helpers -----------------------------------------------------------------------
    def days_before(self, dates: Any) -> np.ndarray:
        """Days between each date and ``as_of`` (positive = in the past)."""
        d = pd.to_datetime(pd.Series(dates), errors="coerce").to_numpy(dtype="datetime64[D]")
        return (self.day - d).astype("timedelta64[D]").astype(np.float64)

    def pos(self, entity_ids: Any) -> tuple[np.ndarray, np.ndarray]:
        """Row positions of ``entity_ids`` and the mask of those that are in the frame.

        A record table's id column is counted many times (43 complaint features): its
        positions are found once, remembered for the column last asked about. The column
        is recognised by its buffer, not the ``Series`` object (pandas 3 builds a new
        ``Series`` on every ``frame[name]``); the array kept with the positions keeps
        that buffer alive, so its address cannot be reused by another column meanwhile.
        """
        values = np.asarray(entity_ids)
        key = (values.__array_interface__["data"][0], values.shape, values.strides, values.dtype.str)
        if self._pos_key == key:
            return self._pos_value
        value = locate(self.ids, values)
        self._pos_key, self._pos_ref, self._pos_value = key, values, value
        return value

    def count(self, entity_ids: Any, mask: np.ndarray | None = None, weights: Any = None) -> np.ndarray:
        p, ok = self.pos(entity_ids)
        keep = ok if mask is None else ok & mask
        w = None if weights is None else np.asarray(weights, dtype=np.float64)[keep]
        return np.bincount(p[keep], weights=w, minlength=self.n).astype(np.float64)

    def maximum(self, entity_ids: Any, values: Any, mask: np.ndarray | None = None, fill: float = np.nan) -> np.ndarray:
        p, ok = self.pos(entity_ids)
        keep = ok if mask is None else ok & mask
        out = np.full(self.n, -np.inf)
        np.maximum.at(out, p[keep], np.asarray(values, dtype=np.float64)[keep])
        out[np.isneginf(out)] = fill
        return out

    def window(self, column: Any, days: int) -> Any:
        """Records of ``column``'s date in the ``days`` days before ``as_of``: what a feature
        counted over that window can use. A province's feeds keep years of records; a 90-day
        feature reads 90 days of them, filtered by the database, not by the builder.
        """
        return (column < self.as_of) & (column >= self.as_of - dt.timedelta(days=days))

    def select(self, *cols: Any, where: Any = None) -> tuple[Select[Any], list[str]]:
        q = select(*cols)
        if where is not None:
            q = q.where(where)
        return q, [c.key for c in cols]

    def prefetch(self) -> Prefetch:
        """Start every planned read (SQLite file: in the ADBC helper process, which then
        reads the next tables while this process aggregates the ones already read).
        """
        self._reads = read_frames(self.session, self.plan())
        return self._reads

    def read(self, name: str) -> pd.DataFrame:
        """The planned table ``name`` (:meth:`prefetch` first)."""
        return self._reads[name]

    def set(self, name: str, values: np.ndarray) -> None:
        self.out[name] = np.asarray(values, dtype=np.float64)

    def plan(self) -> dict[str, tuple[Select[Any], list[str]]]:
        """Every record table the feature groups read, in the order they read them: declared
        up front so that the reads can run ahead of the aggregation (:meth:`prefetch`).
        Windows are counted back from ``as_of`` as the groups count them.
        """
        return {
            "annual_reports": self.select(
                AnnualReport.entity_id, AnnualReport.year, AnnualReport.due_on, AnnualReport.submitted_on,
                where=self.window(AnnualReport.due_on, 3 * 365)),
            "list_entries": self.select(
                ListEntry.entity_id, ListEntry.list_kind, ListEntry.listed_on, ListEntry.removed_on,
                where=ListEntry.listed_on < self.as_of),
            "entity_flags": self.select(
                EntityFlag.entity_id, EntityFlag.kind, EntityFlag.flagged_on, EntityFlag.cleared_on,
                where=EntityFlag.flagged_on < self.as_of),
            "penalties": self.select(
                Penalty.entity_id, Penalty.decided_on, Penalty.amount,
                where=self.window(Penalty.decided_on, 3 * 365)),
            "inspection_results": self.select(
                InspectionResult.entity_id, InspectionResult.inspected_on, InspectionResult.problem_found, InspectionResult.id,
                where=InspectionResult.inspected_on < self.as_of),
            "warnings": self.select(
                Warning.entity_id, Warning.handled_on,
                where=(Warning.outcome == "problem_confirmed") & self.window(Warning.handled_on, 730)),
            "complaints": self.select(
                Complaint.entity_id, Complaint.received_on, Complaint.category,
                where=self.window(Complaint.received_on, 450)),
            "licences": self.select(
                Licence.entity_id, Licence.kind, Licence.valid_from, Licence.valid_to, Licence.status,
                where=Licence.valid_from < self.as_of),
            "activity_signals": self.select(
                ActivitySignal.entity_id, ActivitySignal.observed_on,
                where=self.window(ActivitySignal.observed_on, 90)),
            "equipment": self.select(
                Equipment.entity_id, Equipment.installed_on, Equipment.next_inspection_due, Equipment.incidents_3y,
                where=Equipment.installed_on < self.as_of),
            "instruments": self.select(Instrument.entity_id, Instrument.calibration_due),
            "price_reports": self.select(
                PriceReport.entity_id, PriceReport.reported_on, PriceReport.item, PriceReport.price, PriceReport.emergency,
                where=self.window(PriceReport.reported_on, 90)),
            "online_metrics": self.select(
                OnlineMetric.entity_id, OnlineMetric.period_start, OnlineMetric.orders, OnlineMetric.refunds, OnlineMetric.complaints, OnlineMetric.licence_displayed,
                where=self.window(OnlineMetric.period_start, 90)),
            "prepaid_records": self.select(
                PrepaidRecord.entity_id, PrepaidRecord.period_start, PrepaidRecord.cards_sold, PrepaidRecord.balance_outstanding,
                where=PrepaidRecord.period_start < self.as_of),
            "certificates": self.select(
                Certificate.entity_id, Certificate.valid_to, Certificate.status, Certificate.selling),
            "sampling_tests": self.select(
                SamplingTest.entity_id, SamplingTest.tested_on, SamplingTest.kind, SamplingTest.passed,
                where=self.window(SamplingTest.tested_on, 3 * 365)),
            "ad_records": self.select(
                AdRecord.entity_id, AdRecord.captured_on, AdRecord.text,
                where=self.window(AdRecord.captured_on, 90)),
        }

    # -- feature groups --------------------------------------------------------------------
    def basic(self) -> None:
        e = self.ent
        self.set("age_years", self.days_before(e["registered_on"]) / 365.25)
        self.set("is_individual", (e["etype"] == "individual").to_numpy(dtype=np.float64))
        capital = pd.to_numeric(e["capital"], errors="coerce").to_numpy(dtype=np.float64)
        self.set("capital_log", np.log1p(np.clip(capital, 0, None)))
        for name, col in (("address_id", "address"), ("phone_id", "phone"), ("legal_rep_id", "legal_rep")):
            norm = e[col].fillna("").astype(str).str.replace(r"\s+", "", regex=True)
            codes, _ = pd.factorize(norm.where(norm != "", None), use_na_sentinel=True)
            self.set(name, codes.astype(np.float64))
        peer = e["btype"].fillna("").astype(str) + "|" + e["region"].fillna("").astype(str)
        self.set("peer_group_id", pd.factorize(peer)[0].astype(np.float64))

    def operation(self) -> None:
        ar = self.read("annual_reports")
        due_ago = self.days_before(ar["due_on"])
        sub_ago = self.days_before(ar["submitted_on"])  # NaN if not submitted
        late = np.isnan(sub_ago) | (sub_ago < due_ago)  # submitted after due (or not at all, or not yet)
        not_yet = np.isnan(sub_ago) | (sub_ago <= 0)
        # the latest report already due: year Y is due on 30 June of Y+1
        due_year = self.as_of.year - 1 if self.as_of > dt.date(self.as_of.year, 6, 30) else self.as_of.year - 2
        last_year = ar["year"].to_numpy() == due_year if len(ar) else np.zeros(0, dtype=bool)
        self.set("annual_report_missing", np.minimum(1, self.count(ar["entity_id"], last_year & not_yet)))
        self.set("annual_report_late_3y", self.count(ar["entity_id"], late & (due_ago <= 3 * 365)))
        self.lists = self.read("list_entries")
        active = (np.isnan(self.days_before(self.lists["removed_on"]))
                  | (self.days_before(self.lists["removed_on"]) <= 0)) if len(self.lists) else np.zeros(0, dtype=bool)
        kind = self.lists["list_kind"].to_numpy()
        self.set("on_abnormal_list", np.minimum(1, self.count(self.lists["entity_id"], active & (kind == "abnormal_operation"))))
        self.set("on_serious_violation_list",
                 np.minimum(1, self.count(self.lists["entity_id"], active & (kind == "serious_violation"))))
        flags = self.read("entity_flags")
        cleared = self.days_before(flags["cleared_on"])
        f_active = np.isnan(cleared) | (cleared <= 0)
        fk = flags["kind"].to_numpy()
        for name, k in (("address_unreachable", "unreachable"), ("closure_signal", "closure"),
                        ("court_enforcement", "court_enforcement"), ("tax_arrears", "tax_arrears")):
            self.set(name, np.minimum(1, self.count(flags["entity_id"], f_active & (fk == k))))

    def compliance(self) -> None:
        pen = self.read("penalties")
        recent = self.days_before(pen["decided_on"]) <= 3 * 365
        self.set("penalties_3y", self.count(pen["entity_id"], recent))
        self.set("penalty_amount_log", np.log1p(self.count(pen["entity_id"], recent, pen["amount"])))

    def supervision(self) -> None:
        res = self.read("inspection_results")
        ago = self.days_before(res["inspected_on"])
        problem = res["problem_found"].to_numpy(dtype=bool) if len(res) else np.zeros(0, dtype=bool)
        recent = ago <= 3 * 365
        n3 = self.count(res["entity_id"], recent)
        k3 = self.count(res["entity_id"], recent & problem)
        self.set("inspections_3y", n3)
        self.set("inspection_problems_3y", k3)
        prior = float(problem.mean()) if len(problem) else 0.1
        self.set("problem_rate_shrunk", (k3 + SHRINKAGE * prior) / (n3 + SHRINKAGE))
        self.set("days_since_inspection", -self.maximum(res["entity_id"], -ago))
        if len(res):
            last = res.assign(ago=ago, problem=problem).sort_values(["entity_id", "ago", "id"],
                                                                    ascending=[True, True, False])
            last = last.drop_duplicates("entity_id")
            p, ok = self.pos(last["entity_id"])
            col = np.full(self.n, np.nan)
            col[p[ok]] = last["problem"].to_numpy(dtype=np.float64)[ok]
        else:
            col = np.full(self.n, np.nan)
        self.set("last_inspection_problem", col)
        w = self.read("warnings")
        self.set("warnings_confirmed_2y", self.count(w["entity_id"], self.days_before(w["handled_on"]) <= 730))

    def social(self) -> None:
        c = self.read("complaints")
        ago = self.days_before(c["received_on"])
        cat = c["category"].to_numpy()
        self.set("complaints_90d", self.count(c["entity_id"], ago <= 90))
        self.set("complaints_365d", self.count(c["entity_id"], ago <= 365))
        self.set("complaints_prior_360d", self.count(c["entity_id"], (ago > 90) & (ago <= 450)))
        for key in COMPLAINT_CATEGORIES:
            self.set(f"complaints_90d_{key}", self.count(c["entity_id"], (ago <= 90) & (cat == key)))
            self.set(f"complaints_365d_{key}", self.count(c["entity_id"], (ago <= 365) & (cat == key)))

    def licences(self) -> None:
        required = dict(self.session.execute(select(BusinessType.code, BusinessType.required_licence)).all())
        need = self.ent["btype"].map(lambda b: required.get(b) or "").to_numpy(dtype=object)
        self.set("licence_required", (need != "").astype(np.float64))
        lic = self.read("licences")
        p, ok = self.pos(lic["entity_id"])
        matches = ok.copy()
        if len(lic):
            matches &= lic["kind"].to_numpy(dtype=object) == need[p]
        to_ago = self.days_before(lic["valid_to"])  # NaN = no expiry
        valid = matches & (np.isnan(to_ago) | (to_ago <= 0)) & (lic["status"].to_numpy() == "valid")
        has_valid = np.minimum(1, self.count(lic["entity_id"], valid))
        had_any = self.count(lic["entity_id"], matches) > 0
        expired_days = self.maximum(lic["entity_id"], -np.nan_to_num(to_ago, nan=-1e9), matches)
        expired = np.where(has_valid > 0, 0.0, np.where(had_any, np.clip(-expired_days, 0, None), np.nan))
        needs = self.out["licence_required"] > 0
        self.set("licence_valid", np.where(needs, has_valid, 1.0))
        self.set("licence_expired_days", np.where(needs, expired, 0.0))
        sig = self.read("activity_signals")
        self.set("activity_signals_90d", self.count(sig["entity_id"], self.days_before(sig["observed_on"]) <= 90))

    def equipment(self) -> None:
        eq = self.read("equipment")
        self.set("equipment_count", self.count(eq["entity_id"]))
        self.set("equipment_overdue", self.count(eq["entity_id"], self.days_before(eq["next_inspection_due"]) > 0))
        self.set("equipment_max_age_years", np.nan_to_num(
            self.maximum(eq["entity_id"], self.days_before(eq["installed_on"]) / 365.25), nan=0.0))
        self.set("equipment_incidents_3y", self.count(eq["entity_id"], None, eq["incidents_3y"]))
        ins = self.read("instruments")
        self.set("instrument_count", self.count(ins["entity_id"]))
        self.set("instrument_overdue", self.count(ins["entity_id"], self.days_before(ins["calibration_due"]) > 0))

    def prices(self) -> None:
        pr = self.read("price_reports")
        ago = self.days_before(pr["reported_on"])
        recent = ago <= 90
        self.set("price_reports_90d", self.count(pr["entity_id"], recent))
        emergency = pr["emergency"].to_numpy(dtype=bool) if len(pr) else np.zeros(0, dtype=bool)
        self.set("emergency_price_reports", self.count(pr["entity_id"], recent & emergency))
        if recent.any():
            r = pr[recent].copy()
            p, ok = self.pos(r["entity_id"])
            r["city"] = np.where(ok, self.ent["region"].to_numpy()[p], "")
            r["city"] = r["city"].astype(str).str[:4]
            median = r.groupby(["item", "city"])["price"].transform("median")
            dev = np.clip(r["price"].to_numpy() / median.to_numpy() - 1.0, 0, None)
            n = self.count(r["entity_id"])
            self.set("price_deviation_max", np.where(n > 0, np.nan_to_num(self.maximum(r["entity_id"], dev)), np.nan))
            self.set("price_deviation_mean", np.where(n > 0, self.count(r["entity_id"], None, dev) / np.maximum(n, 1),
                                                      np.nan))
        else:
            self.set("price_deviation_max", np.full(self.n, np.nan))
            self.set("price_deviation_mean", np.full(self.n, np.nan))

    def adverts(self) -> np.ndarray:
        ads = self.read("ad_records")
        recent = self.days_before(ads["captured_on"]) <= 90
        self.set("ad_count_90d", self.count(ads["entity_id"], recent))
        text = np.full(self.n, "", dtype=object)
        if recent.any():
            # each entity's recent adverts joined in table order (a stable sort by entity, then
            # one join per entity: pandas' groupby-agg of strings costs ~10x more)
            ids = ads["entity_id"].to_numpy(dtype=np.int64)[recent]
            texts = ads["text"].to_numpy(dtype=object)[recent]
            order = np.argsort(ids, kind="stable")
            ids, texts = ids[order], texts[order]
            starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
            joined = np.array(["\n".join(chunk) for chunk in np.split(texts, starts[1:])], dtype=object)
            p, ok = self.pos(ids[starts])
            text[p[ok]] = joined[ok]
        return text

    def online(self) -> None:
        om = self.read("online_metrics")
        recent = self.days_before(om["period_start"]) <= 90
        orders = self.count(om["entity_id"], recent, om["orders"])
        refunds = self.count(om["entity_id"], recent, om["refunds"])
        complaints = self.count(om["entity_id"], recent, om["complaints"])
        has = self.count(om["entity_id"], recent) > 0
        self.set("online_orders_90d", orders)
        self.set("online_refund_rate", np.where(has & (orders > 0), refunds / np.maximum(orders, 1), np.nan))
        self.set("online_complaint_rate", np.where(has & (orders > 0), 1000 * complaints / np.maximum(orders, 1), np.nan))
        displayed = om["licence_displayed"].to_numpy(dtype=np.float64) if len(om) else np.zeros(0)
        # the worst recent observation: not displayed once in the window counts
        self.set("licence_displayed", self._min(om["entity_id"], displayed, recent))
        pp = self.read("prepaid_records")
        pago = self.days_before(pp["period_start"])
        self.set("prepaid_cards_90d", self.count(pp["entity_id"], pago <= 90, pp["cards_sold"]))
        if len(pp):
            latest = pp.assign(ago=pago).sort_values(["entity_id", "ago"]).drop_duplicates("entity_id")
            p, ok = self.pos(latest["entity_id"])
            bal = np.full(self.n, np.nan)
            bal[p[ok]] = np.log1p(np.clip(latest["balance_outstanding"].to_numpy(dtype=np.float64), 0, None))[ok]
        else:
            bal = np.full(self.n, np.nan)
        self.set("prepaid_balance_log", bal)

    def _min(self, entity_ids: Any, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return -self.maximum(entity_ids, -values, mask, fill=np.nan)

    def certificates(self) -> None:
        ce = self.read("certificates")
        status = ce["status"].to_numpy()
        selling = ce["selling"].to_numpy(dtype=bool) if len(ce) else np.zeros(0, dtype=bool)
        lapsed = (self.days_before(ce["valid_to"]) > 0) | (status == "revoked")
        self.set("ccc_products", self.count(ce["entity_id"]))
        self.set("cert_expired_selling", self.count(ce["entity_id"], lapsed & selling))
        self.set("cert_suspended", self.count(ce["entity_id"], status == "suspended"))

    def tests(self) -> None:
        st = self.read("sampling_tests")
        recent = self.days_before(st["tested_on"]) <= 3 * 365
        kind = st["kind"].to_numpy()
        failed = ~st["passed"].to_numpy(dtype=bool) if len(st) else np.zeros(0, dtype=bool)
        for key in TEST_KINDS:
            self.set(f"tests_3y_{key}", self.count(st["entity_id"], recent & (kind == key)))
            self.set(f"tests_failed_3y_{key}", self.count(st["entity_id"], recent & (kind == key) & failed))


def read_frame(session: Session, query: Select[Any], names: list[str]) -> pd.DataFrame:
    """The rows of ``query`` as columns ``names``, read in bulk.

    PostgreSQL streams the result with ``COPY (query) TO STDOUT`` (CSV parsed by pandas);
    other databases hand the driver's tuples straight to pandas. Neither builds a
    SQLAlchemy ``Row`` per record (that, and pandas probing each ``Row``, cost ~80 % of
    the feature build). Values are what the driver returns: dates may be ISO strings
    and booleans 0/1, which the builder only compares, counts or parses as dates.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        buf = io.BytesIO()
        with conn.connection.dbapi_connection.cursor() as cur, \
                cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            for block in copy:
                buf.write(block)
        buf.seek(0)
        types = dict(zip(names, (c.type for c in query.selected_columns), strict=True))
        bools = [n for n, t in types.items() if isinstance(t, Boolean)]
        if not buf.getbuffer().nbytes:
            return pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
        # numbers are parsed by pandas; text and dates stay strings (like SQLite's driver returns them)
        frame = pd.read_csv(buf, names=names, header=None, keep_default_na=False, na_values=[""],
                            dtype={n: str for n, t in types.items() if not isinstance(t, Integer | Float | Numeric)})
        for n in bools:
            frame[n] = frame[n].astype(str) == "t"
        return frame
    if conn.dialect.name == "sqlite":
        frame = _read_sqlite_arrow(conn, query, names)
        if frame is not None:
            return frame
    return _read_tuples(conn, query, names)


def _read_tuples(conn: Any, query: Select[Any], names: list[str]) -> pd.DataFrame:
    result = conn.execute(query)
    try:
        rows = result.cursor.fetchall()
    finally:
        result.close()
    return pd.DataFrame.from_records(rows, columns=names)


def _arrow_database(conn: Any) -> str | None:
    """The SQLite file ADBC can read for ``conn`` — ``None`` if it cannot see what this
    connection sees: an in-memory database, or uncommitted writes on this connection (ADBC
    reads through its own connection, in WAL mode the last committed state).
    """
    database = sqlite_gate.database_file(conn.engine)
    if database is None or conn.connection.dbapi_connection.in_transaction:
        return None
    return os.path.abspath(database)


def _literal_sql(conn: Any, query: Select[Any]) -> str:
    return str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def _read_sqlite_arrow(conn: Any, query: Select[Any], names: list[str]) -> pd.DataFrame | None:
    """The rows of ``query`` read column-wise by the ADBC SQLite driver (Arrow, no Python object
    per value: ~4x faster than the ``sqlite3`` driver's tuples; in its own process, see
    :mod:`server.adbc_process`), or ``None`` when it cannot (:func:`_arrow_database`).
    """
    database = _arrow_database(conn)
    if database is None:
        return None
    return _arrow_frame(_submit_read(database, _literal_sql(conn, query)), names)


def _submit_read(database: str, sql: str) -> Any:
    """The helper's read of ``sql``, started; ``None`` if the helper cannot be started (e.g. a
    script without the ``if __name__ == "__main__":`` guard that ``spawn`` needs).
    """
    try:
        return adbc_process.submit_read(database, sql)
    except Exception:  # noqa: BLE001 - the driver's tuples still answer
        return None


def _arrow_frame(future: Any, names: list[str]) -> pd.DataFrame | None:
    if future is None:
        return None
    try:
        frame = adbc_process.unspool(future.result()).to_pandas()
    except Exception:  # noqa: BLE001 - e.g. a column whose stored types vary: read it the usual way
        return None
    frame.columns = names
    return frame


class Prefetch:
    """Reads started together, taken by name in any order (:func:`read_frames`)."""

    def __init__(self, session: Session, queries: Mapping[str, tuple[Select[Any], list[str]]]) -> None:
        self._session = session
        self._conn = session.connection()
        self._queries = queries
        database = _arrow_database(self._conn)
        self._futures: dict[str, Any] = {} if database is None else {
            name: _submit_read(database, _literal_sql(self._conn, q)) for name, (q, _) in queries.items()}

    def __getitem__(self, name: str) -> pd.DataFrame:
        query, names = self._queries[name]
        if name not in self._futures:
            return read_frame(self._session, query, names)
        frame = _arrow_frame(self._futures.pop(name), names)
        return _read_tuples(self._conn, query, names) if frame is None else frame

    def close(self) -> None:
        """Drop the reads not taken (a step failed): their spooled tables are deleted."""
        while self._futures:
            future = self._futures.popitem()[1]
            try:
                if future is not None:
                    adbc_process.unspool(future.result())
            except Exception:  # noqa: BLE001,S110 - nothing to clean up after a failed read
                pass


def read_frames(session: Session, queries: Mapping[str, tuple[Select[Any], list[str]]]) -> Prefetch:
    """Start reading every ``name: (query, names)`` at once; ``prefetch[name]`` is
    :func:`read_frame`'s answer. On a SQLite file the ADBC helper process reads them in
    order while this process works on those already read (two cores busy instead of one);
    elsewhere each is read when taken. Call ``close()`` when done.
    """
    return Prefetch(session, queries)


def _json_text(value: Any) -> str:
    """JSON text of a value (orjson: ~10x faster than ``json.dumps`` on a million reason lists;
    UTF-8 rather than ``\\u`` escapes, NaN as null).
    """
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value  # None and ISO strings pass


def column_values(value: Any, column_type: Any, dialect: str) -> tuple[Any, bool]:
    """A bulk column's values as the driver stores them, and whether it is one scalar for all
    rows: arrays become Python values (NaN is NULL), JSON its text and, on SQLite, dates
    ISO strings, as SQLAlchemy would write them.
    """
    if isinstance(value, np.ndarray):  # the driver binds Python values; NaN is NULL
        value = (np.where(np.isnan(value), None, value) if value.dtype.kind == "f" else value).tolist()
    scalar = isinstance(value, str | int | float | dt.date) or value is None
    if isinstance(column_type, JSON):
        value = _json_text(value) if scalar else [None if v is None else _json_text(v) for v in value]
    elif isinstance(column_type, Date) and dialect == "sqlite":
        value = _iso(value) if scalar else [_iso(v) for v in value]
    return value, scalar


def bulk_insert(session: Session, table: Table, columns: Mapping[str, Any], n: int) -> None:
    """Insert ``n`` rows given column by column (a sequence or array of ``n`` values — NaN is
    NULL — or one scalar for all).

    PostgreSQL receives the rows with ``COPY … FROM STDIN``; SQLite gets one driver
    ``executemany`` of tuples; other databases fall back to a SQLAlchemy ``insert``.
    JSON values are serialised and, on SQLite, dates written as ISO strings once per
    column, as SQLAlchemy would. Runs in the session's transaction; the caller commits.
    """
    if n == 0:
        return
    conn = session.connection()
    dialect = conn.dialect.name
    names = list(columns)
    cols: list[Any] = []
    for name in names:
        value, scalar = column_values(columns[name], table.c[name].type, dialect)
        cols.append(itertools.repeat(value, n) if scalar else value)
    rows = zip(*cols, strict=False)
    if dialect == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()
        with cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    elif dialect == "sqlite":
        marks = ", ".join("?" * len(names))
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"
        sqlite_gate.enter(conn)  # a raw cursor: SQLAlchemy's hooks do not see it
        conn.connection.dbapi_connection.cursor().executemany(sql, rows)
    else:  # pragma: no cover - other databases: the portable path
        session.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in rows])


def build_features(session: Session, as_of: dt.date) -> FeatureFrame:
    """Every catalogue feature for every entity registered before ``as_of``."""
    b = _Builder(session, as_of)
    prefetch = b.prefetch()
    try:
        for step in (b.basic, b.operation, b.compliance, b.supervision, b.social, b.licences, b.equipment,
                     b.prices, b.online, b.certificates, b.tests):
            step()
        ad_text = b.adverts()
    finally:
        prefetch.close()
    missing = [n for n in NUMERIC if n not in b.out]
    if missing:  # pragma: no cover - guards catalogue edits
        raise RuntimeError(f"features not computed: {missing}")
    numeric = np.column_stack([b.out[n] for n in NUMERIC]) if b.n else np.zeros((0, len(NUMERIC)))
    return FeatureFrame(b.ids, numeric, {"ad_text": ad_text}, as_of)


def snapshot_dir(model_dir: str | Path) -> Path:
    path = Path(model_dir) / "snapshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_snapshot(session: Session, frame: FeatureFrame, model_dir: str | Path) -> FeatureSnapshot:
    """Store ``frame`` (replacing a snapshot of the same date)."""
    path = snapshot_dir(model_dir) / f"features-{frame.as_of.isoformat()}.npz"
    np.savez_compressed(path, entity_ids=frame.entity_ids, numeric=frame.numeric,
                        ad_text=np.asarray(frame.text.get("ad_text", np.zeros(0)), dtype=str),
                        columns=np.array(NUMERIC))
    row = session.scalar(select(FeatureSnapshot).where(FeatureSnapshot.as_of == frame.as_of))
    if row is None:
        row = FeatureSnapshot(as_of=frame.as_of, path=str(path), n_entities=len(frame.entity_ids))
        session.add(row)
    else:
        row.path, row.n_entities = str(path), len(frame.entity_ids)
    session.commit()
    return row


def load_snapshot(session: Session, as_of: dt.date) -> FeatureFrame:
    row = session.scalar(select(FeatureSnapshot).where(FeatureSnapshot.as_of == as_of))
    if row is None:
        raise LookupError(f"no feature snapshot for {as_of}")
    with np.load(row.path, allow_pickle=False) as z:
        if list(z["columns"]) != NUMERIC:
            raise ValueError(f"snapshot {row.path} was built with another feature catalogue")
        return FeatureFrame(z["entity_ids"], z["numeric"], {"ad_text": z["ad_text"].astype(object)}, as_of)


assert set(NUMERIC + TEXT) == set(FEATURE_INDEX)
