"""The warning loop: 风险发现 → 处置跟踪 → 结果反馈.

The lifecycle is an explicit state machine (:data:`TRANSITIONS`)::

    issued ─► dispatched ─► accepted ─► in_handling ─► handled ─► closed
      │            │            │
      ├─► merged   └────────────┴─► dismissed (supervisor, with a reason)
      └─► dismissed

``overdue`` is a flag, not a state: a warning past its SLA (working days per level)
stays where it is, is flagged overdue and escalated to the department's supervisor.
Every transition is audited. A warning handled by an inspection is closed
automatically when the inspection's result arrives, with the outcome as feedback:
the label the raising model learns from and the figure its precision is tracked by.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Integer, and_, func, select, update
from sqlalchemy.orm import Session

from server.audit.services import record, record_many
from server.auth.models import User
from server.entities.models import Entity
from server.errors import DomainError, Forbidden, Invalid, NotFound
from server.inspections.models import InspectionResult
from server.reference.models import BusinessType, CheckItem, Department, FormTemplate
from server.tasks.models import Inspector, Task, TaskAssignment
from server.warnings.labels import model_label
from server.warnings.models import Warning, WarningTransition
from server.workdays import WorkCalendar

STATES: dict[str, str] = {
    "issued": "已发布",
    "dispatched": "已派发",
    "accepted": "已签收",
    "in_handling": "处置中",
    "handled": "已处置",
    "closed": "已办结",
    "merged": "已合并",
    "dismissed": "已撤销",
}
OPEN_STATES = ("issued", "dispatched", "accepted", "in_handling")
OUTCOMES: dict[str, str] = {
    "problem_confirmed": "核实存在问题",
    "no_problem": "未发现问题",
    "unreachable": "主体无法联系或已关闭",
}
HANDLING: dict[str, str] = {"inspection": "现场检查", "desk_check": "书面核查"}

#: Legal moves: from-state → allowed to-states.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "issued": ("dispatched", "merged", "dismissed"),
    "dispatched": ("accepted", "dismissed"),
    "accepted": ("in_handling", "dismissed"),
    "in_handling": ("handled",),
    "handled": ("closed",),
    "closed": (),
    "merged": (),
    "dismissed": (),
}
LEVEL_RANK = {"yellow": 1, "orange": 2, "red": 3}


class IllegalTransition(DomainError):
    status, code = 409, "illegal_transition"


@dataclass(frozen=True)
class IssueBatch:
    """Warnings one model raises in one scoring run (arrays aligned by row)."""

    model: str
    model_version: str
    entity_ids: np.ndarray
    scores: np.ndarray
    levels: Sequence[str]
    reasons: Sequence[list[dict[str, Any]]]
    legal_basis: Sequence[list[dict[str, Any]]]  # per row: the cited article first


def sla_due(calendar: WorkCalendar, issued_on: dt.date, level: str, sla: dict[str, int]) -> dt.date:
    return calendar.add(issued_on, int(sla[level]))


def department_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Department.code, Department.name)).all())


def department_index(session: Session) -> dict[tuple[str, str], str]:
    """(city code, domain) → department code handling it."""
    out: dict[tuple[str, str], str] = {}
    for dept in session.scalars(select(Department)):
        for domain in dept.domains or []:
            out.setdefault((dept.region_code[:4], domain), dept.code)
    return out


def issue_warnings(
    session: Session, batch: IssueBatch, *, today: dt.date, calendar: WorkCalendar, sla: dict[str, int],
    actor: str = "system",
) -> dict[str, int]:
    """Store a model's new warnings; an entity with an open warning of the same model
    gets the new one merged into it (and its level raised if the new one is higher).
    """
    n = len(batch.entity_ids)
    if n == 0:
        return {"issued": 0, "merged": 0}
    entity_ids = [int(e) for e in batch.entity_ids]
    regions = dict(session.execute(select(Entity.id, Entity.region_code).where(Entity.id.in_(entity_ids))).all())
    open_rows = session.execute(
        select(Warning.entity_id, Warning.id, Warning.level)
        .where(Warning.model == batch.model, Warning.state.in_(OPEN_STATES), Warning.entity_id.in_(entity_ids))
    ).all()
    open_by_entity = {e: (wid, lvl) for e, wid, lvl in open_rows}
    rows: list[dict[str, Any]] = []
    raises: list[tuple[int, str, float]] = []
    for i, entity_id in enumerate(entity_ids):
        level = batch.levels[i]
        existing = open_by_entity.get(entity_id)
        if existing and LEVEL_RANK[level] > LEVEL_RANK[existing[1]]:
            raises.append((existing[0], level, float(batch.scores[i])))
        rows.append({
            "entity_id": entity_id,
            "model": batch.model,
            "model_version": batch.model_version,
            "score": float(batch.scores[i]),
            "level": level,
            "reasons": batch.reasons[i],
            "legal_basis": batch.legal_basis[i],
            "state": "merged" if existing else "issued",
            "merged_into_id": existing[0] if existing else None,
            "region_code": regions[entity_id],
            "issued_on": today,
            "due_on": sla_due(calendar, today, level, sla),
            "department_code": None,
        })
    session.execute(Warning.__table__.insert(), rows)
    for wid, level, score in raises:
        session.execute(update(Warning).where(Warning.id == wid).values(
            level=level, score=score, due_on=sla_due(calendar, today, level, sla)))
    merged = sum(1 for r in rows if r["state"] == "merged")
    record(session, actor, "warning.issue", "model", batch.model, version=batch.model_version,
           issued=n - merged, merged=merged, on=today.isoformat())
    return {"issued": n - merged, "merged": merged}


def _get(session: Session, warning_id: int, *, lock: bool = False) -> Warning:
    q = select(Warning).where(Warning.id == warning_id)
    if lock:
        q = q.with_for_update()
    warning = session.scalar(q)
    if warning is None:
        raise NotFound(f"预警不存在 (no warning {warning_id})")
    return warning


def _department_name(session: Session | None, code: str | None) -> str:
    if not code:
        return ""
    dept = session.get(Department, code) if session is not None else None
    return dept.name if dept else code


def _illegal(warning: Warning, target: str) -> IllegalTransition | None:
    """The state machine's refusal of ``warning`` → ``target`` (None: the move exists)."""
    if target in TRANSITIONS[warning.state]:
        return None
    allowed = ", ".join(TRANSITIONS[warning.state]) or "无 (none: final state)"
    return IllegalTransition(
        f"预警 {warning.id} 当前为“{STATES[warning.state]}”，不能转为“{STATES[target]}” "
        f"(illegal transition {warning.state} → {target}; allowed: {allowed})"
    )


