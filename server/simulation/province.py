"""A synthetic province: market entities, their hidden compliance, and the records they leave.

The generator is the simulator's *nature*. Each entity has a hidden latent risk per
warning domain, ``L[e, d] = s_e + u_ed`` (a general factor shared by all of the entity's
domains plus a domain-specific one). The chance that an inspection checking domain ``d``
finds a violation there is ``sigmoid(c_b + a_d + L[e, d])`` times a detection rate; the
intercepts ``c_b`` are calibrated per business type so that a plain random inspection of
any business type finds a problem with probability :attr:`ProvinceConfig.base_rate`
(9.42 % by default, the seed system's figure).

Observable records (registration facts, licences, annual reports, lists, complaints,
sampling tests, equipment, prices, adverts, online-shop metrics, prepaid cards,
instruments, certificates, activity signals, penalties, fraud rings) are generated from
``signal × L`` plus noise. At ``signal = 0`` they are independent of the hidden truth:
no honest model can beat random there.

The hidden arrays live only in this object. Records go to the same tables a real
deployment fills from its data feeds (bulk Core inserts); nothing hidden is written.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit
from sqlalchemy import select
from sqlalchemy.orm import Session

from risk_models.registry import MODEL_NAMES
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
from server.reference.models import BusinessType, Region
from server.risk.features import locate
from server.validation import make_usccs

DOMAINS: tuple[str, ...] = tuple(MODEL_NAMES)
D = {name: i for i, name in enumerate(DOMAINS)}

#: Share of each business type among registered entities.
BUSINESS_MIX: dict[str, float] = {
    "catering": 0.22, "food_retail": 0.15, "food_production": 0.04, "pharmacy": 0.05, "medical_device": 0.02,
    "special_equipment_user": 0.05, "manufacturer": 0.10, "ecommerce": 0.10, "prepaid": 0.08,
    "advertising": 0.03, "fuel_station": 0.02, "general_retail": 0.14,
}
#: Relative size of each city (market entities), for drawing regions.
CITY_WEIGHT = {"3301": 0.22, "3302": 0.16, "3303": 0.15, "3304": 0.08, "3305": 0.05, "3306": 0.09,
               "3307": 0.12, "3308": 0.03, "3309": 0.02, "3310": 0.06, "3311": 0.02}
NAME_WORDS = list("华兴鑫源恒盛泰达丰瑞祥和顺宏昌隆福康新安通利德美嘉佳乐欣荣信诚远航明辉晨阳光海天云")
NAME_SUFFIX = {
    "catering": ("餐饮店", "饭店", "小吃店", "餐饮管理有限公司"), "food_retail": ("食品商行", "超市", "副食品店"),
    "food_production": ("食品有限公司", "食品厂"), "pharmacy": ("大药房", "医药连锁有限公司", "药店"),
    "medical_device": ("医疗器械有限公司",), "special_equipment_user": ("大酒店", "物业管理有限公司"),
    "manufacturer": ("电器有限公司", "服饰有限公司", "玩具厂", "照明科技有限公司"),
    "ecommerce": ("电子商务有限公司", "网店"), "prepaid": ("美容美发店", "健身俱乐部", "教育培训中心"),
    "advertising": ("广告传媒有限公司",), "fuel_station": ("加油站",), "general_retail": ("百货商行", "便利店", "日用品店"),
}
ROADS = list("文三中山解放人民建设东风胜利和平新华友谊")
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华")
CLEAN_ADS = ("新店开业，欢迎惠顾", "本周特价，满100减10", "品质保证，售后无忧", "新品上市，欢迎选购",
             "会员日全场九折", "诚信经营，明码标价")
BAD_ADS = ("国家级品质，全网第一", "本品可治愈高血压，无效退款", "投资保本，年化收益20%稳赚不赔",
           "最佳选择，销量第一品牌", "治疗失眠，药到病除", "顶级工艺，绝无仅有")
PRICE_ITEMS = {"catering": ("米饭", "红烧肉", "青菜"), "food_retail": ("大米", "食用油", "猪肉"),
               "pharmacy": ("口罩", "感冒灵", "体温计"), "ecommerce": ("手机壳", "充电器"),
               "prepaid": ("理发", "健身月卡"), "fuel_station": ("92号汽油", "0号柴油"),
               "general_retail": ("矿泉水", "纸巾", "洗衣液")}
PRICE_BASE = {"米饭": 2, "红烧肉": 38, "青菜": 12, "大米": 3, "食用油": 15, "猪肉": 14, "口罩": 1, "感冒灵": 18,
              "体温计": 25, "手机壳": 20, "充电器": 45, "理发": 40, "健身月卡": 300, "92号汽油": 7.8,
              "0号柴油": 7.5, "矿泉水": 2, "纸巾": 10, "洗衣液": 30, "面粉": 4}
TEST_KIND = {"catering": "food", "food_retail": "food", "food_production": "food", "pharmacy": "drug",
             "medical_device": "drug", "manufacturer": "product", "general_retail": "authenticity",
             "ecommerce": "authenticity"}
COMPLAINT_OF_DOMAIN = {"food_safety": "food", "drug_device_retail": "drug", "special_equipment": "equipment",
                       "product_quality": "quality", "price_violation": "price", "advertising": "advertising",
                       "online_trade": "online", "prepaid_consumer": "prepaid", "metrology": "metrology",
                       "trademark_ip": "counterfeit"}


@dataclass
class ProvinceConfig:
    entities: int = 20_000
    seed: int = 7
    signal: float = 1.0
    start: dt.date = dt.date(2026, 1, 5)
    history_years: int = 3
    base_rate: float = 0.0942
    detection: float = 0.9
    general_sd: float = 1.0
    domain_sd: float = 0.9


def _weighted_choice(rng: np.random.Generator, options: list[str], weights: Iterable[float], n: int) -> np.ndarray:
    w = np.asarray(list(weights), dtype=np.float64)
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=w / w.sum())]


def _date(day: np.datetime64 | Any) -> dt.date:
    return pd.Timestamp(day).date()


class Province:
    """Nature: generates the entities and their records; decides what inspections find."""

    def __init__(self, config: ProvinceConfig, form_domains: dict[str, list[str]]) -> None:
        self.config = config
        self.rng = np.random.default_rng([config.seed, 1])
        self.form_domains = form_domains  # business type -> domains its inspection form checks
        self.entity_ids = np.zeros(0, dtype=np.int64)

    # ------------------------------------------------------------------ hidden truth
    def _hidden(self, btypes: np.ndarray) -> None:
        cfg, rng = self.config, self.rng
        n, k = len(btypes), len(DOMAINS)
        self.general = rng.normal(0, cfg.general_sd, n)
        self.specific = rng.normal(0, cfg.domain_sd, (n, k))
        self.applicable = np.zeros((n, k), dtype=bool)
        for b, domains in self.form_domains.items():
            rows = btypes == b
            for d in domains:
                self.applicable[rows, D[d]] = True
        # Domain intercepts: cross-cutting domains are rarer than the business's own ones.
        self.domain_intercept = np.array([-1.2 if d in ("abnormal_operation", "registration_fraud",
                                                        "unlicensed_operation", "complaint_surge") else 0.0
                                          for d in DOMAINS])
        self.type_intercept = np.zeros(n)
        for b in np.unique(btypes):
            rows = np.flatnonzero(btypes == b)

            def gap(c: float, rows: np.ndarray = rows) -> float:
                return float(self._p_any(rows, c).mean() - cfg.base_rate)

            self.type_intercept[rows] = brentq(gap, -15.0, 5.0)

    def latent(self) -> np.ndarray:
        return self.general[:, None] + self.specific

    def _p_domain(self, rows: np.ndarray, type_intercept: Any = None) -> np.ndarray:
        c = self.type_intercept[rows] if type_intercept is None else np.full(len(rows), float(type_intercept))
        logit = c[:, None] + self.domain_intercept + self.general[rows, None] + self.specific[rows]
        return np.where(self.applicable[rows], expit(logit) * self.config.detection, 0.0)

    def _p_any(self, rows: np.ndarray, type_intercept: Any = None) -> np.ndarray:
        return 1.0 - np.prod(1.0 - self._p_domain(rows, type_intercept), axis=1)

    def propensity(self) -> np.ndarray:
        """P(an inspection checking the entity's usual domains finds a problem) — hidden."""
        return self._p_any(np.arange(len(self.entity_ids)))

    def _z(self) -> np.ndarray:
        """What observables see: signal × standardised latent, per entity and domain."""
        sd = np.sqrt(self.config.general_sd**2 + self.config.domain_sd**2)
        return self.config.signal * self.latent() / sd

    def _zg(self) -> np.ndarray:
        return self.config.signal * self.general / self.config.general_sd

    def position(self, entity_ids: np.ndarray) -> np.ndarray:
        pos, found = locate(self.entity_ids, entity_ids)
        if not found.all():
            raise KeyError("entity not in the province")
        return pos

    def inspect(self, entity_ids: np.ndarray, checked: list[list[str]], *, on: dt.date,
                rng: np.random.Generator) -> list[list[str]]:
        """What each inspection finds: the checked domains with a violation present today.

        A found violation is rectified (the entity's risk in that domain drops).
        """
        rows = self.position(np.asarray(entity_ids, dtype=np.int64))
        p = self._p_domain(rows)
        draws = rng.random(p.shape) < p
        out = []
        for i, domains in enumerate(checked):
            found = [d for d in domains if d in D and draws[i, D[d]]]
            for d in found:
                self.specific[rows[i], D[d]] -= 0.8
            out.append(found)
        return out

    def oracle_rate(self, n: int, rng: np.random.Generator) -> tuple[int, int]:
        """``n`` inspections of the entities with the highest hidden propensity: (n, problems)."""
        prop = self.propensity()
        top = np.argsort(-prop, kind="stable")[:n]
        return len(top), int((rng.random(len(top)) < prop[top]).sum())

    # ------------------------------------------------------------------ registration
    def populate(self, session: Session) -> np.ndarray:
        """Register the entities (and their static records); return their ids."""
        cfg, rng = self.config, self.rng
        n = cfg.entities
        btype_rows = {b.code: b for b in session.scalars(select(BusinessType))}
        mix = {b: w for b, w in BUSINESS_MIX.items() if b in btype_rows and b in self.form_domains}
        btypes = _weighted_choice(rng, list(mix), mix.values(), n)
        self._hidden(btypes)
        z, zg = self._z(), self._zg()
        counties = session.execute(select(Region.code, Region.name, Region.parent_code)
                                   .where(Region.level == "county")).all()
        names = {r.code: r.name for r in session.scalars(select(Region))}
        cw = np.array([CITY_WEIGHT.get(c[0][:4], 0.02) / sum(1 for x in counties if x[0][:4] == c[0][:4])
                       for c in counties])
        region = np.array([c[0] for c in counties], dtype=object)[rng.choice(len(counties), n, p=cw / cw.sum())]
        industry = np.array([rng.choice(btype_rows[b].industries) for b in btypes], dtype=object)
        individual = rng.random(n) < np.where(np.isin(btypes, ["catering", "food_retail", "general_retail",
                                                               "prepaid", "ecommerce"]), 0.55, 0.1)
        etype = np.where(individual, "individual", _weighted_choice(rng, ["company", "joint_stock", "partnership",
                                                                         "branch"], [0.85, 0.03, 0.04, 0.08], n))
        # Younger businesses are riskier (through the observable channel only).
        age_days = np.clip(rng.exponential(7 * 365, n) * np.exp(-0.35 * zg), 60, 40 * 365).astype(int)
        registered = np.datetime64(cfg.start, "D") - age_days.astype("timedelta64[D]")
        capital = np.where(individual, np.nan, np.round(np.exp(rng.normal(4.5, 1.3, n)), 1))
        # Fraud rings: groups registered on a shared address / phone / legal representative.
        ring_p = 0.015 * np.exp(1.4 * z[:, D["registration_fraud"]] - 0.98)
        in_ring = rng.random(n) < np.clip(ring_p, 0, 0.5)
        ring_members = np.flatnonzero(in_ring)
        ring_id = np.full(n, -1)
        if len(ring_members):
            rng.shuffle(ring_members)
            sizes = np.cumsum(rng.integers(4, 12, size=len(ring_members)))
            ring_id[ring_members] = np.searchsorted(sizes, np.arange(len(ring_members)), side="right")
        road = np.array(ROADS, dtype=object)[rng.integers(0, len(ROADS), n)]
        number = rng.integers(1, 999, n)
        address = np.array([f"{names[r[:4] + '00']}{names[r]}{rd}路{no}号" for r, rd, no in
                            zip(region, road, number, strict=True)], dtype=object)
        phone = np.array([f"1{p:010d}" for p in rng.integers(3_000_000_000, 9_999_999_999, n)], dtype=object)
        rep = np.array([a + b + c for a, b, c in zip(rng.choice(SURNAMES, n), rng.choice(GIVEN, n),
                                                     rng.choice(GIVEN + [""], n), strict=True)], dtype=object)
        if len(ring_members):
            first = pd.Series(np.arange(n)[ring_id >= 0]).groupby(ring_id[ring_id >= 0]).transform("first").to_numpy()
            members = np.flatnonzero(ring_id >= 0)
            share = rng.random(len(members))
            address[members[share < 0.8]] = address[first[share < 0.8]]
            phone[members[share < 0.6]] = phone[first[share < 0.6]]
            rep[members[share < 0.5]] = rep[first[share < 0.5]]
            region[members] = region[first]
        word = np.array(NAME_WORDS, dtype=object)
        w1, w2 = word[rng.integers(0, len(word), n)], word[rng.integers(0, len(word), n)]
        suffix = np.array([rng.choice(NAME_SUFFIX[b]) for b in btypes], dtype=object)
        name = np.array([f"{names[r][:-1] if len(names[r]) > 2 else names[r]}{a}{b}{s}"
                         for r, a, b, s in zip(region, w1, w2, suffix, strict=True)], dtype=object)
        serial = rng.choice(31**8 - 1, size=n, replace=False) if n < 5_000_000 else np.arange(n) * 7 + 1
        kind = np.where(individual, "92", "91")
        uscc = make_usccs(region.astype(str), serial, kind)
        frame = pd.DataFrame({
            "uscc": uscc, "name": name, "region_code": region, "industry_code": industry, "business_type": btypes,
            "entity_type": etype, "registered_on": pd.to_datetime(registered).date, "status": "active",
            "address": address, "legal_representative": rep, "phone": phone, "registered_capital": capital,
        })
        frame["registered_capital"] = frame["registered_capital"].astype(object).where(
            frame["registered_capital"].notna(), None)
        _bulk(session, Entity.__table__, frame.to_dict("records"))
        ids = pd.DataFrame(session.execute(select(Entity.uscc, Entity.id)).all(), columns=["uscc", "id"])
        order = frame[["uscc"]].merge(ids, on="uscc", how="left")["id"].to_numpy(dtype=np.int64)
        # keep every hidden array aligned with entity ids sorted ascending
        sort = np.argsort(order, kind="stable")
        self.entity_ids = order[sort]
        for attr in ("general", "specific", "applicable", "type_intercept"):
            setattr(self, attr, getattr(self, attr)[sort])
        self.btypes = btypes[sort]
        self.registered = registered[sort]
        self.ring_id = ring_id[sort]
        self._static_records(session, {b.code: b.required_licence for b in btype_rows.values()})
        session.commit()
        return self.entity_ids

    def _static_records(self, session: Session, required: dict[str, str | None]) -> None:
        cfg, rng = self.config, self.rng
        z, zg = self._z(), self._zg()
        n, ids, start = len(self.entity_ids), self.entity_ids, np.datetime64(cfg.start, "D")
        # Licences: lapsed or missing more often where the hidden unlicensed risk is high.
        need = np.array([required.get(b) for b in self.btypes], dtype=object)
        has_need = need != None  # noqa: E711 - elementwise
        p_bad = expit(-2.6 + 1.4 * z[:, D["unlicensed_operation"]])
        bad = has_need & (rng.random(n) < p_bad)
        missing = bad & (rng.random(n) < 0.35)
        valid_from = np.maximum(self.registered, start - 4 * 365)
        valid_to = np.where(bad, start - rng.integers(10, 400, n), start + rng.integers(30, 5 * 365, n))
        rows = [{"entity_id": int(ids[i]), "kind": need[i], "number": f"{need[i][:2].upper()}{ids[i]:010d}",
                 "valid_from": _date(valid_from[i]), "valid_to": _date(valid_to[i]), "status": "valid"}
                for i in np.flatnonzero(has_need & ~missing)]
        _bulk(session, Licence.__table__, rows)
        # Special equipment and measuring instruments.
        eq_units = np.where(self.btypes == "special_equipment_user", rng.integers(1, 16, n),
                            np.where(self.btypes == "fuel_station", rng.integers(1, 4, n), 0))
        owner = np.repeat(np.arange(n), eq_units)
        overdue = rng.random(len(owner)) < expit(-2.4 + 1.5 * z[owner, D["special_equipment"]])
        installed = start - rng.integers(200, 25 * 365, len(owner)).astype("timedelta64[D]")
        due = np.where(overdue, start - rng.integers(5, 300, len(owner)), start + rng.integers(1, 365, len(owner)))
        incidents = rng.poisson(0.05 * np.exp(1.0 * z[owner, D["special_equipment"]]))
        kinds = np.where(self.btypes[owner] == "fuel_station", "pressure_vessel", "elevator")
        _bulk(session, Equipment.__table__, [
            {"entity_id": int(ids[o]), "kind": kinds[j], "registration_no": f"TS{ids[o]:08d}{j:05d}",
             "installed_on": _date(installed[j]), "next_inspection_due": _date(due[j]),
             "incidents_3y": int(incidents[j])} for j, o in enumerate(owner)])
        inst_units = np.where(self.btypes == "fuel_station", rng.integers(4, 13, n),
                              np.where(self.btypes == "food_retail", rng.integers(1, 4, n), 0))
        owner = np.repeat(np.arange(n), inst_units)
        overdue = rng.random(len(owner)) < expit(-2.3 + 1.5 * z[owner, D["metrology"]])
        due = np.where(overdue, start - rng.integers(5, 300, len(owner)), start + rng.integers(1, 365, len(owner)))
        kinds = np.where(self.btypes[owner] == "fuel_station", "fuel_dispenser", "scale")
        _bulk(session, Instrument.__table__, [
            {"entity_id": int(ids[o]), "kind": kinds[j], "calibration_due": _date(due[j])}
            for j, o in enumerate(owner)])
        # Compulsory-certification products.
        certs = np.where(np.isin(self.btypes, ["manufacturer", "general_retail", "food_production"]),
                         rng.integers(0, 6, n), 0)
        owner = np.repeat(np.arange(n), certs)
        lapsed = rng.random(len(owner)) < expit(-2.8 + 1.5 * z[owner, D["certification"]])
        status = np.where(lapsed, np.where(rng.random(len(owner)) < 0.3, "revoked", "valid"),
                          np.where(rng.random(len(owner)) < 0.02, "suspended", "valid"))
        valid_to = np.where(lapsed & (status == "valid"), start - rng.integers(10, 500, len(owner)),
                            start + rng.integers(60, 5 * 365, len(owner)))
        _bulk(session, Certificate.__table__, [
            {"entity_id": int(ids[o]), "product": "电器产品", "number": f"CCC{ids[o]:08d}{j:04d}",
             "valid_to": _date(valid_to[j]), "status": status[j], "selling": bool(lapsed[j] or rng.random() < 0.9)}
            for j, o in enumerate(owner)])
        # History: annual reports, penalties, lists and flags of the past years.
        reports = []
        late_p = expit(-2.3 + 1.1 * z[:, D["abnormal_operation"]])
        for year in range(cfg.start.year - cfg.history_years, cfg.start.year):
            due_on = dt.date(year + 1, 6, 30)
            if due_on >= cfg.start:
                continue
            due_np = np.datetime64(due_on, "D")
            alive = self.registered < np.datetime64(dt.date(year, 1, 1), "D")
            late = rng.random(n) < late_p
            never = late & (rng.random(n) < 0.5)
            sub = np.where(late, due_np + rng.integers(1, 200, n), due_np - rng.integers(1, 170, n))
            for i in np.flatnonzero(alive):
                reports.append({"entity_id": int(ids[i]), "year": year, "due_on": due_on,
                                "submitted_on": None if never[i] else _date(sub[i])})
        _bulk(session, AnnualReport.__table__, reports)
        last_year = cfg.start.year - 2
        missing_last = {r["entity_id"] for r in reports if r["year"] == last_year and r["submitted_on"] is None}
        lists = [{"entity_id": e, "list_kind": "abnormal_operation", "listed_on": dt.date(last_year + 1, 7, 15),
                  "removed_on": None, "reason": "未按规定报送年度报告"} for e in sorted(missing_last)]
        serious = rng.random(n) < expit(-6.0 + 1.6 * zg)
        lists += [{"entity_id": int(ids[i]), "list_kind": "serious_violation",
                   "listed_on": _date(start - rng.integers(30, 900)), "removed_on": None,
                   "reason": "因严重违法行为被列入严重违法失信名单"} for i in np.flatnonzero(serious)]
        _bulk(session, ListEntry.__table__, lists)
        flags = []
        for kind, prob in (("unreachable", expit(-4.0 + 1.5 * z[:, D["abnormal_operation"]])),
                           ("closure", expit(-4.5 + 1.0 * z[:, D["abnormal_operation"]])),
                           ("court_enforcement", expit(-4.2 + 1.0 * zg)), ("tax_arrears", expit(-4.0 + 0.9 * zg))):
            for i in np.flatnonzero(rng.random(n) < prob):
                flags.append({"entity_id": int(ids[i]), "kind": kind,
                              "flagged_on": _date(start - rng.integers(10, 700)), "cleared_on": None})
        _bulk(session, EntityFlag.__table__, flags)
        n_pen = rng.poisson(0.12 * np.exp(0.9 * zg - 0.4))
        owner = np.repeat(np.arange(n), n_pen)
        dom = np.array(DOMAINS, dtype=object)[np.argmax(z[owner] + rng.gumbel(size=(len(owner), len(DOMAINS)))
                                                        + np.where(self.applicable[owner], 0, -50), axis=1)]
        _bulk(session, Penalty.__table__, [
            {"entity_id": int(ids[o]), "decided_on": _date(start - rng.integers(10, cfg.history_years * 365)),
             "domain": dom[j], "amount": float(np.round(np.exp(rng.normal(8.5, 1.2)), -1)), "serious": False}
            for j, o in enumerate(owner)])

    # ------------------------------------------------------------------ feeds over time
    def advance(self, session: Session, start: dt.date, end: dt.date, *, emergency: bool = False) -> dict[str, int]:
        """Generate the records observed in ``[start, end)`` (complaints, tests, prices …)."""
        cfg, rng = self.config, self.rng
        z, ids, n = self._z(), self.entity_ids, len(self.entity_ids)
        days = (end - start).days
        years = days / 365.0
        d0 = np.datetime64(start, "D")

        def when(count: int) -> list[dt.date]:
            return [_date(x) for x in d0 + rng.integers(0, days, count).astype("timedelta64[D]")]

        counts: dict[str, int] = {}
        # Complaints per category (12315): rate grows with the hidden risk of the category's domain.
        # Complaint surges are episodes: each simulated period some entities (more often those
        # with a high complaint-surge latent) see their complaints multiply for that period.
        surge: Any = 1.0
        if start >= cfg.start:
            zc = z[:, D["complaint_surge"]]
            episode = rng.random(n) < expit(-3.0 + 1.5 * zc)
            surge = np.where(episode, 3.0 + 2.0 * np.clip(zc, 0, None), 1.0)
        rows = []
        for domain, cat in COMPLAINT_OF_DOMAIN.items():
            j = D[domain]
            lam = np.where(self.applicable[:, j], 0.25 * np.exp(0.9 * z[:, j] - 0.4) * surge * years, 0.0)
            c = rng.poisson(lam)
            for i in np.repeat(np.arange(n), c):
                rows.append((int(ids[i]), cat))
        dates = when(len(rows))
        _bulk(session, Complaint.__table__, [{"entity_id": e, "received_on": d, "category": c, "channel": "12315"}
                                             for (e, c), d in zip(rows, dates, strict=True)])
        counts["complaints"] = len(rows)
        # Supervisory sampling tests (监督抽检).
        kind = np.array([TEST_KIND.get(b) for b in self.btypes], dtype=object)
        test_domain = {"food": "food_safety", "drug": "drug_device_retail", "product": "product_quality",
                       "authenticity": "trademark_ip"}
        tests = []
        for k, domain in test_domain.items():
            rows_k = np.flatnonzero(kind == k)
            m = rng.poisson(0.6 * years, len(rows_k))
            owner = np.repeat(rows_k, m)
            fail = rng.random(len(owner)) < expit(-2.9 + 1.3 * z[owner, D[domain]])
            for o, f, d in zip(owner, fail, when(len(owner)), strict=True):
                tests.append({"entity_id": int(ids[o]), "tested_on": d, "kind": k, "product": "抽检样品",
                              "passed": not bool(f)})
        _bulk(session, SamplingTest.__table__, tests)
        counts["sampling_tests"] = len(tests)
        # Prices against regional peers, monthly.
        prices = []
        j = D["price_violation"]
        for b, items in PRICE_ITEMS.items():
            rows_b = np.flatnonzero(self.btypes == b)
            if not len(rows_b):
                continue
            gouge = rng.random(len(rows_b)) < expit(-2.6 + 1.4 * z[rows_b, j])
            # price monitoring keeps the last quarter of any window (monthly observations)
            for month in range(min(3, max(1, days // 30))):
                day = end - dt.timedelta(days=30 * (month + 1) - int(rng.integers(0, 28)))
                for item in items:
                    markup = np.where(gouge, rng.uniform(0.25, 0.9, len(rows_b)), 0.0)
                    price = PRICE_BASE[item] * np.exp(rng.normal(0, 0.07, len(rows_b))) * (1 + markup)
                    for i, p in zip(rows_b, price, strict=True):
                        prices.append({"entity_id": int(ids[i]), "reported_on": day, "item": item,
                                       "price": float(round(p, 2)), "emergency": emergency})
        _bulk(session, PriceReport.__table__, prices)
        counts["price_reports"] = len(prices)
        # Monitored advertising.
        advertisers = np.flatnonzero(np.isin(self.btypes, ["ecommerce", "advertising", "prepaid", "general_retail"]))
        m = rng.poisson(1.5 * years * 4, len(advertisers))
        owner = np.repeat(advertisers, m)
        bad = rng.random(len(owner)) < expit(-2.7 + 1.6 * z[owner, D["advertising"]])
        texts = np.where(bad, rng.choice(BAD_ADS, len(owner)), rng.choice(CLEAN_ADS, len(owner)))
        _bulk(session, AdRecord.__table__, [
            {"entity_id": int(ids[o]), "captured_on": d, "medium": "互联网", "text": str(t)}
            for o, t, d in zip(owner, texts, when(len(owner)), strict=True)])
        counts["ads"] = len(owner)
        # Online shops: monthly orders, refunds, complaints, licence display.
        shops = np.flatnonzero(self.btypes == "ecommerce")
        online = []
        zo = z[shops, D["online_trade"]]
        for month in range(max(1, days // 30)):
            orders = np.maximum(1, rng.lognormal(6, 1, len(shops))).astype(int)
            refunds = rng.binomial(orders, np.clip(0.04 * np.exp(0.6 * zo), 0, 0.9))
            complaints = rng.poisson(orders * 0.002 * np.exp(0.9 * zo))
            displayed = rng.random(len(shops)) > expit(-2.6 + 1.5 * zo)
            for i, o, r, c, dsp in zip(shops, orders, refunds, complaints, displayed, strict=True):
                online.append({"entity_id": int(ids[i]), "period_start": start + dt.timedelta(days=30 * month),
                               "orders": int(o), "refunds": int(r), "complaints": int(c),
                               "licence_displayed": bool(dsp)})
        _bulk(session, OnlineMetric.__table__, online)
        # Prepaid cards: risky businesses sell aggressively and pile up balances.
        shops = np.flatnonzero(self.btypes == "prepaid")
        zp = z[shops, D["prepaid_consumer"]]
        prepaid = []
        for month in range(max(1, days // 30)):
            cards = rng.poisson(20 * np.exp(0.8 * zp))
            balance = cards * rng.uniform(500, 3000, len(shops)) * np.exp(0.5 * zp)
            for i, c, bal in zip(shops, cards, balance, strict=True):
                prepaid.append({"entity_id": int(ids[i]), "period_start": start + dt.timedelta(days=30 * month),
                                "cards_sold": int(c), "balance_outstanding": float(round(bal, 2))})
        _bulk(session, PrepaidRecord.__table__, prepaid)
        # Trading evidence (invoices, listings): everyone trading leaves some.
        m = rng.poisson(3 * years, n)
        owner = np.repeat(np.arange(n), m)
        _bulk(session, ActivitySignal.__table__, [
            {"entity_id": int(ids[o]), "observed_on": d, "kind": "invoice"}
            for o, d in zip(owner, when(len(owner)), strict=True)])
        # Annual reports falling due in the window; a missing one puts the entity on the abnormal list.
        late_p = expit(-2.3 + 1.1 * z[:, D["abnormal_operation"]])
        for year in range(start.year - 1, end.year):
            due_on = dt.date(year + 1, 6, 30)
            if not start <= due_on < end:
                continue
            due_np = np.datetime64(due_on, "D")
            alive = np.flatnonzero(self.registered < np.datetime64(dt.date(year, 1, 1), "D"))
            late = rng.random(len(alive)) < late_p[alive]
            never = late & (rng.random(len(alive)) < 0.5)
            sub = np.where(late, due_np + rng.integers(1, 200, len(alive)), due_np - rng.integers(1, 170, len(alive)))
            _bulk(session, AnnualReport.__table__, [
                {"entity_id": int(ids[i]), "year": year, "due_on": due_on,
                 "submitted_on": None if nv else _date(s_)} for i, nv, s_ in zip(alive, never, sub, strict=True)])
            listed_on = due_on + dt.timedelta(days=15)
            if listed_on < end:
                _bulk(session, ListEntry.__table__, [
                    {"entity_id": int(ids[i]), "list_kind": "abnormal_operation", "listed_on": listed_on,
                     "removed_on": None, "reason": "未按规定报送年度报告"} for i in alive[never]])
        # Equipment and instruments falling due are renewed, unless the operator is negligent.
        for table, due_col, domain in ((Equipment.__table__, "next_inspection_due", "special_equipment"),
                                       (Instrument.__table__, "calibration_due", "metrology")):
            falling = session.execute(select(table.c.id, table.c.entity_id).where(
                (table.c[due_col] >= start) & (table.c[due_col] < end))).all()
            if falling:
                rows_f = self.position(np.array([f[1] for f in falling], dtype=np.int64))
                renew = rng.random(len(falling)) > expit(-2.4 + 1.5 * z[rows_f, D[domain]])
                ok_ids = [f[0] for f, r in zip(falling, renew, strict=True) if r]
                if ok_ids:
                    session.execute(table.update().where(table.c.id.in_(ok_ids))
                                    .values({due_col: end + dt.timedelta(days=300)}))
        session.commit()
        return counts


def _bulk(session: Session, table: Any, rows: list[dict[str, Any]], chunk: int = 20_000) -> None:
    for i in range(0, len(rows), chunk):
        session.execute(table.insert(), rows[i:i + chunk])


def form_domains(data_dir: Path) -> dict[str, list[str]]:
    """Business type → the warning domains its inspection form checks (from data/forms)."""
    out: dict[str, list[str]] = {}
    for path in sorted((Path(data_dir) / "forms").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        domains = sorted({i["domain"] for i in doc["items"] if i.get("domain")})
        for b in doc["business_types"]:
            out[b] = domains
    return out
