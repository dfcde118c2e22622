"""The demo province reads like a real register (issue 19 §7).

Names per 企业名称登记管理规定 / 个体工商户名称登记管理办法 (no 个体工商户 called
"…有限公司"), real-looking street addresses, licence numbers in each kind's issuing
format, licence states that follow their validity dates, allocated phone numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from server.entities.models import Entity, Licence
from server.entities.profile import entity_profile
from server.extensions import db
from server.reference.models import Region
from server.simulation.province import Province, ProvinceConfig, form_domains

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2026, 1, 5)

#: 工业和信息化部 allocated mobile segments (an independent list, not the generator's).
ALLOCATED_MOBILE = {*range(130, 140), 145, 147, *range(150, 154), *range(155, 160), 162, 165, 166, 167,
                    *range(170, 179), *range(180, 190), *range(190, 194), *range(195, 200)}
ZHEJIANG_AREA_CODES = {"3301": "0571", "3302": "0574", "3303": "0577", "3304": "0573", "3305": "0572",
                       "3306": "0575", "3307": "0579", "3308": "0570", "3309": "0580", "3310": "0576",
                       "3311": "0578"}
INDIVIDUAL_FORMS = ("店", "馆", "部", "行", "厂", "坊", "中心", "工作室", "站", "超市", "药房")
COMPANY_FORMS = ("有限公司", "有限责任公司", "股份有限公司", "分公司", "（有限合伙）", "（普通合伙）")


@pytest.fixture
def province(reference):
    p = Province(ProvinceConfig(entities=1500, seed=11, start=START), form_domains(ROOT / "data"))
    p.populate(db.session)
    return p


def _entities():
    return db.session.execute(select(Entity.id, Entity.name, Entity.entity_type, Entity.region_code,
                                      Entity.address, Entity.phone, Entity.uscc)).all()


def _region_names():
    return dict(db.session.execute(select(Region.code, Region.name)).all())


def test_individual_businesses_are_never_named_as_companies(province):
    rows = _entities()
    names = _region_names()
    individuals = [r for r in rows if r.entity_type == "individual"]
    companies = [r for r in rows if r.entity_type != "individual"]
    assert len(individuals) > 200 and len(companies) > 200
    named_as_company = [r.name for r in individuals if any(w in r.name for w in ("公司", "有限", "企业"))]
    assert named_as_company == []
    for r in individuals:
        assert r.name.startswith(names[r.region_code]), r.name  # county-level 行政区划 first
        assert r.name.endswith(INDIVIDUAL_FORMS), r.name
    for r in companies:
        assert r.name.endswith(COMPANY_FORMS), r.name
        assert r.name.startswith(names[r.region_code[:4] + "00"].removesuffix("市")), r.name
    joint = [r.name for r in companies if r.entity_type == "joint_stock"]
    assert joint and all(n.endswith("股份有限公司") for n in joint)
    assert len({r.name for r in rows}) == len(rows)  # one name per registration


STREET = re.compile(r"^(?P<street>[\u4e00-\u9fff]+?)(?P<kind>大道|路|街|巷)(?P<no>\d+)号"
                    r"(?:\d+幢\d+室|1层\d+商铺)?$")


def test_addresses_have_real_street_names_and_numbers(province):
    names = _region_names()
    seen_kinds = set()
    for r in _entities():
        place = names[r.region_code[:4] + "00"] + names[r.region_code]
        assert r.address.startswith(place), r.address
        m = STREET.match(r.address[len(place):])
        assert m, r.address
        assert 2 <= len(m["street"]) <= 4, r.address
        assert int(m["no"]) >= 1
        seen_kinds.add(m["kind"])
    assert seen_kinds == {"路", "街", "大道", "巷"}


def _formats() -> dict[str, str]:
    with (ROOT / "data" / "reference" / "licence_kinds.csv").open(encoding="utf-8") as fh:
        return {r["code"]: r["format"] for r in csv.DictReader(fh)}


def _mod11_10_valid(digits: str) -> bool:
    """GB/T 17710 MOD 11,10 over the digits including the check digit: the remainder is 1."""
    p = 10
    for d in digits[:-1]:
        p = (2 * (((p + int(d)) % 10) or 10)) % 11
    return (p + int(digits[-1])) % 10 == 1


def test_licence_numbers_follow_their_kinds_format(province):
    formats = _formats()
    assert set(formats) >= {"food_business", "food_production", "drug_retail", "device_business",
                            "industrial_product", "special_equipment_use"}
    rows = db.session.execute(select(Licence.kind, Licence.number, Entity.region_code, Entity.business_type)
                              .join(Entity, Entity.id == Licence.entity_id)).all()
    kinds = {r.kind for r in rows}
    assert {"food_business", "food_production", "drug_retail", "special_equipment_use"} <= kinds
    for r in rows:
        assert re.fullmatch(formats[r.kind], r.number), (r.kind, r.number)
    food = [r for r in rows if r.kind == "food_business"]
    for r in food:
        assert re.fullmatch(r"^JY\d{14}$", r.number)
        assert r.number[2] == ("2" if r.business_type == "catering" else "1")  # 主体业态
        assert r.number[3:9] == r.region_code  # county of the licensed business
        assert _mod11_10_valid(r.number[2:]), r.number
    for r in (r for r in rows if r.kind == "food_production"):
        assert re.fullmatch(r"^SC\d{14}$", r.number) and r.number[5:11] == r.region_code
        assert _mod11_10_valid(r.number[2:]), r.number
    for kind in kinds:
        numbers = [r.number for r in rows if r.kind == kind]
        assert len(set(numbers)) == len(numbers), kind


def test_an_expired_licence_is_never_shown_as_valid(province, client, auth, users):
    held = db.session.scalars(select(Licence)).all()
    expired = [lic for lic in held if lic.valid_to is not None and lic.valid_to < START]
    assert len(expired) > 10
    # today (after the simulated start) through the API the handheld reads, and the console page
    entity = db.session.get(Entity, expired[0].entity_id)
    doc = client.get(f"/api/v1/entities/{entity.uscc}", headers=auth.headers("supervisor")).get_json()
    assert [lic["status"] for lic in doc["licences"]] == ["expired"]
    assert [lic["status_label"] for lic in doc["licences"]] == ["已过期"]
    from test_console_seed import login

    login(client, "supervisor")
    page = client.get(f"/entities/{entity.uscc}").get_data(as_text=True)
    assert "已过期" in page and "有效）" not in page
    # on any given day, for every licence of the province
    for e in db.session.scalars(select(Entity).where(Entity.id.in_({lic.entity_id for lic in held}))):
        for lic in entity_profile(db.session, e, today=START)["licences"]:
            lapsed = lic["valid_to"] is not None and dt.date.fromisoformat(lic["valid_to"]) < START
            assert (lic["status"] == "expired") == lapsed, lic
            assert lic["status_label"] == ("已过期" if lapsed else "有效")


def test_phone_numbers_are_allocated_mobiles_or_local_landlines(province):
    mobiles = landlines = 0
    for r in _entities():
        if r.phone.startswith("1"):
            assert re.fullmatch(r"1\d{10}", r.phone), r.phone
            assert int(r.phone[:3]) in ALLOCATED_MOBILE, r.phone
            mobiles += 1
        else:
            m = re.fullmatch(r"(0\d{2,3})-([2-8]\d{6,7})", r.phone)
            assert m, r.phone
            assert m[1] == ZHEJIANG_AREA_CODES[r.region_code[:4]], (r.region_code, r.phone)
            landlines += 1
    assert mobiles > 500 and landlines > 200


def test_same_seed_same_register(reference):
    from server.db import Base
    from server.reference.services import load_parsed_reference

    def snapshot():
        p = Province(ProvinceConfig(entities=300, seed=5, start=START), form_domains(ROOT / "data"))
        p.populate(db.session)
        people = db.session.execute(select(Entity.uscc, Entity.name, Entity.address, Entity.phone)
                                    .order_by(Entity.uscc)).all()
        lic = db.session.execute(select(Entity.uscc, Licence.number, Licence.valid_to)
                                 .join(Entity, Entity.id == Licence.entity_id).order_by(Entity.uscc)).all()
        return people, lic, np.sort(p.propensity())

    first = snapshot()
    db.session.remove()
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    load_parsed_reference(db.session, reference)
    second = snapshot()
    assert first[0] == second[0] and first[1] == second[1] and np.array_equal(first[2], second[2])
