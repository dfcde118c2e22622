"""``shuangsui demo``: a small demo province with history, and ``demo-info`` (URL and logins)."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

#: One login per role (printed by ``make run``).
DEMO_USERS = (
    ("inspector", "inspector123", ["inspector"], "王执法"),
    ("inspector2", "inspector123", ["inspector"], "李执法"),
    ("supervisor", "supervisor123", ["supervisor"], "陈科长"),
    ("analyst", "analyst123", ["analyst"], "周分析"),
    ("admin", "admin123", ["admin"], "系统管理员"),
)
DEMO_DEPARTMENT = "330100-FOOD"


@click.command("demo")
@click.option("--entities", default=5000, show_default=True, type=click.IntRange(min=200))
@click.option("--periods", default=2, show_default=True, type=click.IntRange(min=1),
              help="Quarters of simulated history before today.")
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--if-empty", is_flag=True, help="Do nothing if the database already holds entities.")
@with_appcontext
def demo(entities: int, periods: int, seed: int, if_empty: bool) -> None:
    """Build a demo province: entities, history, warnings, rounds, results and demo users."""
    from sqlalchemy import func, select

    from server.entities.models import Entity
    from server.extensions import db
    from server.reference.models import Region
    from server.reference.services import load_reference_into_db

    session = db.session
    if if_empty and (session.scalar(select(func.count()).select_from(Entity)) or 0) > 0:
        click.echo("demo: database already populated, left as is", err=True)
        return
    if not session.scalar(select(func.count()).select_from(Region)):
        load_reference_into_db(session, current_app.config["DATA_DIR"], actor="demo")
    started = time.perf_counter()
    build_demo(entities=entities, periods=periods, seed=seed, today=dt.date.today())
    click.echo(f"demo: {entities} entities, {periods} periods of history in {time.perf_counter() - started:.0f} s",
               err=True)


def build_demo(*, entities: int, periods: int, seed: int, today: dt.date) -> None:
    from sqlalchemy import select

    from server.auth.services import create_user
    from server.extensions import db
    from server.rounds import services as rounds
    from server.simulation.loop import SimulationConfig, progress_bar
    from server.simulation.run import Context, build_province, run_period, score_province
    from server.tasks.models import Inspector

    session = db.session
    config = SimulationConfig(entities=entities, periods=periods, seed=seed,
                              start=today - dt.timedelta(days=91 * periods))
    step = progress_bar(1 + periods * 7 + 3, enabled=sys.stderr.isatty())
    province = build_province(session, config, data_dir=current_app.config["DATA_DIR"])
    step("province")
    ctx = Context(config, province, Path(current_app.config["MODEL_DIR"]), Path(current_app.config["POOL_DIR"]))
    for period in range(periods):
        run_period(session, ctx, period, progress=step)
    # Today: fresh scores and warnings waiting on the board, and an open round with tasks.
    score_province(session, today, model_dir=ctx.model_dir, calendar=ctx.calendar)
    step("today's warnings")
    inspectors = session.scalars(select(Inspector).where(Inspector.department_code == DEMO_DEPARTMENT)
                                 .order_by(Inspector.id)).all()
    for (username, password, roles, name), ins in zip(DEMO_USERS, [inspectors[0], inspectors[1], None, None, None],
                                                      strict=True):
        create_user(session, username=username, password=password, roles=roles, display_name=name,
                    department_code=DEMO_DEPARTMENT if roles != ["admin"] else None,
                    inspector_id=ins.id if ins is not None else None, actor="demo")
    if inspectors:
        inspectors[0].name, inspectors[1].name = DEMO_USERS[0][3], DEMO_USERS[1][3]
    session.commit()
    rnd = rounds.create_round(session, {
        "name": f"{today.year}年杭州市餐饮服务食品安全双随机抽查", "channel": "credit_weighted",
        "design": "stratified", "department_codes": [DEMO_DEPARTMENT], "check_item_codes": ["FS09", "FS10"],
        "scope": {"regions": ["330100"], "business_types": ["catering", "food_retail"]},
        "period_start": today, "period_end": today + dt.timedelta(days=60),
        "ratios": {"A": 0.03, "B": 0.06, "C": 0.12, "D": 0.3}, "force_warning_levels": ["red"],
        "exclusions": {"inspected_within_days": 90}, "inspector_pool": {"departments": [DEMO_DEPARTMENT]},
        "inspectors_per_task": 2, "workload_cap": 40,
    }, actor="supervisor")
    rounds.run_draw(session, rnd, actor="supervisor", today=today, pool_dir=ctx.pool_dir, calendar=ctx.calendar)
    step("open round")
    # A few of today's Hangzhou warnings handed to the demo inspectors (food safety first).
    from sqlalchemy import case

    from server.reference.models import Department
    from server.warnings import services as warnings
    from server.warnings.models import Warning

    # only warnings of the demo division's own domains: its inspectors are not qualified for others
    demo_domains = list(session.get(Department, DEMO_DEPARTMENT).domains)  # type: ignore[union-attr]
    candidates = session.scalars(select(Warning).where(Warning.state == "issued", Warning.region_code.like("3301%"),
                                                       Warning.model.in_(demo_domains))
                                 .order_by(Warning.model != "food_safety",
                                           case((Warning.level == "red", 0), (Warning.level == "orange", 1), else_=2),
                                           Warning.id)
                                 .limit(3)).all()
    for w in candidates:
        warnings.dispatch(session, [w.id], user=None, actor="supervisor", today=today)
        session.refresh(w)
        if w.state != "dispatched":
            continue
        warnings.transition(session, w, "accepted", actor="supervisor", today=today)
        warnings.start_inspection(session, w, actor="supervisor", today=today,
                                  inspectors=[inspectors[0].id, inspectors[1].id])
    session.commit()


@click.command("demo-info")
@click.option("--url", default="http://127.0.0.1:8000/", show_default=True)
def demo_info(url: str) -> None:
    """Print the console URL and the demo logins (one per role)."""
    click.echo("")
    click.echo(f"  双随 Shuangsui is starting at {url}")
    click.echo("  演示账号 / demo logins:")
    for username, password, roles, name in DEMO_USERS:
        click.echo(f"    {roles[0]:<10} {username:<11} / {password:<14} ({name})")
    click.echo(f"  API: {url}api/v1/openapi.json   公示 (public): {url}public")
    click.echo("")
