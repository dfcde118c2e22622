from __future__ import annotations

from sqlalchemy import func, select

from server.entities.models import Entity
from server.extensions import db
from server.validation import make_uscc

GOOD = make_uscc("330106", "0000A001")
HEADER = ("uscc,name,region_code,industry_code,business_type,entity_type,registered_on,address,"
          "legal_representative,phone,registered_capital")


def _row(uscc, name="杭州测试餐饮店", region="330106", date="2020-05-01"):
    return f"{uscc},{name},{region},H6210,catering,individual,{date},杭州市西湖区文三路1号,张三,13800000000,"


def _count():
    return db.session.scalar(select(func.count()).select_from(Entity))


def _entity(**over):
    body = {"uscc": GOOD, "name": "杭州测试餐饮有限公司", "region_code": "330106", "industry_code": "H6210",
            "business_type": "catering", "entity_type": "company", "registered_on": "2019-03-01",
            "address": "杭州市西湖区文三路2号", "legal_representative": "李四"}
    body.update(over)
    return body


def test_a_malformed_uscc_is_refused_with_what_is_wrong(reference, client, auth, users):
    bad = GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1")
    r = client.post("/api/v1/entities", json=_entity(uscc=bad), headers=auth.headers("supervisor"))
    assert r.status_code == 422
    assert "第18位校验码错误" in r.get_json()["message"]
    assert _count() == 0
    assert client.post("/api/v1/entities", json=_entity(), headers=auth.headers("supervisor")).status_code == 201
    again = client.post("/api/v1/entities", json=_entity(), headers=auth.headers("supervisor"))
    assert again.status_code == 409 and _count() == 1
    assert client.post("/api/v1/entities", json=_entity(uscc=make_uscc("330106", "0000A002")),
                       headers=auth.headers("inspector")).status_code == 403


def test_csv_import_is_all_or_nothing_and_names_the_bad_row(reference, client, auth, users):
    good2 = make_uscc("330212", "0000B002")
    text = "\n".join([HEADER, _row(GOOD), _row(good2, region="330212"), _row("91330106ABC", date="2020-13-01")])
    r = client.post("/api/v1/entities/import", data=text.encode("utf-8"), content_type="text/csv",
                    headers=auth.headers("supervisor"))
    assert r.status_code == 422
    assert "row 4" in r.get_json()["message"] and "uscc" in r.get_json()["message"]
    assert _count() == 0
    broken = "\n".join([HEADER.replace("uscc,", "usc,"), _row(GOOD)])
    r = client.post("/api/v1/entities/import", data=broken.encode("utf-8"), content_type="text/csv",
                    headers=auth.headers("supervisor"))
    assert r.status_code == 422 and "缺少列" in r.get_json()["message"]
    ok = "\n".join([HEADER, _row(GOOD), _row(good2, region="330212")])
    r = client.post("/api/v1/entities/import", data=ok.encode("utf-8"), content_type="text/csv",
                    headers=auth.headers("supervisor"))
    assert r.status_code in (200, 201), r.get_json()
    assert _count() == 2
    dup = client.post("/api/v1/entities/import", data=ok.encode("utf-8"), content_type="text/csv",
                      headers=auth.headers("supervisor"))
    assert dup.status_code == 409 and _count() == 2
