"""The device's form engine agrees with the server's validator, item for item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobile.core import formengine
from server.inspections import forms as server_forms

ROOT = Path(__file__).resolve().parents[2]
FORMS = {
    p.stem: json.loads(p.read_text(encoding="utf-8"))
    for p in sorted((ROOT / "data" / "forms").glob("*.json"))
}
SUM = "a" * 64

ITEMS = [
    {
        "id": "ok",
        "type": "compliance",
        "label": "许可证在有效期内",
        "required": True,
        "domain": "food_safety",
        "check_item": "FS01",
        "topic": "食品经营许可",
    },
    {
        "id": "note",
        "type": "text",
        "label": "问题描述",
        "required": True,
        "relevant": {"item": "ok", "equals": "non_compliant"},
        "constraint": {"min_length": 4, "max_length": 20},
        "constraint_message": "请用4至20字描述",
    },
    {
        "id": "n",
        "type": "number",
        "label": "人数",
        "required": False,
        "constraint": {"min": 0, "max": 10},
    },
    {
        "id": "kind",
        "type": "choice",
        "label": "结论",
        "required": True,
        "choices": [{"value": "pass", "label": "合格"}, {"value": "fail", "label": "不合格"}],
        "problem_if": ["fail"],
        "domain": "food_safety",
    },
    {"id": "sig", "type": "signature", "label": "签字", "required": True},
    {"id": "loc", "type": "location", "label": "位置", "required": False},
]


def test_required_relevance_and_constraint_messages():
    check = formengine.check_answers(ITEMS, {"ok": "non_compliant", "note": "短", "n": 11}, [])
    assert check.errors == {
        "note": "请用4至20字描述",
        "n": "数值应在 0 到 10 之间",
        "kind": "必填项未填写：结论 (required)",
        "sig": "必填项未填写：签字 (required)",
    }


def test_irrelevant_answer_is_an_error_and_clean_answers_drops_it():
    answers = {"ok": "compliant", "note": "之前写的描述", "kind": "pass", "sig": SUM}
    attachments = [{"item_id": "sig", "kind": "signature", "checksum": SUM}]
    assert "note" in formengine.check_answers(ITEMS, answers, attachments).errors
    cleaned = formengine.clean_answers(ITEMS, answers)
    assert "note" not in cleaned
    check = formengine.check_answers(ITEMS, cleaned, attachments)
    assert check.ok
    assert not check.problem_found
    assert check.summary == "未发现问题"


def test_clean_answers_cascades_through_chains_of_relevance():
    items = [
        {"id": "a", "type": "yes_no", "label": "a", "required": True},
        {
            "id": "b",
            "type": "yes_no",
            "label": "b",
            "required": False,
            "relevant": {"item": "a", "equals": "no"},
        },
        {
            "id": "c",
            "type": "text",
            "label": "c",
            "required": False,
            "relevant": {"item": "b", "equals": "no"},
        },
    ]
    assert formengine.clean_answers(items, {"a": "yes", "b": "no", "c": "x", "zzz": 1}) == {
        "a": "yes"
    }


def test_problem_detection_domains_and_summary():
    answers = {"ok": "non_compliant", "note": "许可证已过期", "kind": "fail", "sig": SUM}
    check = formengine.check_answers(
        ITEMS, answers, [{"item_id": "sig", "kind": "signature", "checksum": SUM}]
    )
    assert check.ok
    assert check.problem_found
    assert check.failed_items == ["FS01", "kind"]  # check item codes (the item id without one)
    assert check.problem_domains == ["food_safety"]
    assert check.summary == "发现问题：食品经营许可（FS01）：许可证已过期；结论：不合格"


def test_not_applicable_is_no_problem_and_does_not_count_the_domain_as_checked():
    answers = {"ok": "not_applicable", "kind": "pass", "sig": SUM}
    check = formengine.check_answers(
        ITEMS, answers, [{"item_id": "sig", "kind": "signature", "checksum": SUM}]
    )
    assert check.ok and not check.problem_found
    assert check.checked_domains == ["food_safety"]  # by "kind", not by the 不适用 item
    only = [ITEMS[0]]
    assert formengine.check_answers(only, {"ok": "not_applicable"}, []).checked_domains == []
    assert formengine.check_answers(only, {"ok": "yes"}, []).errors == {
        "ok": "请选择“符合”“不符合”或“不适用” (answer compliant, non_compliant or not_applicable)"
    }


def test_undeclared_attachment_and_bad_location():
    check = formengine.check_answers(
        ITEMS, {"ok": "compliant", "kind": "pass", "sig": SUM, "loc": {"lat": 91, "lon": 0}}, []
    )
    assert check.errors["sig"].startswith("附件未在 attachments 中声明")
    assert check.errors["loc"] == "经纬度超出范围 (lat/lon out of range)"


@pytest.mark.parametrize(
    ("raw", "expected"), [("12", 12), ("3.5", 3.5), (" ", None), ("abc", "abc"), ("nan", "nan")]
)
def test_coerce_numbers_typed_as_text(raw, expected):
    assert formengine.coerce({"type": "number"}, raw) == expected


def test_item_error_is_live_feedback_for_one_item():
    assert formengine.item_error(ITEMS[2], {"n": 3}) is None
    assert formengine.item_error(ITEMS[2], {"n": "x"}) == "请输入数字 (a number is required)"
    assert (
        formengine.item_error(ITEMS[4], {"sig": SUM}) is None
    )  # declared set unknown while typing


def test_check_item_questions_are_built_like_the_server():
    cis = [
        {
            "code": "FOOD-01",
            "item": "食品经营许可",
            "domain": "food_safety",
            "legal_basis": "《食品安全法》第三十五条",
            "law": "食品安全法",
            "article": 35,
        },
        {
            "code": "GEN-02",
            "item": "公示信息",
            "domain": None,
            "legal_basis": None,
            "law": None,
            "article": None,
        },
    ]
    assert formengine.check_item_questions(cis) == server_forms.check_item_questions(cis)
    rule = formengine.inspectable_rule(FORMS["catering"]["items"])
    assert rule == server_forms.inspectable_rule(FORMS["catering"]["items"])
    assert rule == {"item": "premises_open", "equals": "open"}
    assert formengine.check_item_questions(cis, rule) == server_forms.check_item_questions(cis, rule)
    task = {"check_items": cis}
    items = formengine.items_for_task(FORMS["catering"], task)
    assert [i["id"] for i in items[-4:]] == [
        "ci_FOOD-01", "ci_FOOD-01_note", "ci_GEN-02", "ci_GEN-02_note"
    ]
    assert items[-4]["type"] == "compliance" and items[-4]["relevant"] == rule
    assert (
        formengine.items_for_task(FORMS["catering"], {"check_items": []})
        == FORMS["catering"]["items"]
    )


def _answer_strategy(item):
    choices = [c["value"] for c in item.get("choices") or []] or ["x"]
    anything = st.one_of(
        st.none(),
        st.just(""),
        st.integers(-5, 6000),
        st.floats(allow_nan=True),
        st.text(max_size=8),
        st.booleans(),
    )
    by_type = {
        "yes_no": st.sampled_from(["yes", "no", "maybe"]),
        "compliance": st.sampled_from(["compliant", "non_compliant", "not_applicable", "yes"]),
        "choice": st.sampled_from([*choices, "other"]),
        "multi_choice": st.lists(st.sampled_from([*choices, "other"]), max_size=3),
        "number": st.one_of(st.integers(-10, 6000), st.floats(-1e4, 1e4)),
        "text": st.text(alphabet="检查发现问题abc", max_size=12),
        "photo": st.one_of(st.just(SUM), st.lists(st.sampled_from([SUM, "b" * 64]), max_size=2)),
        "signature": st.sampled_from([SUM, "b" * 64]),
        "location": st.fixed_dictionaries(
            {"lat": st.floats(-100, 100), "lon": st.floats(-200, 200)}
        ),
    }
    return st.one_of(by_type.get(item["type"], anything), anything)


@st.composite
def form_and_answers(draw):
    form = FORMS[draw(st.sampled_from(sorted(FORMS)))]
    answers = {}
    for item in form["items"]:
        if draw(st.booleans()) or draw(st.booleans()):
            answers[item["id"]] = draw(_answer_strategy(item))
    if draw(st.booleans()):
        answers = formengine.clean_answers(form["items"], answers)
    if draw(st.booleans()):  # answer the site item and judged items in earnest more often
        answers["premises_open"] = draw(st.sampled_from(["open", "open", "closed", "not_found",
                                                         "refused"]))
    attachments = (
        [{"item_id": form["items"][0]["id"], "kind": "photo", "checksum": SUM}]
        if draw(st.booleans())
        else []
    )
    return form["items"], answers, attachments


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(form_and_answers())
def test_parity_with_the_server_validator_on_the_shipped_forms(case):
    items, answers, attachments = case
    mine = formengine.check_answers(items, answers, attachments)
    theirs = server_forms.check_answers(items, answers, attachments)
    assert mine.errors == theirs.errors
    assert (
        mine.problem_found,
        mine.failed_items,
        mine.problem_domains,
        mine.checked_domains,
        mine.summary,
    ) == (
        theirs.problem_found,
        theirs.failed_items,
        theirs.problem_domains,
        theirs.checked_domains,
        theirs.summary,
    )


def _as_mobile(c):
    return formengine.Conclusion(c.result_category, c.follow_up, c.problem_found, c.derived,
                                 c.allowed, c.errors)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(form_and_answers(), st.sampled_from([None, *formengine.RESULT_CATEGORIES, "bogus"]),
       st.sampled_from([None, *formengine.FOLLOW_UPS, "bogus"]))
def test_conclusion_parity_with_the_server(case, category, follow_up):
    items, answers, _ = case
    mine = formengine.conclude(items, answers, category, follow_up)
    assert mine == _as_mobile(server_forms.conclude(items, answers, category, follow_up))
    # a violation is never concluded as compliant
    if not mine.errors and any(formengine.is_problem(i, answers.get(i["id"])) for i in items
                               if formengine.is_relevant(i, answers)):
        assert mine.result_category in {"annual_report_not_published", "unreachable",
                                        "problem_corrected", "problem_referred", "refused"}


def test_vocabulary_is_the_servers():
    from server.inspections import results

    assert formengine.RESULT_CATEGORIES == results.RESULT_CATEGORIES
    assert formengine.PROBLEM_CATEGORIES == results.PROBLEM_CATEGORIES
    assert formengine.FOLLOW_UPS == results.FOLLOW_UPS
    assert formengine.FOLLOW_UPS_BY_CATEGORY == server_forms.FOLLOW_UPS_BY_CATEGORY


def test_mobile_core_never_imports_kivy_or_server():
    for path in (ROOT / "mobile" / "core").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import kivy" not in text and "from kivy" not in text, path
        assert "from server" not in text and "import server" not in text, path
