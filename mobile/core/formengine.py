"""The inspection form on the device: relevance, required items, constraints, problems.

This mirrors ``server/inspections/forms.py`` rule for rule and message for message, so
that an inspector sees on the device exactly the objection the server would raise
(ODK Collect validates the same way before a form may be finalised). The mobile app
never imports ``server``; ``tests/mobile/test_formengine.py`` checks the two agree.

Item types: ``compliance`` (a judged item: "compliant" 符合 / "non_compliant" 不符合 /
"not_applicable" 不适用（合理缺项）), ``yes_no`` ("yes"/"no", a plain fact), ``choice``,
``multi_choice`` (list), ``number``, ``text``, ``photo``/``signature`` (the SHA-256
checksum(s) of attachments), and ``location`` ({"lat", "lon", "accuracy"?}).

The inspector's conclusion (检查结论) is chosen at the end of the form as two more items,
:func:`conclusion_items` (``result_category`` and ``follow_up``), checked against the
answers by :func:`conclude` exactly as the server checks them, and sent beside the answers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COMPLIANCE",
    "CONCLUSION_IDS",
    "FOLLOW_UPS",
    "RESULT_CATEGORIES",
    "Conclusion",
    "FormCheck",
    "allowed_categories",
    "answer_fits",
    "check_answers",
    "conclude",
    "conclusion_items",
    "derive_category",
    "check_item_questions",
    "clean_answers",
    "coerce",
    "is_problem",
    "is_relevant",
    "item_error",
    "inspectable_rule",
    "items_for_task",
    "relevant_items",
]

#: A judged item's answers, value → what the inspection form prints.
COMPLIANCE = {"compliant": "符合", "non_compliant": "不符合", "not_applicable": "不适用（合理缺项）"}
NON_COMPLIANT = "non_compliant"

#: Published result categories (the server's ``server.inspections.results``, which the
#: device cannot import; a test keeps the two equal).
RESULT_CATEGORIES: dict[str, str] = {
    "no_problem": "未发现问题",
    "annual_report_not_published": "未按规定公示年度报告",
    "unreachable": "通过登记的住所（经营场所）无法联系",
    "problem_corrected": "发现问题已责令改正",
    "problem_referred": "发现问题待后续处理（已移送/已立案）",
    "refused": "不配合检查",
    "not_operating": "未开展经营",
}
PROBLEM_CATEGORIES = frozenset(
    {"annual_report_not_published", "unreachable", "problem_corrected", "problem_referred", "refused"}
)
FOLLOW_UPS: dict[str, str] = {
    "none": "无需后续处置",
    "rectification_ordered": "责令限期改正",
    "rectified": "已整改完毕",
    "case_referred": "已移送立案",
    "case_filed": "已立案查处",
    "listed_abnormal": "已列入经营异常名录",
}
FOLLOW_UPS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "no_problem": ("none",),
    "not_operating": ("none",),
    "problem_corrected": ("rectification_ordered", "rectified"),
    "problem_referred": ("case_referred", "case_filed"),
    "unreachable": ("listed_abnormal", "rectification_ordered", "none"),
    "annual_report_not_published": ("listed_abnormal", "rectification_ordered"),
    "refused": ("none", "case_referred", "case_filed", "listed_abnormal"),
}
DEFAULT_FOLLOW_UP = {category: options[0] for category, options in FOLLOW_UPS_BY_CATEGORY.items()}
CONCLUSION_IDS = ("result_category", "follow_up")


@dataclass
class FormCheck:
    errors: dict[str, str] = field(default_factory=dict)
    problem_found: bool = False
    failed_items: list[str] = field(default_factory=list)
    problem_domains: list[str] = field(default_factory=list)
    checked_domains: list[str] = field(default_factory=list)
    summary: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def is_relevant(item: dict[str, Any], answers: dict[str, Any]) -> bool:
    """Whether ``item`` applies given the answers so far (its ``relevant`` rule)."""
    rule = item.get("relevant")
    if not rule:
        return True
    value = answers.get(rule["item"])
    expected = rule.get("equals")
    if isinstance(expected, list):
        return value in expected
    if isinstance(value, list):
        return expected in value
    return bool(value == expected)


def _value_error(item: dict[str, Any], value: Any, declared: set[str] | None) -> str | None:
    kind = item.get("type")
    constraint = item.get("constraint") or {}
    message = item.get("constraint_message")
    choices = [c["value"] for c in item.get("choices") or []]
    if kind == "compliance":
        if not isinstance(value, str) or value not in COMPLIANCE:
            return "请选择“符合”“不符合”或“不适用” (answer compliant, non_compliant or not_applicable)"
    elif kind == "yes_no":
        if value not in ("yes", "no"):
            return "请选择“是”或“否” (answer yes or no)"
    elif kind == "choice":
        if value not in choices:
            return f"请选择有效选项 (choose one of {', '.join(map(str, choices))})"
    elif kind == "multi_choice":
        if not isinstance(value, list) or any(v not in choices for v in value):
            return f"请选择有效选项 (choose among {', '.join(map(str, choices))})"
    elif kind == "number":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            return "请输入数字 (a number is required)"
        too_low = "min" in constraint and value < constraint["min"]
        too_high = "max" in constraint and value > constraint["max"]
        if too_low or too_high:
            return (
                message
                or f"数值应在 {constraint.get('min', '-∞')} 到 {constraint.get('max', '∞')} 之间"
            )
    elif kind == "text":
        if not isinstance(value, str):
            return "请输入文字 (text is required)"
        if "max_length" in constraint and len(value) > constraint["max_length"]:
            return message or f"不超过 {constraint['max_length']} 字"
        if "min_length" in constraint and len(value) < constraint["min_length"]:
            return message or f"至少 {constraint['min_length']} 字"
        if "pattern" in constraint and not re.fullmatch(constraint["pattern"], value):
            return message or "格式不正确 (does not match the expected format)"
    elif kind in ("photo", "signature"):
        values = value if isinstance(value, list) else [value]
        if not values or any(not isinstance(v, str) for v in values):
            return "附件未在 attachments 中声明 (attachment checksum not declared)"
        if declared is not None and any(v.lower() not in declared for v in values):
            return "附件未在 attachments 中声明 (attachment checksum not declared)"
    elif kind == "location":
        if not isinstance(value, dict):
            return "请提供位置 (location is required)"
        lat, lon = value.get("lat"), value.get("lon")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
            return "经纬度应为数字 (lat/lon must be numbers)"
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return "经纬度超出范围 (lat/lon out of range)"
    else:
        return f"未知题型 (unknown item type {kind!r})"
    return None


def answer_fits(item: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` is a well-formed answer to ``item`` (attachments not checked):
    what survives when a draft moves to a newer version of its form.
    """
    return not _empty(value) and _value_error(item, value, None) is None


