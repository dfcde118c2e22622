"""Server-side validation of a submitted form against its template, and its conclusion.

Item types: ``compliance`` (a judged item: "compliant" 符合 / "non_compliant" 不符合 /
"not_applicable" 不适用（合理缺项）), ``yes_no`` ("yes"/"no", a plain fact, never judged
on current forms), ``choice`` (one of ``choices``),
``multi_choice`` (list of choices), ``number``, ``text``, ``photo`` and ``signature``
(answered with the SHA-256 checksum(s) of declared attachments), ``location``
({"lat", "lon", "accuracy"?}). An item is *relevant* unless its ``relevant`` rule
({"item", "equals"}) is false; irrelevant items must be empty and are ignored.
A compliance item answered "non_compliant", or any relevant answer equal to (or
containing) ``problem_if``, is a problem found in the item's ``domain`` and is listed in
``failed_items`` by the item's ``check_item`` code (the item id when it has none).
"not_applicable" is not a problem and does not count its domain as checked.

The inspector's conclusion (检查结论) is a published result category
(:data:`server.inspections.results.RESULT_CATEGORIES`) and a follow-up; :func:`conclude`
checks it against the answers (or derives it for a handheld that does not send it), so a
violation is never stored as compliant.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from server.inspections.results import FOLLOW_UPS, PROBLEM_CATEGORIES, RESULT_CATEGORIES

#: A judged item's answers, value → what the inspection form prints.
COMPLIANCE = {"compliant": "符合", "non_compliant": "不符合", "not_applicable": "不适用（合理缺项）"}
NON_COMPLIANT = "non_compliant"

#: The follow-ups that agree with each result category (后续处置). A problem corrected on the
#: spot is ordered to be corrected (行政处罚法 第二十八条 责令改正); an entity that cannot be
#: reached or has not published its annual report is listed as abnormal
#: (企业信息公示暂行条例 第十七条); a refusal is published (同条例 第十五条) and may be referred.
FOLLOW_UPS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "no_problem": ("none",),
    "not_operating": ("none",),
    "problem_corrected": ("rectification_ordered", "rectified"),
    "problem_referred": ("case_referred", "case_filed"),
    "unreachable": ("listed_abnormal", "rectification_ordered", "none"),
    "annual_report_not_published": ("listed_abnormal", "rectification_ordered"),
    "refused": ("none", "case_referred", "case_filed", "listed_abnormal"),
}
#: The follow-up a category gets when the submission does not say (an older handheld).
DEFAULT_FOLLOW_UP = {category: options[0] for category, options in FOLLOW_UPS_BY_CATEGORY.items()}


@dataclass
class FormCheck:
    errors: dict[str, str] = field(default_factory=dict)
    problem_found: bool = False
    failed_items: list[str] = field(default_factory=list)
    problem_domains: list[str] = field(default_factory=list)
    checked_domains: list[str] = field(default_factory=list)
    summary: str | None = None


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def is_relevant(item: dict[str, Any], answers: dict[str, Any]) -> bool:
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


def _check_value(item: dict[str, Any], value: Any, declared: set[str]) -> str | None:
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
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return "请输入数字 (a number is required)"
        if "min" in constraint and value < constraint["min"] or "max" in constraint and value > constraint["max"]:
            return message or f"数值应在 {constraint.get('min', '-∞')} 到 {constraint.get('max', '∞')} 之间"
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
        if not values or any(not isinstance(v, str) or v.lower() not in declared for v in values):
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


def _is_problem(item: dict[str, Any], value: Any) -> bool:
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


def failed_code(item: dict[str, Any]) -> str:
    """What ``failed_items`` records for a failed item: its check item, else its id."""
    return str(item.get("check_item") or item["id"])


def _finding(item: dict[str, Any], answers: dict[str, Any], notes: dict[str, str]) -> str:
    """One failed item for the summary: its topic and check item, then the inspector's note
    (the text item that opens when it fails) or the chosen answer's label.
    """
    topic = item.get("topic") or item.get("label", item["id"])
    code = item.get("check_item")
    head = f"{topic}（{code}）" if code else str(topic)
    if item.get("type") == "choice":
        label = next((c.get("label") for c in item.get("choices") or [] if c["value"] == answers.get(item["id"])), None)
        return f"{head}：{label}" if label else head
    note = answers.get(notes.get(item["id"], ""))
    return f"{head}：{note}" if isinstance(note, str) and note.strip() else head


def check_answers(
    items: list[dict[str, Any]], answers: dict[str, Any], attachments: list[dict[str, Any]]
) -> FormCheck:
    """Validate ``answers``; return errors per item id and the problems found."""
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
        item_id = att.get("item_id") if isinstance(att, dict) else None
        # (a str check first: an unhashable item_id, e.g. a list, must be refused, not raise)
        if not isinstance(item_id, str) or item_id not in known or att.get("kind") not in ("photo", "signature"):
            out.errors["attachments"] = "附件声明不完整 (each attachment needs item_id, kind photo/signature, checksum)"
            break
        checksum = str(att.get("checksum", ""))
        if not re.fullmatch(r"[0-9a-fA-F]{64}", checksum):
            out.errors["attachments"] = "附件 checksum 应为 SHA-256 (checksum must be a sha256 hex digest)"
            break
    problems: list[dict[str, Any]] = []
    domains_checked: list[str] = []
    domains_problem: list[str] = []
    for item in items:
        item_id = item["id"]
        value = answers.get(item_id)
        if not is_relevant(item, answers):
            if not _empty(value):
                out.errors[item_id] = "该项当前不适用，不应填写 (item not relevant given earlier answers)"
            continue
        if _empty(value):
            if item.get("required"):
                out.errors[item_id] = f"必填项未填写：{item.get('label', item_id)} (required)"
            continue
        error = _check_value(item, value, declared)
        if error:
            out.errors[item_id] = error
            continue
        domain = item.get("domain")
        if domain and value != "not_applicable" and domain not in domains_checked:
            domains_checked.append(domain)
        if _is_problem(item, value):
            problems.append(item)
            if domain and domain not in domains_problem:
                domains_problem.append(domain)
    out.failed_items = list(dict.fromkeys(failed_code(item) for item in problems))
    out.problem_found = bool(problems)
    out.problem_domains = domains_problem
    out.checked_domains = domains_checked
    notes = {str(i["relevant"]["item"]): i["id"] for i in items if i.get("type") == "text" and i.get("relevant")}
    out.summary = ("发现问题：" + "；".join(_finding(item, answers, notes) for item in problems))[:500] if problems \
        else "未发现问题"
    return out


@dataclass
class Conclusion:
    """The inspector's conclusion, checked against the answers."""

    result_category: str | None
    follow_up: str | None
    problem_found: bool
    derived: bool
    allowed: list[str]
    errors: dict[str, str] = field(default_factory=dict)


