"""The whole loop, period by period, through the real services and database.

Per period:

1. the province's data feeds advance (complaints, tests, prices, adverts …);
2. features are rebuilt from recorded data and snapshotted; the credit scorecard and the
   15 warning models are (re)trained on the outcomes recorded so far — only those — and
   score every entity; warnings are issued above the models' thresholds;
3. warnings are dispatched, accepted and handled by an inspection (a few entities turn
   out unreachable, a few warnings stay unhandled past their SLA, as in practice);
4. the supervisor's credit-weighted round and a uniform control round with the same
   budget are drawn, inspectors assigned;
5. every inspection happens: the simulator decides what it finds from its hidden truth
   and the result is submitted through the same service the handheld uses;
6. due results are published.

The hidden truth is used for exactly two things: the outcome of an inspection the
system asked for, and the ``true``/``oracle`` figures of the report.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from risk_models.registry import MODEL_NAMES
from server.analytics.services import rate_row
from server.auth.models import User
from server.inspections.services import BEIJING, form_items_for_task, receive_submission
from server.reference.models import FormTemplate
from server.simulation.answers import attachment_bytes, fill_form, submission_body
from server.tasks.models import Inspector, Task
from server.warnings.models import Warning

#: "Good credit, lower odds; bad credit, higher odds" (国市监信规〔2022〕1号: A-class entities
#: may be left without proactive on-site checks, D-class ones get higher ratios and
#: frequency): per-grade odds of being drawn, relative to B. At a 3 % quarterly budget this
#: inspects about 0.5 % of A, 2 % of B, 6 % of C and 20 % of D per quarter. The former
#: 0.4 / 1 / 2 / 4 spent most of the budget on A and B (75 % of entities) and reached only
#: 1.33x the random hit rate with the policy card (docs/credit.md).
GRADE_ODDS = {"A": 0.25, "B": 1.0, "C": 3.0, "D": 10.0}


@dataclass
class SimulationConfig:
    entities: int = 20_000
    periods: int = 4
    seed: int = 7
    budget: float = 0.03
    signal: float = 1.0
    period_days: int = 91
    start: dt.date = dt.date(2026, 1, 5)
    unhandled_share: float = 0.05  # warnings left past SLA (capacity), as in the field
    unreachable_share: float = 0.02


def stratified_ratios(grade_counts: dict[str, int], budget_n: float) -> dict[str, float]:
    """Per-grade ratios proportional to :data:`GRADE_ODDS` spending ``budget_n`` inspections."""
    weight = sum(GRADE_ODDS[g] * n for g, n in grade_counts.items())
    if weight == 0:
        return {g: 0.0 for g in GRADE_ODDS}
    scale = budget_n / weight
    ratios = {g: min(1.0, GRADE_ODDS[g] * scale) for g in GRADE_ODDS}
    return ratios


class InspectorUsers:
    """One login per inspector, created when first needed (submissions carry a user)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[int, User] = {}

    def for_inspector(self, inspector_id: int) -> User:
        user = self.cache.get(inspector_id)
        if user is None:
            user = self.session.scalar(select(User).where(User.inspector_id == inspector_id))
            if user is None:
                ins = self.session.get(Inspector, inspector_id)
                assert ins is not None
                user = User(username=f"insp{inspector_id:05d}", display_name=ins.name, roles="inspector",
                            department_code=ins.department_code, inspector_id=inspector_id,
                            password_hash="!")  # cannot log in: used by the simulator only
                self.session.add(user)
                self.session.flush()
            self.cache[inspector_id] = user
        return user


def inspect_tasks(
    session: Session,
    province: Any,
    tasks: list[Task],
    *,
    on: dt.date,
    rng: np.random.Generator,
    users: InspectorUsers,
) -> list[dict[str, Any]]:
    """Carry out ``tasks``: nature decides what is found, the handheld's service records it."""
    if not tasks:
        return []
    forms = {f.code: f for f in session.scalars(select(FormTemplate).where(FormTemplate.current.is_(True)))}
    plans = []
    for task in tasks:
        form = forms[task.form_code]
        items = form_items_for_task(session, task, form)
        checked = sorted({i["domain"] for i in items if i.get("domain")})
        plans.append((task, form, items, checked))
    found = province.inspect(
        np.array([t.entity_id for t, *_ in plans], dtype=np.int64), [p[3] for p in plans], on=on, rng=rng)
    out = []
    for (task, form, items, _checked), problems in zip(plans, found, strict=True):
        lead = min(task.assignments, key=lambda a: (not a.lead, a.id))
        answers, attachments = fill_form(items, set(problems), seed=task.id)
        body = submission_body(task, form, answers, attachments, rng=rng, day=on, minutes=60,
                               device_id="simulator", items=items)
        # the photos and signatures travel with the result (one unit), on the simulated clock
        files = {a["checksum"]: attachment_bytes(a["kind"], a["item_id"], task.id) for a in attachments}
        outcome = receive_submission(session, users.for_inspector(lead.inspector_id), body,
                                     now=dt.datetime.combine(on, dt.time(18), tzinfo=BEIJING),
                                     files=files, directory=current_app.config["ATTACHMENT_DIR"])
        assert outcome.result is not None
        out.append({"task_id": task.id, "channel": task.channel, "entity_id": task.entity_id,
                    "problem": outcome.result.problem_found})
    return out


def channel_figures(results: list[dict[str, Any]], channel: str) -> dict[str, Any]:
    n = sum(1 for r in results if r["channel"] == channel)
    k = sum(1 for r in results if r["channel"] == channel and r["problem"])
    row = rate_row(channel, channel, n, k)
    return {"inspections": n, "problems": k, "hit_rate": row["hit_rate"] or 0.0, "ci95": row["ci95"]}


def progress_bar(total: int, enabled: bool) -> Callable[[str], None]:
    from tqdm import tqdm

    bar = tqdm(total=total, file=sys.stderr, disable=not enabled, desc="simulate", unit="step")

    def step(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update(1)

    return step


__all__ = [
    "MODEL_NAMES",
    "InspectorUsers",
    "SimulationConfig",
    "Warning",
    "channel_figures",
    "inspect_tasks",
    "progress_bar",
    "stratified_ratios",
]