def item_error(
    item: dict[str, Any], answers: dict[str, Any], declared: set[str] | None = None
) -> str | None:
    """Return the message the server would give for this one item, or None (for live feedback).

    ``declared`` is the set of attachment checksums; ``None`` skips that check (while
    typing, the device knows its own attachments are declared at finalisation).
    """
    value = answers.get(item["id"])
    if not is_relevant(item, answers):
        return (
            None
            if _empty(value)
            else "该项当前不适用，不应填写 (item not relevant given earlier answers)"
        )
    if _empty(value):
        return (
            f"必填项未填写：{item.get('label', item['id'])} (required)"
            if item.get("required")
            else None
        )
    return _value_error(item, value, declared)


def is_problem(item: dict[str, Any], value: Any) -> bool:
    """Whether an answer is a problem: 不符合, or equal to (containing) ``problem_if``."""
    if _empty(value):
        return False
    if item.get("type") == "compliance":
        return bool(value == NON_COMPLIANT)
    rule = item.get("problem_if")
    if rule is None:
        return False
    rules = rule if isinstance(rule, list) else [rule]
    if isinstance(value, list):
        return any(v in rules for v in value)
    return value in rules


def check_answers(
    items: list[dict[str, Any]], answers: dict[str, Any], attachments: list[dict[str, Any]]
) -> FormCheck:
    """Validate ``answers`` exactly as the server will; errors per item id and problems."""
    out = FormCheck()
    if not isinstance(answers, dict):
        out.errors["answers"] = "answers 应为对象 (answers must be an object)"
        return out
    known = {item["id"] for item in items}
    for key in answers:
        if key not in known:
            out.errors[str(key)] = "表单中没有这一项 (no such item in the form)"
    declared = {str(a.get("checksum", "")).lower() for a in attachments if isinstance(a, dict)}
    for att in attachments:
        if (
            not isinstance(att, dict)
            or att.get("item_id") not in known
            or att.get("kind") not in ("photo", "signature")
        ):
            out.errors["attachments"] = (
                "附件声明不完整 (each attachment needs item_id, kind photo/signature, checksum)"
            )
            break
        if not re.fullmatch(r"[0-9a-fA-F]{64}", str(att.get("checksum", ""))):
            out.errors["attachments"] = (
                "附件 checksum 应为 SHA-256 (checksum must be a sha256 hex digest)"
            )
            break
    problems: list[dict[str, Any]] = []
    for item in items:
        item_id = item["id"]
        value = answers.get(item_id)
        error = item_error(item, answers, declared)
        if error:
            out.errors[item_id] = error
            continue
        if not is_relevant(item, answers) or _empty(value):
            continue
        domain = item.get("domain")
        if domain and value != "not_applicable" and domain not in out.checked_domains:
            out.checked_domains.append(domain)
        if is_problem(item, value):
            problems.append(item)
            if domain and domain not in out.problem_domains:
                out.problem_domains.append(domain)
    out.failed_items = list(dict.fromkeys(failed_code(item) for item in problems))
    out.problem_found = bool(problems)
    notes = {
        str(i["relevant"]["item"]): i["id"]
        for i in items
        if i.get("type") == "text" and i.get("relevant")
    }
    out.summary = (
        ("发现问题：" + "；".join(_finding(item, answers, notes) for item in problems))[:500]
        if problems
        else "未发现问题"
    )
    return out