def _is_site_item(item: dict[str, Any]) -> bool:
    return any(c.get("result_category") for c in item.get("choices") or [])


def _failed(items: list[dict[str, Any]], answers: dict[str, Any]) -> list[dict[str, Any]]:
    """Relevant items answered with a problem, other than the site item (its category says it)."""
    return [i for i in items if not _is_site_item(i) and is_relevant(i, answers)
            and _is_problem(i, answers.get(i["id"]))]


def _site_state(items: list[dict[str, Any]], answers: dict[str, Any]) -> tuple[bool, str | None, str | None]:
    """(form has a site item, the category its answer implies, that answer's label)."""
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


def allowed_categories(items: list[dict[str, Any]], answers: dict[str, Any]) -> tuple[list[str], str]:
    """The result categories that agree with ``answers``, and why (for messages).

    * any judged item 不符合 (or an answer equal to an item's ``problem_if``) → a problem category: 发现问题已责令改正 / 待后续处理, or the
      category the item stands for (the annual-report item → 未按规定公示年度报告), or what
      the site answer implies;
    * the site could not be inspected (无法联系 / 拒绝检查 / 停业) → that category;
    * otherwise 未发现问题; 未按规定公示年度报告 stands without an item only when the form
      has no answered annual-report item (it was checked on the publicity system).
    """
    relevant = [i for i in items if is_relevant(i, answers) and not _empty(answers.get(i["id"]))]
    failed = _failed(items, answers)
    has_site, site, site_label = _site_state(items, answers)
    annual_answered = any(i.get("result_category") == "annual_report_not_published" for i in relevant)
    if failed:
        allowed = {"problem_corrected", "problem_referred"} | {str(i["result_category"]) for i in failed
                                                                 if i.get("result_category")}
        if site:
            allowed.add(site)
        allowed &= PROBLEM_CATEGORIES
        shown = "、".join(failed_code(i) for i in failed[:3]) + (f" 等 {len(failed)} 项" if len(failed) > 3 else "")
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
    """The category of a submission that does not state one (an older handheld).

    Premises not found → unreachable; refused → refused; judged items 不符合: only the
    annual-report item → annual_report_not_published, any other → problem_corrected
    (with follow-up rectification_ordered, 行政处罚法 第二十八条 责令改正); premises
    closed → not_operating; otherwise no_problem.
    """
    _, site, _ = _site_state(items, answers)
    if site in ("unreachable", "refused"):
        return site
    failed = _failed(items, answers)
    if failed:
        if all(i.get("result_category") == "annual_report_not_published" for i in failed):
            return "annual_report_not_published"
        return "problem_corrected"
    return site or "no_problem"


