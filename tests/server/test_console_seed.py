"""A small, deterministic province for the console tests (and the browser test).

Entities of every grade, warnings of two models and two versions (some handled),
inspections by all three channels over three quarters, stored risk scores, and a
published credit-weighted round whose drawn entities carry inclusion probabilities.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from factories import department, entity, form, inspector
from sqlalchemy import select

from server.extensions import db
from server.inspections.models import InspectionResult
from server.risk.models import risk_scores
from server.rounds.models import DrawnEntity, SamplingRound
from server.tasks.models import Task, TaskAssignment
from server.warnings import services as warning_services
from server.warnings.models import Warning
from server.workdays import WorkCalendar

GRADES = ["A"] * 20 + ["B"] * 30 + ["C"] * 20 + ["D"] * 10
REGIONS = ("330106", "330102", "330110")
GRADE_RISK = {"A": 0.05, "B": 0.12, "C": 0.3, "D": 0.5}
SLA = {"red": 3, "orange": 7, "yellow": 15}


def seed_console(seed: int = 3) -> dict[str, Any]:
    """Fill the (empty, reference-loaded or not) database; returns handy ids."""
    rng = np.random.default_rng(seed)
    department("330100-FOOD", domains=["food_safety", "price_violation"])
    inspectors = [
        inspector(f"检查员{i}", "330100-FOOD", ["food_safety", "price_violation"]) for i in range(4)
    ]
    form()
    ents = [
        entity(
            credit_grade=g,
            credit_score=float(900 - 150 * "ABCD".index(g)),
            region_code=REGIONS[i % 3],
            industry_code="H6210" if i % 4 else "F5211",
        )
        for i, g in enumerate(GRADES)
    ]
    db.session.commit()
    risk = np.array([GRADE_RISK[e.credit_grade] for e in ents])
    truth = rng.random(len(ents)) < risk * 1.4
    score = np.clip(risk + 0.35 * truth + rng.normal(0, 0.08, len(ents)), 0.01, 0.99)

    db.session.execute(
        risk_scores.insert(),
        [
            {
                "entity_id": e.id,
                "as_of": dt.date(2026, 1, 1),
                "s_food_safety": float(score[i]),
                "s_price_violation": float(1 - score[i]),
                "max_level": 0,
                "max_model": "food_safety",
            }
            for i, e in enumerate(ents)
        ],
    )

    cal = WorkCalendar([])
    order = np.argsort(-score)
    for version, chunk, day in (
        ("1", order[:14], dt.date(2026, 2, 2)),
        ("2", order[14:26], dt.date(2026, 5, 4)),
    ):
        batch = warning_services.IssueBatch(
            model="food_safety",
            model_version=version,
            entity_ids=np.array([ents[i].id for i in chunk]),
            scores=score[chunk],
            levels=["red" if score[i] > 0.6 else "orange" for i in chunk],
            reasons=[
                [
                    {
                        "code": "tests_failed",
                        "label": "近三年食品抽检不合格",
                        "value": 1,
                        "contribution": 1.0,
                    }
                ]
            ]
            * len(chunk),
            legal_basis=[[{"law": "食品安全法", "article": 34}]] * len(chunk),
        )
        warning_services.issue_warnings(db.session, batch, today=day, calendar=cal, sla=SLA)
    price = order[-6:]
    warning_services.issue_warnings(
        db.session,
        warning_services.IssueBatch(
            model="price_violation",
            model_version="1",
            entity_ids=np.array([ents[i].id for i in price]),
            scores=np.full(len(price), 0.7),
            levels=["yellow"] * len(price),
            reasons=[[]] * len(price),
            legal_basis=[[]] * len(price),
        ),
        today=dt.date(2026, 6, 1),
        calendar=cal,
        sla=SLA,
    )
    db.session.commit()

    rnd = SamplingRound(
        name="2026年第一季度餐饮服务信用分类抽查",
        channel="credit_weighted",
        department_codes=["330100-FOOD"],
        check_item_codes=[],
        scope={"regions": ["3301"]},
        period_start=dt.date(2026, 1, 5),
        period_end=dt.date(2026, 3, 31),
        design="stratified",
        ratios={"A": 0.1, "B": 0.2, "C": 0.4, "D": 0.8},
        force_warning_levels=[],
        exclusions={},
        inspector_pool={"departments": ["330100-FOOD"]},
        inspectors_per_task=2,
        recusal={},
        state="published",
        seed_commitment="c" * 64,
        seed="5" * 64,
        pool_digest="d" * 64,
        pool_size=len(ents),
        publish_due_on=dt.date(2026, 4, 30),
    )
    db.session.add(rnd)
    db.session.flush()

    def inspect(
        i: int,
        channel: str,
        day: dt.date,
        *,
        round_id: int | None = None,
        warning_id: int | None = None,
    ) -> None:
        e = ents[i]
        problem = bool(truth[i])
        t = Task(
            entity_id=e.id,
            channel=channel,
            round_id=round_id,
            warning_id=warning_id,
            department_code="330100-FOOD",
            state="done",
            form_code="catering",
            check_items=[],
            domains=["food_safety"],
            due_on=day,
            problem_found=problem,
        )
        db.session.add(t)
        db.session.flush()
        for k in range(2):
            db.session.add(
                TaskAssignment(task_id=t.id, inspector_id=inspectors[(i + k) % 4].id, lead=k == 0)
            )
        db.session.add(
            InspectionResult(
                task_id=t.id,
                entity_id=e.id,
                channel=channel,
                round_id=round_id,
                warning_id=warning_id,
                inspected_on=day,
                problem_found=problem,
                problem_domains=["food_safety"] if problem else [],
                checked_domains=["food_safety"],
                failed_items=[],
                summary="发现问题" if problem else "未发现问题",
            )
        )

    ratios = rnd.ratios
    drawn = [i for i in range(len(ents)) if rng.random() < ratios[ents[i].credit_grade]]
    for rank, i in enumerate(drawn):
        db.session.add(
            DrawnEntity(
                round_id=rnd.id,
                entity_id=ents[i].id,
                rank=rank,
                stratum=ents[i].credit_grade,
                inclusion_probability=ratios[ents[i].credit_grade],
                forced=False,
            )
        )
        inspect(
            i,
            "credit_weighted",
            dt.date(2026, 2, 10) + dt.timedelta(days=rank % 40),
            round_id=rnd.id,
        )
    for k, i in enumerate(rng.choice(len(ents), 36, replace=False)):
        inspect(int(i), "random", dt.date(2026, 1, 15) + dt.timedelta(days=5 * k))
    warnings = db.session.scalars(
        select(Warning).where(Warning.model == "food_safety").order_by(Warning.id)
    ).all()
    by_entity = {e.id: i for i, e in enumerate(ents)}
    for w in warnings[:20]:
        i = by_entity[w.entity_id]
        inspect(i, "warning", w.issued_on + dt.timedelta(days=7), warning_id=w.id)
        w.state, w.handling, w.department_code = "closed", "inspection", "330100-FOOD"
        w.outcome = "problem_confirmed" if truth[i] else "no_problem"
        w.handled_on = w.issued_on + dt.timedelta(days=7)
    warnings[-1].overdue = True
    db.session.commit()
    return {
        "round_id": rnd.id,
        "entity_uscc": ents[-1].uscc,
        "inspector_ids": [i.id for i in inspectors],
        "open_warning_ids": [w.id for w in warnings[20:]],
    }


def test_seed_builds_all_three_channels(app, users):
    from server.analytics.services import hit_rates

    out = seed_console()
    rows = {r["key"]: r for r in hit_rates(db.session, "channel")["rows"]}
    assert set(rows) == {"random", "credit_weighted", "warning"}
    assert rows["warning"]["inspections"] == 20
    assert out["open_warning_ids"]


def login(client: Any, username: str, password: str = "password123") -> None:
    """Log in through the console's form (as a person would)."""
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