def failed_code(item: dict[str, Any]) -> str:
    """What ``failed_items`` records for a failed item: its check item, else its id."""
    return str(item.get("check_item") or item["id"])


def _finding(item: dict[str, Any], answers: dict[str, Any], notes: dict[str, str]) -> str:
    topic = item.get("topic") or item.get("label", item["id"])
    code = item.get("check_item")
    head = f"{topic}（{code}）" if code else str(topic)
    if item.get("type") == "choice":
        label = next(
            (
                c.get("label")
                for c in item.get("choices") or []
                if c["value"] == answers.get(item["id"])
            ),
            None,
        )
        return f"{head}：{label}" if label else head
    note = answers.get(notes.get(item["id"], ""))
    return f"{head}：{note}" if isinstance(note, str) and note.strip() else head


# -- the conclusion (检查结论) --------------------------------------------------------------
@dataclass
class Conclusion:
    result_category: str | None
    follow_up: str | None
    problem_found: bool
    derived: bool
    allowed: list[str]
    errors: dict[str, str] = field(default_factory=dict)


def _is_site_item(item: dict[str, Any]) -> bool:
    return any(c.get("result_category") for c in item.get("choices") or [])


def _failed(items: list[dict[str, Any]], answers: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        i
        for i in items
        if not _is_site_item(i) and is_relevant(i, answers) and is_problem(i, answers.get(i["id"]))
    ]


def _site_state(
    items: list[dict[str, Any]], answers: dict[str, Any]
) -> tuple[bool, str | None, str | None]:
    has_site = False
    for item in items:
        tagged = {c["value"]: c for c in item.get("choices") or [] if c.get("result_category")}
        if not tagged:
            continue
        has_site = True
        value = answers.get(item["id"])
        chosen = tagged.get(value) if isinstance(value, str) and is_relevant(item, answers) else None
        if chosen is not None:
            return True, str(chosen["result_category"]), str(chosen.get("label", chosen["value"]))
    return has_site, None, None


