"""Filling an inspection form the way an inspector would, given what the inspection found.

The simulator decides *what* an inspection finds (from its hidden truth); this module
turns that into the answers a handheld would submit, item by item, so the result goes
through the same validation and the same service as a real submission.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

import numpy as np

from server.inspections.forms import DEFAULT_FOLLOW_UP, NON_COMPLIANT, derive_category, is_relevant

ZHEJIANG_BOX = (27.0, 31.2, 118.0, 122.9)  # lat min/max, lon min/max


def _problem_value(item: dict[str, Any]) -> Any:
    if item["type"] == "compliance":
        return NON_COMPLIANT
    rule = item["problem_if"]
    return rule[0] if isinstance(rule, list) else rule


def _judged(item: dict[str, Any]) -> bool:
    return item["type"] == "compliance" or (item.get("problem_if") is not None and not _is_site(item))


def _is_site(item: dict[str, Any]) -> bool:
    """The 现场情况 item: its choices other than "open" end the inspection."""
    return any(c.get("result_category") for c in item.get("choices") or [])


def _ok_value(item: dict[str, Any]) -> Any:
    kind = item["type"]
    if kind == "compliance":
        return "compliant"
    bad = item.get("problem_if")
    bad_values = bad if isinstance(bad, list) else [bad]
    if kind == "yes_no":
        return "no" if "yes" in bad_values else "yes"
    if kind == "choice":
        for choice in item.get("choices") or []:
            # the premises were inspected (a choice ending the inspection is not "ok")
            if choice["value"] not in bad_values and not choice.get("result_category"):
                return choice["value"]
    if kind == "multi_choice":
        return [c["value"] for c in item.get("choices") or [] if c["value"] not in bad_values][:1]
    return None


def fill_form(
    items: list[dict[str, Any]],
    problem_domains: set[str],
    *,
    seed: int,
    note: str = "现场检查",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return ``(answers, attachments)`` for ``items`` such that exactly the domains in
    ``problem_domains`` (among those the form covers) show a problem.

    Each domain's problem is recorded as 不符合 on its first judged item, with a finding
    note; the premises are inspected (现场情况 = 正常经营) unless a problem domain has no
    judged item but the site item (then the site item records it).
    """
    answers: dict[str, Any] = {}
    attachments: list[dict[str, Any]] = []
    any_problem = bool(problem_domains)
    flagged: set[str] = set()
    judged_domains = {i.get("domain") for i in items if _judged(i)}
    for item in items:
        if not is_relevant(item, answers):
            continue
        kind = item["type"]
        domain = item.get("domain")
        has_rule = item.get("problem_if") is not None or kind == "compliance"
        value: Any = None
        if _is_site(item):
            problem_here = domain in problem_domains and domain not in judged_domains
            value = _problem_value(item) if problem_here else _ok_value(item)
            if problem_here:
                flagged.add(domain)
        elif has_rule and kind in ("compliance", "yes_no", "choice", "multi_choice"):
            # A domain's problem is recorded on its first item; a domain-less verdict item
            # (the conclusion) follows whether anything was found.
            problem_here = (domain in problem_domains and domain not in flagged) if domain else any_problem
            value = _problem_value(item) if problem_here else _ok_value(item)
            if kind == "multi_choice" and not isinstance(value, list):
                value = [value]
            if problem_here and domain:
                flagged.add(domain)
        elif kind in ("yes_no", "choice", "multi_choice"):
            value = _ok_value(item) if item.get("required") else None
            if value is None and item.get("required"):
                choices = item.get("choices") or [{"value": "yes"}]
                value = choices[0]["value"] if kind != "multi_choice" else [choices[0]["value"]]
        elif kind == "number":
            c = item.get("constraint") or {}
            value = c.get("min", 0) if item.get("required") else None
        elif kind == "text":
            if item.get("required"):
                c = item.get("constraint") or {}
                value = (note * 4)[: max(c.get("min_length", 1), min(c.get("max_length", 20), 20))]
        elif kind in ("photo", "signature"):
            if item.get("required"):
                blob = attachment_bytes(kind, item["id"], seed)
                checksum = hashlib.sha256(blob).hexdigest()
                attachments.append({"item_id": item["id"], "kind": kind, "filename": f"{item['id']}.png",
                                    "checksum": checksum, "size": len(blob)})
                value = checksum
        elif kind == "location":
            if item.get("required"):
                lat0, lat1, lon0, lon1 = ZHEJIANG_BOX
                frac = (seed % 1000) / 1000
                value = {"lat": round(lat0 + (lat1 - lat0) * frac, 6), "lon": round(lon0 + (lon1 - lon0) * frac, 6),
                         "accuracy": 15.0}
        if value is not None:
            answers[item["id"]] = value
    return answers, attachments


def attachment_bytes(kind: str, item_id: str, seed: int) -> bytes:
    """The bytes whose checksum :func:`fill_form` declared: a PNG signature and a label (the
    server tells an image from its first bytes).
    """
    return b"\x89PNG\r\n\x1a\n" + f"{kind}:{item_id}:{seed}".encode()


def conclusion(items: list[dict[str, Any]], answers: dict[str, Any]) -> tuple[str, str]:
    """The inspector's 检查结论 for these answers: (result category, follow-up), as the
    handheld proposes it (problems found on the spot are ordered corrected).
    """
    category = derive_category(items, answers)
    return category, DEFAULT_FOLLOW_UP[category]


def submission_body(task: Any, form: Any, answers: dict[str, Any], attachments: list[dict[str, Any]], *,
                    rng: np.random.Generator, day: dt.date, minutes: int, device_id: str,
                    items: list[dict[str, Any]] | None = None,
                    start: dt.datetime | None = None) -> dict[str, Any]:
    """The body a handheld posts for ``task``: a fresh instance id (from ``rng``), the form's
    code and version, the answers and attachments, the conclusion (when ``items`` are given),
    and an inspection from 09:00 that day (or from ``start``, an aware time) lasting
    ``minutes``. The server refuses times before the task was created or ahead of its clock.
    """
    if start is not None:
        finish = start + dt.timedelta(minutes=minutes)
        started_at, completed_at = start.isoformat(timespec="seconds"), finish.isoformat(timespec="seconds")
    else:
        end = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(minutes=minutes)
        started_at, completed_at = f"{day.isoformat()}T09:00:00+08:00", f"{end.isoformat()}+08:00"
    extra: dict[str, Any] = {}
    if items is not None:
        extra["result_category"], extra["follow_up"] = conclusion(items, answers)
    return {**extra,
        "instance_id": str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | task.id)),
        "task_id": task.id,
        "form_code": form.code,
        "form_version": form.version,
        "answers": answers,
        "attachments": attachments,
        "started_at": started_at,
        "completed_at": completed_at,
        "device_id": device_id,
    }