def refusal(
    session: Session | None, warning: Warning, target: str, user: User | None, *,
    index: dict[tuple[str, str], str] | None = None,
) -> DomainError | None:
    """Why ``user`` may not move ``warning`` to ``target`` now (``None``: the move is allowed).

    The one place the rules live: who may act (a supervisor of the handling department,
    of the warning's region while it is undispatched; an admin; the system), the state
    machine, and the handling path (an inspection warning closes with its inspection
    result, never by hand; merging happens when a duplicate is issued). The console's
    buttons, the API's ``allowed`` field and the transition endpoint all ask it.
    """
    if target not in STATES:
        return Invalid(f"未知的预警状态“{target}” (unknown state); 可用: "
                       + "、".join(f"{v}（{k}）" for k, v in STATES.items()), field="to")
    if user is not None and not user.has_role("admin"):
        if not user.has_role("supervisor"):
            return Forbidden("只有科室负责人可以处置预警 (only a supervisor may move a warning)")
        dept = user.department_code
        if dept and warning.department_code is None and dept[:4] != warning.region_code[:4]:
            return Forbidden("不能处置其他地区的预警 (warning belongs to another region)")
        if dept and warning.department_code and dept != warning.department_code:
            handler = _department_name(session, warning.department_code)
            if warning.dispatched_from == dept:
                return Forbidden(f"该预警已移交“{handler}”承办，本科室只能查看办理进度 "
                                 f"(dispatched to another department: read-only)")
            return Forbidden(f"该预警属于“{handler}”，不属于您的科室 (warning of another department)")
    illegal = _illegal(warning, target)
    if illegal is not None:
        return illegal
    if target == "merged" and user is not None:
        return IllegalTransition(
            "同一主体同一模型的重复预警在发布时自动合并，不能手工合并；误报请“撤销”并填写理由 "
            "(merging is automatic)")
    if target == "handled" and warning.handling == "inspection":
        return IllegalTransition(
            "该预警按“现场检查”处置，由检查结果自动办结，不能手工标记“已处置” "
            "(inspection warnings close with the inspection result)")
    if target == "dispatched" and session is not None:
        index = department_index(session) if index is None else index
        if (warning.region_code[:4], warning.model) not in index:
            return IllegalTransition("该地区没有负责此领域的科室，无法派发 (no department handles this domain)")
    return None