def allowed_categories(
    items: list[dict[str, Any]], answers: dict[str, Any]
) -> tuple[list[str], str]:
    """The result categories that agree with ``answers``, and why (the server's rules)."""
    relevant = [
        i for i in items if is_relevant(i, answers) and not _empty(answers.get(i["id"]))
    ]
    failed = _failed(items, answers)
    has_site, site, site_label = _site_state(items, answers)
    annual_answered = any(
        i.get("result_category") == "annual_report_not_published" for i in relevant
    )
    if failed:
        allowed = {"problem_corrected", "problem_referred"} | {
            str(i["result_category"]) for i in failed if i.get("result_category")
        }
        if site:
            allowed.add(site)
        allowed &= PROBLEM_CATEGORIES
        shown = "、".join(failed_code(i) for i in failed[:3]) + (
            f" 等 {len(failed)} 项" if len(failed) > 3 else ""
        )
        why = f"检查项 {shown} 判定为不符合"
    else:
        allowed = {site} if site else {"no_problem"}
        if not annual_answered:
            allowed.add("annual_report_not_published")
        if not has_site:
            allowed |= {"unreachable", "refused", "not_operating"}
        why = f"现场情况为“{site_label}”" if site else "没有判定为不符合的检查项"
    return [c for c in RESULT_CATEGORIES if c in allowed], why


def derive_category(items: list[dict[str, Any]], answers: dict[str, Any]) -> str:
    """The category the answers imply (what the server derives when none is sent)."""
    _, site, _ = _site_state(items, answers)
    if site in ("unreachable", "refused"):
        return site
    failed = _failed(items, answers)
    if failed:
        if all(i.get("result_category") == "annual_report_not_published" for i in failed):
            return "annual_report_not_published"
        return "problem_corrected"
    return site or "no_problem"


def conclude(
    items: list[dict[str, Any]],
    answers: dict[str, Any],
    result_category: Any = None,
    follow_up: Any = None,
) -> Conclusion:
    """Check the conclusion against the answers, with the server's messages."""
    allowed, why = allowed_categories(items, answers)
    errors: dict[str, str] = {}
    derived = _empty(result_category)
    category = derive_category(items, answers) if derived else result_category
    if not isinstance(category, str) or category not in RESULT_CATEGORIES:
        errors["result_category"] = "请选择检查结论（公示结果类别） (unknown result category)"
        category = None
    elif category not in allowed:
        options = "、".join(f"“{RESULT_CATEGORIES[c]}”" for c in allowed)
        errors["result_category"] = (
            f"检查结论“{RESULT_CATEGORIES[category]}”与检查记录不符：{why}，"
            f"可选 {options} (result category contradicts the answers)"
        )
    chosen = follow_up
    if _empty(chosen):
        chosen = DEFAULT_FOLLOW_UP.get(category) if category else None
    elif not isinstance(chosen, str) or chosen not in FOLLOW_UPS:
        errors["follow_up"] = "请选择有效的后续处置 (unknown follow-up)"
    elif category and chosen not in FOLLOW_UPS_BY_CATEGORY[category]:
        options = "、".join(f"“{FOLLOW_UPS[f]}”" for f in FOLLOW_UPS_BY_CATEGORY[category])
        errors["follow_up"] = (
            f"后续处置“{FOLLOW_UPS[chosen]}”与检查结论“{RESULT_CATEGORIES[category]}”不符，"
            f"可选 {options} (follow-up contradicts the result category)"
        )
    any_failed = any(
        is_problem(i, answers.get(i["id"])) for i in items if is_relevant(i, answers)
    )
    return Conclusion(
        category,
        chosen if isinstance(chosen, str) else None,
        bool(category in PROBLEM_CATEGORIES or any_failed),
        derived,
        allowed,
        errors,
    )