def conclude(items: list[dict[str, Any]], answers: dict[str, Any], result_category: Any = None,
             follow_up: Any = None) -> Conclusion:
    """Check the stated conclusion against the answers, or derive it when absent.

    ``problem_found`` is true when the category is a problem category or any item failed;
    the rules of :func:`allowed_categories` make the two agree.
    """
    allowed, why = allowed_categories(items, answers)
    errors: dict[str, str] = {}
    derived = _empty(result_category)
    category = derive_category(items, answers) if derived else result_category
    if not isinstance(category, str) or category not in RESULT_CATEGORIES:
        errors["result_category"] = "请选择检查结论（公示结果类别） (unknown result category)"
        category = None
    elif category not in allowed:
        options = "、".join(f"“{RESULT_CATEGORIES[c]}”" for c in allowed)
        errors["result_category"] = (f"检查结论“{RESULT_CATEGORIES[category]}”与检查记录不符：{why}，"
                                     f"可选 {options} (result category contradicts the answers)")
    chosen = follow_up
    if _empty(chosen):
        # not stated (an older handheld): the follow-up the category implies
        chosen = DEFAULT_FOLLOW_UP.get(category) if category else None
    elif not isinstance(chosen, str) or chosen not in FOLLOW_UPS:
        errors["follow_up"] = "请选择有效的后续处置 (unknown follow-up)"
    elif category and chosen not in FOLLOW_UPS_BY_CATEGORY[category]:
        options = "、".join(f"“{FOLLOW_UPS[f]}”" for f in FOLLOW_UPS_BY_CATEGORY[category])
        errors["follow_up"] = (f"后续处置“{FOLLOW_UPS[chosen]}”与检查结论“{RESULT_CATEGORIES[category]}”不符，"
                               f"可选 {options} (follow-up contradicts the result category)")
    any_failed = any(_is_problem(i, answers.get(i["id"])) for i in items if is_relevant(i, answers))
    return Conclusion(category, chosen if isinstance(chosen, str) else None,
                      bool(category in PROBLEM_CATEGORIES or any_failed), derived, allowed, errors)


def inspectable_rule(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The relevance rule "the premises could be inspected", from the form's site item."""
    site = next((i for i in items if i.get("inspectable_if") is not None), None)
    return {"item": site["id"], "equals": site["inspectable_if"]} if site else None


def check_item_questions(check_items: list[dict[str, Any]],
                         relevant: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The judged items for each check item of the task (一单): the requirement as the
    catalogue states it, 符合 / 不符合 / 不适用, and for 不符合 a finding note and photo.

    The handheld appends these to the business type's form; the server validates the
    submission against the same list, so every domain a task checks can record a problem.
    ``relevant`` is the form's "premises could be inspected" rule (:func:`inspectable_rule`).
    """
    out: list[dict[str, Any]] = []
    for ci in check_items:
        refs = [{"law": ci["law"], "article": ci["article"]}] if ci.get("law") and ci.get("article") else []
        item_id = f"ci_{ci['code']}"
        out.append({
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
        })
        out.append({"id": f"{item_id}_note", "type": "text", "label": "问题描述（不符合的具体情况）",
                    "required": True, "relevant": {"item": item_id, "equals": NON_COMPLIANT},
                    "constraint": {"min_length": 4, "max_length": 500},
                    "constraint_message": "请用4至500字描述发现的问题"})
    return out