def allowed_transitions(
    session: Session | None, warning: Warning, user: User | None, *,
    index: dict[tuple[str, str], str] | None = None,
) -> list[str]:
    """The states ``user`` may move ``warning`` to now (in state-machine order)."""
    if session is not None and index is None and warning.state == "issued":
        index = department_index(session)
    return [t for t in TRANSITIONS[warning.state]
            if refusal(session, warning, t, user, index=index) is None]


def handed_over(warning: Warning, user: User | None) -> bool:
    """True when ``user``'s department dispatched ``warning`` to another department."""
    dept = user.department_code if user is not None else None
    return bool(dept and warning.dispatched_from == dept and warning.department_code != dept)


def sla_status(warning: Warning, *, today: dt.date, calendar: WorkCalendar | None = None) -> dict[str, Any]:
    """The SLA as the dispatcher and the handler read it: deadline, overdue, working days left."""
    cal = calendar or WorkCalendar()
    open_ = warning.state in OPEN_STATES
    overdue = bool(warning.overdue or (open_ and warning.due_on < today))
    left = None
    if open_:
        left = cal.between(today, warning.due_on) if warning.due_on >= today else -cal.between(warning.due_on, today)
    return {"due_on": warning.due_on.isoformat(), "overdue": overdue, "working_days_left": left,
            "handled_on": warning.handled_on.isoformat() if warning.handled_on else None}


def _check_actor(user: User | None, warning: Warning, target: str, session: Session | None = None) -> None:
    err = refusal(session, warning, target, user)
    if err is not None:
        raise err


def transition(
    session: Session,
    warning: Warning,
    target: str,
    *,
    actor: str,
    note: str | None = None,
    today: dt.date | None = None,
    **changes: Any,
) -> Warning:
    """Move ``warning`` to ``target`` if the state machine allows it (caller commits)."""
    if target not in STATES:
        raise Invalid(f"未知状态 (unknown state) {target!r}; 可用: {', '.join(STATES)}")
    illegal = _illegal(warning, target)
    if illegal is not None:
        raise illegal
    before = warning.state
    warning.state = target
    for key, value in changes.items():
        setattr(warning, key, value)
    if target == "handled":
        warning.handled_on = today or dt.date.today()
    session.add(WarningTransition(warning_id=warning.id, from_state=before, to_state=target, actor=actor, note=note))
    record(session, actor, f"warning.{target}", "warning", warning.id, from_state=before, note=note,
           **{k: v for k, v in changes.items() if isinstance(v, str | int | float | type(None))})
    return warning


def dispatch(session: Session, warning_ids: Iterable[int], *, user: User | None, actor: str,
             today: dt.date | None = None) -> dict[str, Any]:
    """Bulk-dispatch issued warnings to the department handling their domain and region."""
    index = department_index(session)
    done, failed = [], {}
    for wid in warning_ids:
        warning = _get(session, wid, lock=True)
        dept = index.get((warning.region_code[:4], warning.model))
        if dept is None:
            failed[wid] = (f"该地区没有负责“{model_label(warning.model)}”的科室 "
                           f"(no department handles this domain in the region)")
            continue
        try:
            err = refusal(session, warning, "dispatched", user, index=index)
            if err is not None:
                raise err
            transition(session, warning, "dispatched", actor=actor, department_code=dept, today=today,
                       dispatched_from=user.department_code if user is not None else None)
        except DomainError as exc:
            failed[wid] = exc.message
            continue
        done.append(wid)
    session.commit()
    return {"dispatched": done, "failed": failed}