def conclusion_items(items: list[dict[str, Any]], answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The two items the inspector answers last: 检查结论 (the categories the answers allow
    are offered; the one the answers imply is named in the hint) and 后续处置.
    """
    allowed, _ = allowed_categories(items, answers)
    suggested = derive_category(items, answers)
    category = answers.get("result_category")
    follow_ups = FOLLOW_UPS_BY_CATEGORY.get(category, tuple(FOLLOW_UPS)) if isinstance(
        category, str
    ) else tuple(FOLLOW_UPS)
    return [
        {
            "id": "result_category",
            "type": "choice",
            "label": "检查结论（向社会公示的结果）",
            "required": True,
            "choices": [{"value": c, "label": RESULT_CATEGORIES[c]} for c in allowed],
            "hint": f"根据检查记录建议：{RESULT_CATEGORIES[suggested]}",
            "legal_basis": "《中华人民共和国行政处罚法》第二十八条（责令改正）",
            "legal_refs": [{"law": "行政处罚法", "article": 28}],
        },
        {
            "id": "follow_up",
            "type": "choice",
            "label": "后续处置",
            "required": True,
            "choices": [{"value": f, "label": FOLLOW_UPS[f]} for f in follow_ups],
        },
    ]


def inspectable_rule(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The relevance rule "the premises could be inspected", from the form's site item."""
    site = next((i for i in items if i.get("inspectable_if") is not None), None)
    return {"item": site["id"], "equals": site["inspectable_if"]} if site else None


def check_item_questions(
    check_items: list[dict[str, Any]], relevant: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The judged items for each check item of the task, built as the server builds them."""
    out: list[dict[str, Any]] = []
    for ci in check_items:
        refs = (
            [{"law": ci["law"], "article": ci["article"]}]
            if ci.get("law") and ci.get("article")
            else []
        )
        item_id = f"ci_{ci['code']}"
        out.append(
            {
                "id": item_id,
                "type": "compliance",
                "label": ci["item"],
                "required": True,
                "domain": ci.get("domain"),
                "check_item": ci["code"],
                "topic": ci.get("category"),
                "legal_basis": ci.get("legal_basis"),
                "legal_refs": refs,
                "basis_quote": ci.get("basis_quote"),
                "relevant": relevant,
            }
        )
        out.append(
            {
                "id": f"{item_id}_note",
                "type": "text",
                "label": "问题描述（不符合的具体情况）",
                "required": True,
                "relevant": {"item": item_id, "equals": NON_COMPLIANT},
                "constraint": {"min_length": 4, "max_length": 500},
                "constraint_message": "请用4至500字描述发现的问题",
            }
        )
    return out


def items_for_task(form: dict[str, Any], task: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the business type's form followed by the judged items of the task's check items.

    Same list as the server's ``form_items_for_task``: the task's ``check_items`` (from
    ``GET /tasks``) carry the fields ``check_item_questions`` needs.
    """
    items = list(form.get("items") or [])
    check_items = task.get("check_items") or []
    if not check_items:
        return items
    return items + check_item_questions(check_items, inspectable_rule(items))


def relevant_items(items: list[dict[str, Any]], answers: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in items if is_relevant(item, answers)]


def clean_answers(items: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
    """Return the answers to submit: known, non-empty, relevant items only.

    A draft may still hold the answer to an item that a later change made irrelevant
    (ODK keeps it too, in case the inspector changes back); the server refuses such
    answers, so they are dropped here. Dropping one can make another irrelevant, so
    repeat until nothing changes.
    """
    known = {item["id"] for item in items}
    out = {k: v for k, v in answers.items() if k in known and not _empty(v)}
    while True:
        keep = {
            item["id"]: out[item["id"]]
            for item in items
            if item["id"] in out and is_relevant(item, out)
        }
        if keep == out:
            return out
        out = keep


def coerce(item: dict[str, Any], raw: Any) -> Any:
    """Turn what a widget holds (often text) into the answer's JSON value.

    Numbers typed as text become int or float; anything unparsable is kept as typed so
    the engine reports "请输入数字" instead of silently dropping it.
    """
    kind = item.get("type")
    if kind == "number" and isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return text
            return value if math.isfinite(value) else text
    if kind == "text" and isinstance(raw, str):
        return raw if raw.strip() else None
    return raw
