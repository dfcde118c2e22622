"""Judged items, the conclusion and form versions, through the submission API.

Every judged item of every shipped form: 不符合 is a problem in that item's domain with its
check item in ``failed_items``; 符合 and 不适用 are not. The conclusion (检查结论) must agree
with the answers. A result keeps the form version it was filled in.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
import uuid
from typing import Any

import pytest
from factories import entity
from sqlalchemy import func, select

from server.extensions import db
from server.inspections.forms import is_relevant
from server.inspections.models import InspectionResult, Submission
from server.inspections.results import PROBLEM_CATEGORIES
from server.reference.files import Form, ReferenceDataError
from server.reference.models import FormTemplate
from server.reference.services import load_form
from server.tasks.models import Inspector, Task, TaskAssignment

PNG = b"\x89PNG\r\n\x1a\n not really"


def new_task(users: dict[str, Any], form_code: str, check_items: list[str] | None = None) -> Task:
    ins = db.session.get(Inspector, users["inspector"].inspector_id)
    t = Task(entity_id=entity().id, channel="random", department_code="330100-FOOD", state="assigned",
             form_code=form_code, check_items=check_items or [], domains=["food_safety"],
             due_on=dt.date(2026, 12, 31))
    t.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)  # drawn two days ago
    db.session.add(t)
    db.session.flush()
    db.session.add(TaskAssignment(task_id=t.id, inspector_id=ins.id, lead=True))
    db.session.commit()
    return t


def answer_all(items: list[dict[str, Any]], judged: str, *, site: str = "open",
               override: dict[str, str] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Answer every relevant item: the site as given, each judged item ``judged`` except
    those in ``override``; a finding note wherever 不符合 opens one."""
    answers: dict[str, Any] = {}
    atts: list[dict[str, Any]] = []
    for item in items:
        if not is_relevant(item, answers):
            continue
        kind, iid = item["type"], item["id"]
        if iid == "premises_open":
            answers[iid] = site
        elif kind == "compliance":
            answers[iid] = (override or {}).get(iid, judged)
        elif kind == "location":
            answers[iid] = {"lat": 30.27, "lon": 120.15}
        elif kind in ("photo", "signature") and item.get("required"):
            checksum = hashlib.sha256(PNG + iid.encode()).hexdigest()
            answers[iid] = checksum
            atts.append({"item_id": iid, "kind": kind, "checksum": checksum, "size": len(PNG) + len(iid)})
        elif kind == "text" and item.get("required"):
            answers[iid] = f"现场发现问题：{iid}"
    return answers, atts


class Sent:
    """The submission's first answer, with the receipt as it stands after its attachments."""

    def __init__(self, first: Any, receipt: dict[str, Any] | None) -> None:
        self.status_code = first.status_code
        self._json = receipt if receipt is not None else first.get_json()

    def get_json(self) -> dict[str, Any]:
        return self._json