def start_inspection(
    session: Session, warning: Warning, *, actor: str, today: dt.date, inspectors: Sequence[int] | None = None,
    per_task: int = 2, rng: Any = None,
) -> Task:
    """Create the warning's inspection task (pushed to the handheld) and assign inspectors."""
    from sampling.assign import assign_inspectors

    entity = session.get(Entity, warning.entity_id)
    assert entity is not None
    btype = session.get(BusinessType, entity.business_type)
    form_code = btype.form_code if btype else "general"
    form = session.scalar(select(FormTemplate).where(FormTemplate.code == form_code, FormTemplate.current.is_(True)))
    on_form = {str(i["id"]).upper() for i in (form.items if form else [])}
    # the warning's domain items the business type's form does not already ask
    items = [c for c in session.scalars(select(CheckItem.code).where(CheckItem.domain == warning.model)
                                        .order_by(CheckItem.code)) if c not in on_form]
    if inspectors is not None:
        # named inspectors (a supervisor's choice) must be active staff of the handling
        # department certified for the warning's domain, like drawn ones
        named = set(inspectors)
        fit = set(session.scalars(select(Inspector.id).where(
            Inspector.id.in_(named), Inspector.active.is_(True),
            Inspector.department_code == (warning.department_code or ""))))
        fit &= {i for i, domains in session.execute(select(Inspector.id, Inspector.domains)
                                                    .where(Inspector.id.in_(fit))) if warning.model in (domains or [])}
        if named - fit or len(named) < per_task:
            raise Invalid(f"执法人员 {', '.join(map(str, sorted(named - fit)))} 不具备 {warning.model} 执法资格或不属于"
                          f" {warning.department_code}；每项检查至少 {per_task} 人 (inspectors not qualified)",
                          field="inspectors")
    task = Task(
        entity_id=entity.id, channel="warning", warning_id=warning.id,
        department_code=warning.department_code or "", state="assigned",
        form_code=form_code, check_items=items,
        domains=[warning.model], due_on=warning.due_on,
    )
    session.add(task)
    session.flush()
    if inspectors is None:
        pool = session.execute(
            select(Inspector.id, Inspector.domains).where(
                Inspector.department_code == warning.department_code, Inspector.active.is_(True))
        ).all()
        qualified = np.array([i for i, domains in pool if warning.model in (domains or [])], dtype=np.int64)
        recused = set(session.scalars(select(TaskAssignment.inspector_id).join(Task).where(
            Task.entity_id == entity.id, Task.id != task.id)))
        load = dict(session.execute(
            select(TaskAssignment.inspector_id, func.count()).join(Task)
            .where(Task.state.in_(("assigned", "in_progress")), TaskAssignment.inspector_id.in_(qualified.tolist()))
            .group_by(TaskAssignment.inspector_id)).all())
        if len(qualified) < per_task:
            raise Invalid(f"{warning.department_code} 具备 {warning.model} 资质的执法人员不足 {per_task} 人 "
                          f"(not enough qualified inspectors)")
        eligible = np.ones((1, len(qualified)), dtype=bool)
        recusal = [(0, j) for j, ins in enumerate(qualified) if ins in recused]
        if len(qualified) - len(recusal) < per_task:
            recusal = []  # too few left: recusal of the previous inspectors cannot be honoured
        assignment = assign_inspectors(
            np.zeros(1, dtype=np.int64), eligible, per_task=per_task,
            workload=np.array([load.get(int(i), 0) for i in qualified], dtype=np.int64),
            recusal=np.array(recusal, dtype=np.int64).reshape(-1, 2), rng=rng,
        )
        chosen = [int(qualified[j]) for j in assignment.inspectors[0] if j >= 0]
    else:
        chosen = list(inspectors)
    for k, ins in enumerate(chosen):
        session.add(TaskAssignment(task_id=task.id, inspector_id=ins, lead=k == 0))
    transition(session, warning, "in_handling", actor=actor, handling="inspection", today=today)
    record(session, actor, "task.assign", "task", task.id, inspectors=chosen, warning=warning.id)
    return task


