"""Server-side validation of a submitted form against its template.

Item types: ``yes_no`` ("yes"/"no"), ``choice`` (one of ``choices``),
``multi_choice`` (list of choices), ``number``, ``text``, ``photo`` and ``signature``
(answered with the SHA-256 checksum(s) of declared attachments), ``location``
({"lat", "lon", "accuracy"?}). An item is *relevant* unless its ``relevant`` rule
({"item", "equals"}) is false; irrelevant items must be empty and are ignored.
A relevant answer equal to (or containing) ``problem_if`` means a problem was found
in the item's ``domain``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any


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
    problems: list[str] = []
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
        if domain and domain not in domains_checked:
            domains_checked.append(domain)
        if _is_problem(item, value):
            problems.append(item_id)
            if domain and domain not in domains_problem:
                domains_problem.append(domain)
    out.failed_items = problems
    out.problem_found = bool(problems)
    out.problem_domains = domains_problem
    out.checked_domains = domains_checked
    labels = {item["id"]: item.get("label", item["id"]) for item in items}
    out.summary = ("发现问题：" + "；".join(labels[p] for p in problems))[:500] if problems else "未发现问题"
    return out


def check_item_questions(check_items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One yes/no question per check item of the task (一单): "合规?" with its legal basis.

    The handheld appends these to the business type's form; the server validates the
    submission against the same list, so every domain a task checks can record a problem.
    """
    out = []
    for ci in check_items:
        refs = [{"law": ci["law"], "article": ci["article"]}] if ci.get("law") and ci.get("article") else []
        out.append({
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
        })
    return out