def submit(client, auth, t: Task, form: FormTemplate, answers, atts, **extra) -> Sent:
    """Post a result as the handheld does, then its attachments (a result counts with them)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    body = {"instance_id": str(uuid.uuid4()), "task_id": t.id, "form_code": form.code, "form_version": form.version,
            "answers": answers, "attachments": atts, "started_at": (now - dt.timedelta(minutes=40)).isoformat(),
            "completed_at": (now - dt.timedelta(minutes=5)).isoformat(), **extra}
    headers = auth.headers("inspector")
    first = client.post("/api/v1/submissions", json=body, headers=headers)
    receipt = None
    if first.status_code == 201:
        for att in atts:
            up = client.post(f"/api/v1/submissions/{first.get_json()['id']}/attachments",
                             data={"file": (io.BytesIO(PNG + att["item_id"].encode()), f"{att['item_id']}.png"),
                                   "checksum": att["checksum"]},
                             headers=headers, content_type="multipart/form-data")
            assert up.status_code == 201, up.get_json()
            receipt = up.get_json()["submission"]
    return Sent(first, receipt)


def current(code: str) -> FormTemplate:
    return db.session.scalar(select(FormTemplate).where(FormTemplate.code == code, FormTemplate.current.is_(True)))


def test_every_judged_item_of_every_shipped_form(client, auth, users, reference):
    forms = db.session.scalars(select(FormTemplate).where(FormTemplate.current.is_(True))
                               .order_by(FormTemplate.code)).all()
    assert len(forms) == 10
    walked = 0
    for form in forms:
        judged = [i for i in form.items if i.get("domain") and i["id"] != "premises_open"]
        assert judged and all(i["type"] == "compliance" for i in judged), form.code
        for item in judged:
            t = new_task(users, form.code)
            answers, atts = answer_all(form.items, "compliant", override={item["id"]: "non_compliant"})
            r = submit(client, auth, t, form, answers, atts)  # no result_category: derived
            assert r.status_code == 201, (form.code, item["id"], r.get_json())
            assert r.get_json()["problem_found"] is True
            result = db.session.scalar(select(InspectionResult).where(InspectionResult.task_id == t.id))
            assert result.problem_found, (form.code, item["id"])
            assert result.problem_domains == [item["domain"]]
            assert result.failed_items == [item["check_item"]]
            assert result.result_category in PROBLEM_CATEGORIES
            assert f"现场发现问题：{item['id']}_note" in result.summary
            walked += 1
        for value in ("compliant", "not_applicable"):
            t = new_task(users, form.code)
            answers, atts = answer_all(form.items, value)
            r = submit(client, auth, t, form, answers, atts)
            assert r.status_code == 201, (form.code, value, r.get_json())
            result = db.session.scalar(select(InspectionResult).where(InspectionResult.task_id == t.id))
            assert not result.problem_found and result.failed_items == [], (form.code, value)
            assert (result.result_category, result.follow_up) == ("no_problem", "none")
    assert walked >= 80


def test_selling_expired_food_is_a_problem(client, auth, users, reference):
    """FS03 on the food retail form: the inspector finds expired food on the shelf."""
    form = current("food_retail")
    fs03 = next(i for i in form.items if i["id"] == "fs03")
    assert fs03["label"].startswith("未经营超过保质期")  # the requirement, stated positively
    t = new_task(users, "food_retail")
    answers, atts = answer_all(form.items, "compliant", override={"fs03": "non_compliant"})
    answers["fs03_note"] = "货架上有超过保质期的牛奶3盒"
    r = submit(client, auth, t, form, answers, atts, result_category="problem_corrected",
               follow_up="rectification_ordered")
    assert r.status_code == 201, r.get_json()
    result = db.session.scalar(select(InspectionResult).where(InspectionResult.task_id == t.id))
    assert result.problem_found and result.failed_items == ["FS03"] and result.problem_domains == ["food_safety"]
    assert result.summary == "发现问题已责令改正。发现问题：禁止经营食品（FS03）：货架上有超过保质期的牛奶3盒"


@pytest.mark.parametrize(("override", "category", "follow_up", "field", "words"), [
    ({"fs03": "non_compliant"}, "no_problem", None, "result_category", "FS03 判定为不符合"),
    ({"fs03": "non_compliant"}, "not_operating", None, "result_category", "与检查记录不符"),
    ({}, "problem_corrected", None, "result_category", "没有判定为不符合的检查项"),
    ({}, "unreachable", None, "result_category", "未发现问题"),
    ({"fs03": "non_compliant"}, "problem_corrected", "none", "follow_up", "与检查结论“发现问题已责令改正”不符"),
    ({"fs03": "non_compliant"}, "problem_referred", "rectification_ordered", "follow_up", "已移送立案"),
])
def test_a_conclusion_that_contradicts_the_answers_is_422(client, auth, users, reference, override, category,
                                                          follow_up, field, words):
    form = current("food_retail")
    t = new_task(users, "food_retail")
    answers, atts = answer_all(form.items, "compliant", override=override)
    extra = {"result_category": category} | ({"follow_up": follow_up} if follow_up else {})
    r = submit(client, auth, t, form, answers, atts, **extra)
    assert r.status_code == 422, r.get_json()
    assert words in r.get_json()["items"][field]
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    assert db.session.get(Task, t.id).state == "assigned"


@pytest.mark.parametrize(("site", "override", "category", "follow_up", "problem"), [
    ("not_found", {}, "unreachable", "listed_abnormal", True),      # premises not found → unreachable
    ("refused", {}, "refused", "none", True),
    ("closed", {}, "not_operating", "none", False),
    ("open", {"ao01": "non_compliant"}, "annual_report_not_published", "listed_abnormal", True),
    ("open", {"ao01": "non_compliant", "fs03": "non_compliant"}, "problem_corrected", "rectification_ordered", True),
    ("open", {"fs03": "non_compliant"}, "problem_corrected", "rectification_ordered", True),  # 行政处罚法 第二十八条
    ("open", {}, "no_problem", "none", False),
])
def test_an_older_handheld_gets_its_conclusion_derived(client, auth, users, reference, site, override, category,
                                                       follow_up, problem):
    form = current("food_retail")
    t = new_task(users, "food_retail")
    answers, atts = answer_all(form.items, "compliant", site=site, override=override)
    r = submit(client, auth, t, form, answers, atts)
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    assert (out["result_category"], out["follow_up"], out["problem_found"]) == (category, follow_up, problem)
    result = db.session.scalar(select(InspectionResult).where(InspectionResult.task_id == t.id))
    assert (result.result_category, result.follow_up, result.problem_found) == (category, follow_up, problem)
    assert result.problem_found == (result.result_category in PROBLEM_CATEGORIES or bool(result.failed_items))


def test_judged_items_wait_for_the_premises_and_refusal_is_published_as_such(client, auth, users, reference):
    form = current("food_retail")
    t = new_task(users, "food_retail", check_items=["FS07"])
    answers, atts = answer_all(form.items, "compliant", site="refused")
    assert "fs03" not in answers and "entity_signature" not in answers
    answers["fs03"] = "compliant"  # nothing can be judged on premises the inspector was refused
    r = submit(client, auth, t, form, answers, atts, result_category="refused", follow_up="none")
    assert r.status_code == 422 and "fs03" in r.get_json()["items"]
    del answers["fs03"]
    r = submit(client, auth, t, form, answers, atts, result_category="refused", follow_up="none")
    assert r.status_code == 201, r.get_json()
    result = db.session.scalar(select(InspectionResult).where(InspectionResult.task_id == t.id))
    assert result.problem_found and result.result_category == "refused" and result.failed_items == []


def _edited(form: FormTemplate, version: str, *, older: str) -> Form:
    items = copy.deepcopy(form.items)
    next(i for i in items if i["id"] == "remarks")["label"] = "备注（其他情况）"
    return Form(form.code, version, form.title, list(form.business_types), items, "备注项改名", older)


def test_a_changed_form_needs_a_new_version(app, reference):
    form = current("food_retail")
    with pytest.raises(ReferenceDataError, match="须使用新的版本号"):
        load_form(db.session, _edited(form, form.version, older="accept"))
    db.session.rollback()
    assert current("food_retail").items == form.items
    # the same content again is a no-op
    load_form(db.session, Form(form.code, form.version, form.title, list(form.business_types),
                               copy.deepcopy(form.items)))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(FormTemplate)
                             .where(FormTemplate.code == "food_retail")) == 1


def test_an_old_version_still_accepted_keeps_its_version_and_renders_against_it(client, auth, users, reference):
    old = current("food_retail")
    old_version = old.version
    answers, atts = answer_all(old.items, "compliant", override={"fs03": "non_compliant"})
    t = new_task(users, "food_retail")
    load_form(db.session, _edited(old, "2099.1", older="accept"))
    db.session.commit()
    assert current("food_retail").version == "2099.1"
    r = submit(client, auth, t, old, answers, atts)  # the handheld still holds the old version
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["form_version"] == old_version
    shown = client.get(f"/api/v1/submissions/{r.get_json()['id']}", headers=auth.headers("supervisor"))
    assert shown.status_code == 200
    page = shown.get_json()
    assert page["form_version"] == old_version
    remarks = next(i for i in page["items"] if i["id"] == "remarks")
    assert remarks["label"] == "备注"  # the old version's wording, not the current one
    fs03 = next(i for i in page["items"] if i["id"] == "fs03")
    assert (fs03["answer"], fs03["answer_label"]) == ("non_compliant", "不符合")
    assert page["result_category_label"] == "发现问题已责令改正"
    assert client.get(f"/api/v1/submissions/{r.get_json()['id']}",
                      headers=auth.headers("inspector2")).status_code == 403


def test_a_version_a_newer_one_refuses_is_409_form_outdated(client, auth, users, reference):
    old = current("food_retail")
    answers, atts = answer_all(old.items, "compliant")
    t = new_task(users, "food_retail")
    load_form(db.session, _edited(old, "2099.1", older="refuse"))
    db.session.commit()
    r = submit(client, auth, t, old, answers, atts)
    assert r.status_code == 409
    out = r.get_json()
    assert out["error"] == "form_outdated" and out["current_version"] == "2099.1"
    assert "已停用（备注项改名）" in out["message"] and "请同步下载第 2099.1 版" in out["message"]
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    new = current("food_retail")
    assert submit(client, auth, t, new, answers, atts).status_code == 201


def test_shipped_forms_refuse_the_yes_no_versions_they_replace(app, reference_data):
    """A database holding last year's 是/否 forms: loading the shipped ones keeps them but stops
    accepting them (their answers cannot be read as 符合/不符合)."""
    from server.reference.services import load_parsed_reference

    db.session.add(FormTemplate(code="food_retail", version="2026.1", title="食品销售经营者监督检查表",
                                business_types=["food_retail"], items=[
                                    {"id": "fs03", "type": "yes_no", "label": "是否经营超过保质期的食品",
                                     "required": True, "problem_if": "no", "domain": "food_safety"}],
                                current=True))
    db.session.commit()
    load_parsed_reference(db.session, reference_data)
    rows = {f.version: f for f in db.session.scalars(select(FormTemplate).where(FormTemplate.code == "food_retail"))}
    assert set(rows) == {"2026.1", "2026.2"}
    assert not rows["2026.1"].current and not rows["2026.1"].accepts_submissions
    assert "符合/不符合/不适用" in rows["2026.1"].retired_reason
    assert rows["2026.2"].current and rows["2026.2"].accepts_submissions