def apply_transition(
    session: Session, warning_id: int, target: str, *, user: User | None, actor: str,
    note: str | None = None, outcome: str | None = None, handling: str | None = None,
    today: dt.date | None = None,
) -> Warning:
    """A transition requested by a person (API/console): checks role, department, order."""
    today = today or dt.date.today()
    warning = _get(session, warning_id, lock=True)
    _check_actor(user, warning, target, session)
    if target == "dismissed" and not (note and note.strip()):
        raise Invalid("撤销预警必须填写理由 (a reason is required to dismiss a warning)", field="note")
    if target == "dispatched":
        dept = department_index(session)[(warning.region_code[:4], warning.model)]
        transition(session, warning, target, actor=actor, note=note, department_code=dept, today=today,
                   dispatched_from=user.department_code if user is not None else None)
    elif target == "in_handling":
        mode = handling or "inspection"
        if mode not in HANDLING:
            raise Invalid("处置方式应为 " + "、".join(f"{v}（{k}）" for k, v in HANDLING.items())
                          + " (handling must be inspection or desk_check)", field="handling")
        if mode == "inspection":
            start_inspection(session, warning, actor=actor, today=today)
        else:
            transition(session, warning, target, actor=actor, note=note, handling="desk_check", today=today)
    elif target == "handled":
        if outcome not in OUTCOMES:
            raise Invalid("请选择处置结果：" + "、".join(f"{v}（{k}）" for k, v in OUTCOMES.items())
                          + " (outcome required)", field="outcome")
        transition(session, warning, target, actor=actor, note=note, outcome=outcome, today=today)
        _close_with_merged(session, warning, actor=actor, today=today)
    else:
        transition(session, warning, target, actor=actor, note=note, today=today)
    session.commit()
    return warning


def _close_with_merged(session: Session, warning: Warning, *, actor: str, today: dt.date) -> None:
    transition(session, warning, "closed", actor=actor, note="结果已反馈 (feedback recorded)", today=today)
    session.execute(update(Warning).where(Warning.merged_into_id == warning.id).values(
        outcome=warning.outcome, handled_on=warning.handled_on))


def feedback_from_result(session: Session, warning_id: int, result: InspectionResult, *, actor: str) -> Warning:
    """Close a warning with the inspection's outcome (called inside the result's transaction)."""
    warning = _get(session, warning_id, lock=True)
    if warning.state != "in_handling":
        # e.g. a round task that also answers a warning not yet in handling: take it there first.
        for step in ("dispatched", "accepted", "in_handling"):
            if warning.state in ("closed", "dismissed", "merged", "handled"):
                return warning
            if step in TRANSITIONS[warning.state]:
                transition(session, warning, step, actor=actor, handling="inspection", today=result.inspected_on)
    outcome = "problem_confirmed" if result.problem_found else "no_problem"
    transition(session, warning, "handled", actor=actor, outcome=outcome, today=result.inspected_on,
               note=result.summary)
    _close_with_merged(session, warning, actor=actor, today=result.inspected_on)
    return warning


def mark_overdue(session: Session, *, today: dt.date, actor: str = "system") -> int:
    """Flag (and escalate) open warnings past their SLA due date; audited in one batch."""
    ids = list(session.scalars(select(Warning.id).where(
        Warning.state.in_(OPEN_STATES), Warning.due_on < today, Warning.overdue.is_(False))))
    if not ids:
        return 0
    session.execute(update(Warning).where(Warning.id.in_(ids)).values(overdue=True, escalated=True))
    record_many(session, actor, [("warning.overdue", "warning", wid, {"on": today.isoformat()}) for wid in ids])
    session.commit()
    return len(ids)


def close_unreachable(session: Session, warning: Warning, *, actor: str, today: dt.date, note: str) -> None:
    """An inspection found the entity gone: handled as unreachable, then closed."""
    if warning.state == "in_handling" and warning.handling == "inspection":
        transition(session, warning, "handled", actor=actor, outcome="unreachable", today=today, note=note)
        _close_with_merged(session, warning, actor=actor, today=today)


