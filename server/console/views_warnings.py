"""Warning board with bulk dispatch, one warning's history, inspectors' workload, entity profile."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from risk_models.base import LEVEL_NAMES
from risk_models.registry import MODEL_NAMES
from server.auth.decorators import OFFICE, STAFF, current_user, roles_required
from server.console import charts
from server.console.common import DISPATCH, table
from server.console.views import bp
from server.entities.models import Entity
from server.entities.profile import entity_profile
from server.errors import DomainError, Invalid, NotFound
from server.extensions import db
from server.reference.models import Department
from server.risk.models import risk_scores
from server.rounds.models import DrawnEntity, SamplingRound
from server.tasks.models import CHANNELS, TASK_STATES, Task, TaskAssignment
from server.tasks.services import inspector_workload
from server.warnings import services as warnings
from server.warnings.labels import model_label
from server.warnings.models import Warning
from server.workdays import calendar_from_config

PER_PAGE = 50


#: Board tabs of a supervisor with a department: its own and to-dispatch warnings, and
#: those it dispatched to another department (已移交, read-only).
TABS: dict[str, str] = {"mine": "本科室预警", "handed_over": "已移交"}


def _tab(args: Mapping[str, str], user: Any) -> str | None:
    """The board tab (``None`` for users without a department: no tabs, everything visible)."""
    if user is None or not user.department_code or user.has_role("admin", "analyst"):
        return None
    tab = args.get("tab") or "mine"
    if tab not in TABS:
        raise Invalid(f"未知的看板页签“{tab}”，可选：" + "、".join(TABS.values()), field="tab")
    return tab


def _board_filters(args: Mapping[str, str]) -> dict[str, Any]:
    overdue = {"1": True, "0": False}.get(args.get("overdue", ""))
    region = (args.get("region") or "").strip() or None
    if region and not (region.isdigit() and 2 <= len(region) <= 6):
        raise Invalid(f"地区代码应为 2–6 位数字 (region={region!r})", field="region")
    return {
        "model": args.get("model") or None,
        "level": args.get("level") or None,
        "state": args.get("state") or None,
        "region": region,
        "overdue": overdue,
    }


def _board(session: Session, filters: Mapping[str, Any], tab: str | None = None) -> Any:
    user = current_user()
    assert user is not None
    q = warnings.visible_to(user, warnings.board_query(**filters))
    return warnings.handed_over_filter(user, q, None if tab is None else tab == "handed_over")


def _rows(session: Session, items: list[Warning], *, today: dt.date | None = None) -> list[dict[str, Any]]:
    user = current_user()
    today = today or dt.date.today()
    calendar = calendar_from_config(current_app.config)
    index = warnings.department_index(session)
    names = warnings.department_names(session)
    entities = {
        e.id: e
        for e in session.scalars(select(Entity).where(Entity.id.in_({w.entity_id for w in items})))
    }
    out = []
    for w in items:
        e = entities.get(w.entity_id)
        sla = warnings.sla_status(w, today=today, calendar=calendar)
        allowed = warnings.allowed_transitions(session, w, user, index=index)
        out.append(
            {
                "id": w.id,
                "entity_name": e.name if e else "",
                "uscc": e.uscc if e else "",
                "credit_grade": e.credit_grade if e else None,
                "model": w.model,
                "model_label": model_label(w.model),
                "model_version": w.model_version,
                "level": w.level,
                "level_label": LEVEL_NAMES.get(w.level, w.level),
                "score": w.score,
                "state": w.state,
                "state_label": warnings.STATES.get(w.state, w.state),
                "region_code": w.region_code,
                "department_code": w.department_code,
                "department_name": names.get(w.department_code or "", w.department_code or ""),
                "dispatched_from": w.dispatched_from,
                "dispatched_from_name": names.get(w.dispatched_from or "", w.dispatched_from or ""),
                "handed_over": warnings.handed_over(w, user),
                "issued_on": w.issued_on,
                "due_on": w.due_on,
                "overdue": sla["overdue"],
                "working_days_left": sla["working_days_left"],
                "handling": w.handling,
                "handling_label": warnings.HANDLING.get(w.handling or "", ""),
                "outcome": w.outcome,
                "outcome_label": warnings.OUTCOMES.get(w.outcome or "", ""),
                "handled_on": w.handled_on,
                "reasons": w.reasons,
                "allowed": allowed,
            }
        )
    return out


@bp.get("/warnings")
@roles_required(*OFFICE)
def warning_board() -> Any:
    user = current_user()
    filters = _board_filters(request.args)
    tab = _tab(request.args, user)
    try:
        page = min(1_000_000, max(1, int(request.args.get("page", "1"))))  # an offset the database can hold
    except ValueError:
        page = 1
    q = _board(db.session, filters, tab)
    total = db.session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    items = db.session.scalars(q.limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    open_q = (
        _board(db.session, {**filters, "state": ",".join(warnings.OPEN_STATES)}, tab)
        .order_by(None)
        .subquery()
    )
    by_level = dict(
        db.session.execute(select(open_q.c.level, func.count()).group_by(open_q.c.level)).all()
    )
    overdue = (
        db.session.scalar(
            select(func.count()).select_from(open_q).where(open_q.c.overdue.is_(True))
        )
        or 0
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    tab_args = {k: v for k, v in args.items() if k != "tab"}
    api_args = dict(tab_args)
    if tab is not None:  # the API names the tab by its filter
        api_args["handed_over"] = "true" if tab == "handed_over" else "false"
    return render_template(
        "console/warnings.html",
        tab=tab,
        api_args=api_args,
        tabs=TABS,
        tab_args=tab_args,
        rows=_rows(db.session, list(items)),
        total=total,
        page=page,
        per_page=PER_PAGE,
        filters=filters,
        args=args,
        by_level=by_level,
        overdue=overdue,
        models=MODEL_NAMES,
        model_label=model_label,
        levels=LEVEL_NAMES,
        states=warnings.STATES,
        can_dispatch=bool(user and user.has_role(*DISPATCH)) and tab != "handed_over",
    )


@bp.post("/warnings/dispatch")
@roles_required(*DISPATCH)
def warning_dispatch() -> Any:
    try:
        ids = [int(i) for i in request.form.getlist("ids")]
    except ValueError:
        raise Invalid("ids: 预警编号应为整数", field="ids") from None
    back = request.form.get("back") or url_for("console.warning_board")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("console.warning_board")
    if not ids:
        flash("请先勾选要派发的预警。", "error")
        return redirect(back)
    user = current_user()
    assert user is not None
    try:
        result = warnings.dispatch(
            db.session, ids, user=user, actor=user.username, today=dt.date.today()
        )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    if result["dispatched"]:
        flash(f"已派发 {len(result['dispatched'])} 条预警到承办科室。", "ok")
    for wid, why in list(result["failed"].items())[:10]:
        flash(f"预警 {wid} 未派发：{why}", "error")
    return redirect(back)


@bp.route("/warnings/<int:warning_id>", methods=["GET", "POST"])
@roles_required(*OFFICE)
def warning_detail(warning_id: int) -> Any:
    user = current_user()
    assert user is not None
    if request.method == "POST":
        if not user.has_role(*DISPATCH):
            from server.errors import Forbidden

            raise Forbidden("只有科室负责人可以处置预警 (only a supervisor may move a warning)")
        try:
            warnings.apply_transition(
                db.session,
                warning_id,
                request.form.get("to", ""),
                user=user,
                actor=user.username,
                note=request.form.get("note") or None,
                outcome=request.form.get("outcome") or None,
                handling=request.form.get("handling") or None,
                today=dt.date.today(),
            )
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            flash("预警状态已更新。", "ok")
        return redirect(url_for("console.warning_detail", warning_id=warning_id))
    w = db.session.scalar(
        warnings.visible_to(user, select(Warning).where(Warning.id == warning_id))
    )
    if w is None:
        raise NotFound(f"预警不存在或无权查看 (no warning {warning_id} visible to you)")
    row = _rows(db.session, [w])[0]
    tasks = db.session.scalars(select(Task).where(Task.warning_id == w.id)).all()
    return render_template(
        "console/warning_detail.html",
        w=row,
        warning=w,
        tasks=tasks,
        task_states=TASK_STATES,
        allowed=row["allowed"],
        states=warnings.STATES,
        outcomes=warnings.OUTCOMES,
        handling=warnings.HANDLING,
        can_act=user.has_role(*DISPATCH),
    )


def _workload(user: Any) -> list[dict[str, Any]]:
    dept = (
        user.department_code
        if user and user.has_role("supervisor") and not user.has_role("admin")
        else None
    )
    rows = inspector_workload(db.session, department_code=dept)
    done = dict(
        db.session.execute(
            select(TaskAssignment.inspector_id, func.count())
            .join(Task, Task.id == TaskAssignment.task_id)
            .where(Task.state.in_(("submitted", "done")))
            .group_by(TaskAssignment.inspector_id)
        ).all()
    )
    names = dict(db.session.execute(select(Department.code, Department.name)).all())
    for r in rows:
        r["done_tasks"] = int(done.get(r["id"], 0))
        r["department_name"] = names.get(r["department_code"], r["department_code"])
    return rows


@bp.get("/inspectors")
@roles_required(*OFFICE)
def inspectors() -> Any:
    user = current_user()
    rows = _workload(user)
    caps = [
        c
        for (c,) in db.session.execute(
            select(SamplingRound.workload_cap).where(
                SamplingRound.workload_cap.is_not(None),
                SamplingRound.state.in_(("committed", "drawn")),
            )
        )
    ]
    figure = charts.workload_chart(rows[:60], "执法人员在办任务", cap=min(caps) if caps else None)
    loads = [r["open_tasks"] for r in rows]
    summary = {
        "inspectors": len(rows),
        "open": sum(loads),
        "max": max(loads) if loads else 0,
        "mean": (sum(loads) / len(loads)) if loads else 0.0,
    }
    return render_template(
        "console/inspectors.html",
        rows=rows,
        figure=figure,
        summary=summary,
        height=max(280, 22 * min(len(rows), 60) + 100),
    )


@bp.get("/entities/<uscc>")
@roles_required(*STAFF)
def entity_page(uscc: str) -> Any:
    entity = db.session.scalar(select(Entity).where(Entity.uscc == uscc))
    if entity is None:
        abort(404)
    profile = entity_profile(db.session, entity)
    latest = (
        db.session.execute(
            select(risk_scores)
            .where(risk_scores.c.entity_id == entity.id)
            .order_by(risk_scores.c.as_of.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    scores = []
    if latest:
        scores = sorted(
            (
                {"model": m, "label": model_label(m), "score": latest[f"s_{m}"]}
                for m in MODEL_NAMES
                if latest[f"s_{m}"] is not None
            ),
            key=lambda s: -s["score"],
        )
    figure = None
    if scores:
        figure = charts.rate_bars(
            [
                {
                    "key": s["model"],
                    "label": s["label"],
                    "hit_rate": s["score"],
                    "inspections": 0,
                    "problems": 0,
                    "ci95": [None, None],
                }
                for s in scores
            ],
            "各预警模型风险分值",
            subtitle=f"评分日期 {latest['as_of']}",
        )
        figure["series"] = figure["series"][:1]
        figure["series"][0]["name"] = "风险分值"
        figure["legend"] = {"show": False}
        axis = figure["xAxis"] if figure["xAxis"]["type"] == "value" else figure["yAxis"]
        axis["name"], axis["max"] = "分值 %", 100
    draws = db.session.execute(
        select(
            SamplingRound.id,
            SamplingRound.name,
            SamplingRound.state,
            DrawnEntity.inclusion_probability,
        )
        .join(DrawnEntity, DrawnEntity.round_id == SamplingRound.id)
        .where(DrawnEntity.entity_id == entity.id)
        .order_by(SamplingRound.id.desc())
    ).all()
    return render_template(
        "console/entity.html",
        p=profile,
        scores=scores,
        figure=figure,
        draws=draws,
        channels=CHANNELS,
        states=warnings.STATES,
    )


@table("warnings")
def _export_warnings(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    q = _board(db.session, _board_filters(args), _tab(args, current_user()))
    rows = _rows(db.session, list(db.session.scalars(q.limit(50_000))))
    return rows, [
        "id",
        "entity_name",
        "uscc",
        "credit_grade",
        "model",
        "model_version",
        "model_label",
        "level",
        "level_label",
        "score",
        "state",
        "state_label",
        "region_code",
        "department_code",
        "department_name",
        "dispatched_from",
        "dispatched_from_name",
        "issued_on",
        "due_on",
        "overdue",
        "working_days_left",
        "handling",
        "handling_label",
        "outcome",
        "outcome_label",
        "handled_on",
    ]


@table("inspectors")
def _export_inspectors(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    return _workload(current_user()), [
        "id",
        "name",
        "department_code",
        "department_name",
        "domains",
        "open_tasks",
        "done_tasks",
    ]
