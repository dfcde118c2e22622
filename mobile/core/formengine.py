"""The inspection form on the device: relevance, required items, constraints, problems.

This mirrors ``server/inspections/forms.py`` rule for rule and message for message, so
that an inspector sees on the device exactly the objection the server would raise
(ODK Collect validates the same way before a form may be finalised). The mobile app
never imports ``server``; ``tests/mobile/test_formengine.py`` checks the two agree.

Item types: ``yes_no`` ("yes"/"no"), ``choice``, ``multi_choice`` (list), ``number``,
``text``, ``photo``/``signature`` (the SHA-256 checksum(s) of attachments), and
``location`` ({"lat", "lon", "accuracy"?}).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FormCheck",
    "check_answers",
    "check_item_questions",
    "clean_answers",
    "coerce",
    "is_problem",
    "is_relevant",
    "item_error",
    "items_for_task",
    "relevant_items",
]


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
    if kind == "yes_no":
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
    """Whether an answer equals (or contains) the item's ``problem_if``."""
    rule = item.get("problem_if")
    if rule is None or _empty(value):
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
    problems: list[str] = []
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
        if domain and domain not in out.checked_domains:
            out.checked_domains.append(domain)
        if is_problem(item, value):
            problems.append(item_id)
            if domain and domain not in out.problem_domains:
                out.problem_domains.append(domain)
    out.failed_items = problems
    out.problem_found = bool(problems)
    labels = {item["id"]: item.get("label", item["id"]) for item in items}
    out.summary = (
        ("发现问题：" + "；".join(labels[p] for p in problems))[:500] if problems else "未发现问题"
    )
    return out


def check_item_questions(check_items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One yes/no question per check item of the task, built as the server builds it."""
    out = []
    for ci in check_items:
        refs = (
            [{"law": ci["law"], "article": ci["article"]}]
            if ci.get("law") and ci.get("article")
            else []
        )
        out.append(
            {
                "id": f"ci_{ci['code']}",
                "type": "yes_no",
                "label": f"{ci['item']}：是否符合规定",
                "required": True,
                "problem_if": "no",
                "domain": ci.get("domain"),
                "check_item": ci["code"],
                "legal_basis": ci.get("legal_basis"),
                "legal_refs": refs,
                "relevant": None,
            }
        )
    return out


def items_for_task(form: dict[str, Any], task: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the business type's form followed by one question per check item of the task.

    Same list as the server's ``form_items_for_task``: the task's ``check_items`` (from
    ``GET /tasks``) carry the fields ``check_item_questions`` needs.
    """
    items = list(form.get("items") or [])
    check_items = task.get("check_items") or []
    if not check_items:
        return items
    return items + check_item_questions(check_items)


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