@dataclass
class LoopFigures:
    issued: int
    handled: int
    handling_rate: float | None
    entities: int
    problem_entities: int
    hit_rate: float | None
    random_inspections: int
    random_problems: int
    random_hit_rate: float | None
    lift: float | None
    overdue: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def loop_figures(session: Session, *, start: dt.date | None = None, end: dt.date | None = None,
                 region: str | None = None) -> LoopFigures:
    """The seed table: issued, handled (rate), entities, problem entities, hit rate vs random."""
    conds = [Warning.state != "merged"]
    if start:
        conds.append(Warning.issued_on >= start)
    if end:
        conds.append(Warning.issued_on <= end)
    if region:
        conds.append(Warning.region_code.like(f"{region.rstrip('0')}%"))
    where = and_(*conds)
    issued = session.scalar(select(func.count()).select_from(Warning).where(where)) or 0
    handled_where = and_(where, Warning.outcome.is_not(None))
    handled = session.scalar(select(func.count()).select_from(Warning).where(handled_where)) or 0
    entities = session.scalar(select(func.count(func.distinct(Warning.entity_id))).where(handled_where)) or 0
    problem_entities = session.scalar(select(func.count(func.distinct(Warning.entity_id))).where(
        handled_where, Warning.outcome == "problem_confirmed")) or 0
    overdue = session.scalar(select(func.count()).select_from(Warning).where(where, Warning.overdue.is_(True))) or 0
    rconds = [InspectionResult.channel == "random"]
    if start:
        rconds.append(InspectionResult.inspected_on >= start)
    if end:
        rconds.append(InspectionResult.inspected_on <= end)
    rq = select(func.count(), func.coalesce(func.sum(func.cast(InspectionResult.problem_found, Integer)), 0))
    if region:
        rq = rq.join(Entity, Entity.id == InspectionResult.entity_id)
        rconds.append(Entity.region_code.like(f"{region.rstrip('0')}%"))
    r_n, r_k = session.execute(rq.where(*rconds)).one()
    hit = problem_entities / entities if entities else None
    r_hit = r_k / r_n if r_n else None
    return LoopFigures(
        issued=issued, handled=handled, handling_rate=handled / issued if issued else None,
        entities=entities, problem_entities=problem_entities, hit_rate=hit,
        random_inspections=int(r_n), random_problems=int(r_k), random_hit_rate=r_hit,
        lift=(hit / r_hit) if hit is not None and r_hit else None, overdue=overdue,
    )


def board_query(*, model: str | None = None, level: str | None = None, state: str | None = None,
                region: str | None = None, overdue: bool | None = None, department: str | None = None) -> Any:
    q = select(Warning).order_by(Warning.issued_on.desc(), Warning.id.desc())
    if model:
        q = q.where(Warning.model == model)
    if level:
        q = q.where(Warning.level.in_(level.split(",")))
    if state:
        q = q.where(Warning.state.in_(state.split(",")))
    else:
        q = q.where(Warning.state != "merged")
    if region:
        q = q.where(Warning.region_code.like(f"{region.rstrip('0')}%"))
    if overdue is not None:
        q = q.where(Warning.overdue.is_(overdue))
    if department:
        q = q.where(Warning.department_code == department)
    return q


def visible_to(user: User, q: Any) -> Any:
    """Inspectors see the warnings of their own tasks; supervisors their department's
    (plus undispatched ones of their region, plus, read-only, those their department
    dispatched to another one); analysts and admins all.
    """
    if user.has_role("admin", "analyst"):
        return q
    if user.has_role("supervisor"):
        if not user.department_code:
            return q
        return q.where((Warning.department_code == user.department_code)
                       | (Warning.dispatched_from == user.department_code)
                       | (Warning.department_code.is_(None)
                          & Warning.region_code.like(f"{user.department_code[:4]}%")))
    if user.inspector_id is None:
        return q.where(False)
    own = select(Task.warning_id).join(TaskAssignment).where(
        TaskAssignment.inspector_id == user.inspector_id, Task.warning_id.is_not(None))
    return q.where(Warning.id.in_(own))


def handed_over_filter(user: User, q: Any, handed: bool | None) -> Any:
    """``handed``: only (True) or none of (False) the warnings ``user``'s department
    dispatched to another department (已移交); ``None``: no filter.
    """
    dept = user.department_code
    if handed is None:
        return q
    if not dept:
        return q.where(False) if handed else q
    cond = (Warning.dispatched_from == dept) & (Warning.department_code != dept)
    return q.where(cond) if handed else q.where(~cond | Warning.dispatched_from.is_(None))
