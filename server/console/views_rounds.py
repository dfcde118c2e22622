"""Supervisor pages for double-random rounds: define, preview, draw, follow, publish."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from server.auth.decorators import OFFICE, current_user, roles_required
from server.console import charts, queries
from server.console.common import WRITE_ROUNDS, table
from server.console.views import bp
from server.entities.models import ENTITY_TYPES, Entity
from server.errors import DomainError, Invalid
from server.extensions import db
from server.publication import services as publication
from server.reference.models import (
    BusinessType,
    CheckItem,
    Department,
    Industry,
    LicenceKind,
    Region,
)
from server.rounds import services
from server.rounds.models import ROUND_STATES, DrawnEntity, SamplingRound
from server.rounds.schemas import SCHEMA_FIELDS, ConsoleRoundSchema, flat_errors
from server.tasks.models import CHANNELS, TASK_STATES, Task
from server.workdays import calendar_from_config

GRADES = ("A", "B", "C", "D")
EXCLUSION_LABELS = {
    "registered_recently": "新设立未满期限",
    "inspected_recently": "近期已检查",
    "drawn_this_year": "本年度已被抽中",
    "a_grade_no_disturbance": "A 类无事不扰",
}


def _choices() -> dict[str, Any]:
    s = db.session
    return {
        "departments": s.scalars(select(Department).order_by(Department.code)).all(),
        "check_items": s.scalars(
            select(CheckItem).order_by(CheckItem.domain, CheckItem.code)
        ).all(),
        "regions": s.scalars(select(Region).order_by(Region.code)).all(),
        "industries": s.scalars(
            select(Industry)
            .where(Industry.level.in_(("section", "division")))
            .order_by(Industry.code)
        ).all(),
        "business_types": s.scalars(select(BusinessType).order_by(BusinessType.code)).all(),
        "licence_kinds": s.scalars(select(LicenceKind).order_by(LicenceKind.code)).all(),
        "entity_types": ENTITY_TYPES,
        "designs": services.DESIGNS,
        "channels": {c: CHANNELS[c] for c in services.ROUND_CHANNELS},
    }


def round_data_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """The round definition from the console form (ratios in percent become fractions);
    raises :class:`marshmallow.ValidationError` naming the fields.
    """
    return ConsoleRoundSchema().load(form)


def form_errors(messages: Any) -> dict[str, str]:
    """Error messages keyed by the form input they belong to (shown next to it)."""
    return {SCHEMA_FIELDS.get(path, path.split(".")[0]): text for path, text in flat_errors(messages).items()}


def _pool_dir() -> Path:
    return Path(current_app.config.get("POOL_DIR") or Path(current_app.instance_path) / "pools")


def _actor() -> str:
    user = current_user()
    return user.username if user else "console"


@bp.get("/rounds")
@roles_required(*OFFICE)
def rounds() -> Any:
    items = db.session.scalars(select(SamplingRound).order_by(SamplingRound.id.desc())).all()
    drawn = dict(
        db.session.execute(
            select(DrawnEntity.round_id, func.count()).group_by(DrawnEntity.round_id)
        ).all()
    )
    done = dict(
        db.session.execute(
            select(Task.round_id, func.count())
            .where(Task.round_id.is_not(None), Task.state.in_(("submitted", "done")))
            .group_by(Task.round_id)
        ).all()
    )
    tasks = dict(
        db.session.execute(
            select(Task.round_id, func.count())
            .where(Task.round_id.is_not(None))
            .group_by(Task.round_id)
        ).all()
    )
    user = current_user()
    return render_template(
        "console/rounds.html",
        rounds=items,
        drawn=drawn,
        done=done,
        tasks=tasks,
        states=ROUND_STATES,
        designs=services.DESIGNS,
        channels=CHANNELS,
        can_write=bool(user and user.has_role(*WRITE_ROUNDS)),
    )


@bp.route("/rounds/new", methods=["GET", "POST"])
@roles_required(*WRITE_ROUNDS)
def round_new() -> Any:
    form: MultiDict[str, str] = request.form if request.method == "POST" else MultiDict()
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            data = round_data_from_form(request.form)
            user = current_user()
            rnd = services.create_round(
                db.session, data, actor=_actor(), user_id=user.id if user else None
            )
        except ValidationError as exc:
            errors = form_errors(exc.messages)
        except DomainError as exc:
            db.session.rollback()
            field = str(exc.extra.get("field") or "_")
            # the service's message starts with the field path; next to the field, the reason alone
            errors = {SCHEMA_FIELDS.get(field, field.split(".")[0]): exc.message.removeprefix(f"{field}: ")}
        else:
            flash(f"已创建抽查计划“{rnd.name}”，种子承诺值已生成（抽取前公开）。", "ok")
            return redirect(url_for("console.round_detail", round_id=rnd.id))
    today = dt.date.today()
    defaults = MultiDict(
        {
            "channel": "credit_weighted",
            "design": "stratified",
            "ratio_A": "2",
            "ratio_B": "5",
            "ratio_C": "10",
            "ratio_D": "20",
            "ratio_overall": "5",
            "inspectors_per_task": "2",
            "inspected_within_days": "180",
            "registered_within_days": "90",
            "drawn_this_year": "1",
            "a_grade_no_disturbance": "",
            "recusal_conflicts": "1",
            "recusal_previous": "1",
            "period_start": today.isoformat(),
            "period_end": (today + dt.timedelta(days=90)).isoformat(),
        }
    )
    values = form if request.method == "POST" else defaults
    user = current_user()
    if request.method == "GET" and user and user.department_code:
        values = values.copy()
        values.setlist("department_codes", [user.department_code])
        values.setlist("pool_departments", [user.department_code])
    return render_template(
        "console/round_new.html", v=values, errors=errors, grades=GRADES, **_choices()
    ), (422 if errors else 200)


@bp.get("/rounds/<int:round_id>")
@roles_required(*OFFICE)
def round_detail(round_id: int) -> Any:
    rnd = services.get_round(db.session, round_id)
    user = current_user()
    preview = None
    if rnd.state == "committed":
        preview = services.preview(db.session, rnd, today=dt.date.today())
    progress = (
        services.round_progress(db.session, rnd) if rnd.state in ("drawn", "published") else None
    )
    results = queries.round_results(db.session, rnd.id) if progress else []
    # publication clock: each result due within 20 working days of its completion
    calendar = calendar_from_config(current_app.config)
    list_due_warning = (
        calendar.warning(rnd.drawn_at.date(), rnd.publish_due_on)
        if rnd.drawn_at and rnd.publish_due_on
        else None
    )
    clock = (
        publication.deadlines(
            db.session,
            rnd,
            calendar=calendar,
            today=dt.date.today(),
            days=int(current_app.config.get("PUBLISH_WITHIN_WORKING_DAYS", 20)),
        )
        if progress
        else None
    )
    figure = charts.progress_chart(progress["tasks"], TASK_STATES, "任务进度") if progress else None
    names = {
        "departments": dict(
            db.session.execute(
                select(Department.code, Department.name).where(
                    Department.code.in_(rnd.department_codes or [])
                )
            ).all()
        ),
        "check_items": db.session.scalars(
            select(CheckItem)
            .where(CheckItem.code.in_(rnd.check_item_codes or []))
            .order_by(CheckItem.code)
        ).all(),
    }
    scope_names = _scope_names()
    # drawn entities no one can inspect, with the reason given at the draw (published as 无法实施)
    infeasible = db.session.execute(
        select(Entity.uscc, Entity.name, Entity.region_code, Task.state_reason)
        .join(Entity, Entity.id == Task.entity_id)
        .where(Task.round_id == rnd.id, Task.state == "infeasible")
        .order_by(Task.id)
    ).all()
    return render_template(
        "console/round_detail.html",
        rnd=rnd,
        infeasible=infeasible,
        scope_names=scope_names,
        preview=preview,
        progress=progress,
        results=results,
        figure=figure,
        names=names,
        states=ROUND_STATES,
        designs=services.DESIGNS,
        channels=CHANNELS,
        task_states=TASK_STATES,
        exclusion_labels=EXCLUSION_LABELS,
        entity_types=ENTITY_TYPES,
        can_write=bool(user and user.has_role(*WRITE_ROUNDS)),
        clock=clock,
        clock_labels=publication.STATUS_LABELS,
        list_due_warning=list_due_warning,
    )


@bp.post("/rounds/<int:round_id>/draw")
@roles_required(*WRITE_ROUNDS)
def round_draw(round_id: int) -> Any:
    rnd = services.get_round(db.session, round_id)
    try:
        summary = services.run_draw(
            db.session,
            rnd,
            actor=_actor(),
            today=dt.date.today(),
            pool_dir=_pool_dir(),
            calendar=calendar_from_config(current_app.config),
            publish_days=int(current_app.config.get("PUBLISH_WITHIN_WORKING_DAYS", 20)),
        )
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("console.round_detail", round_id=round_id))
    msg = (
        f"抽取完成：名录库 {summary['pool']} 户，抽中 {summary['drawn']} 户"
        f"（其中预警必查 {summary['forced']} 户），"
        f"生成检查任务 {summary['tasks']} 项。种子已公开，可复核。"
    )
    if summary["unassigned"]:
        reasons = "；".join(f"{r} {n} 户" for r, n in summary["infeasible_reasons"].items())
        msg += (f" 有 {summary['unassigned']} 户无法实施（{reasons}），已记为“无法实施”并将按此公示，"
                "名单见本页“无法实施的主体”。")
    flash(msg, "ok" if not summary["unassigned"] else "error")
    return redirect(url_for("console.round_detail", round_id=round_id))


@bp.post("/rounds/<int:round_id>/publish")
@roles_required(*WRITE_ROUNDS)
def round_publish(round_id: int) -> Any:
    rnd = services.get_round(db.session, round_id)
    try:
        services.publish(db.session, rnd, actor=_actor())
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash("已公示：抽取名单、种子与名录库摘要已向社会公开。", "ok")
    return redirect(url_for("console.round_detail", round_id=round_id))


@table("rounds")
def _export_rounds(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    rows = [
        services.round_dict(r)
        for r in db.session.scalars(select(SamplingRound).order_by(SamplingRound.id))
    ]
    return rows, [
        "id",
        "name",
        "channel",
        "design",
        "state",
        "period_start",
        "period_end",
        "pool_size",
        "seed_commitment",
        "seed",
        "pool_digest",
        "drawn_at",
        "published_at",
    ]


@table("round-entities")
def _export_round_entities(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    try:
        round_id = int(args.get("round", ""))
    except ValueError:
        raise Invalid("round: 应为抽查计划编号", field="round") from None
    services.get_round(db.session, round_id)
    return queries.round_results(db.session, round_id), [
        "rank",
        "uscc",
        "name",
        "region_code",
        "credit_grade",
        "stratum",
        "inclusion_probability",
        "forced",
        "task_id",
        "task_state",
        "inspector_departments",
        "inspected_on",
        "problem_found",
        "summary",
    ]


def _scope_names() -> dict[str, dict[str, str]]:
    """Codes of a round's scope → the names a supervisor reads (杭州市, 餐饮服务 …)."""
    from sqlalchemy import select

    from server.reference.models import BusinessType, Industry, LicenceKind, Region

    def pairs(model: Any) -> dict[str, str]:
        return dict(db.session.execute(select(model.code, model.name)).all())

    return {"regions": pairs(Region), "industries": pairs(Industry), "business_types": pairs(BusinessType),
            "licence_kinds": pairs(LicenceKind), "entity_types": dict(ENTITY_TYPES)}
