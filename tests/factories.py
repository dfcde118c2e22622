"""Test data builders (valid by construction)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

from server.auth.services import create_user
from server.entities.models import Entity
from server.extensions import db
from server.reference.models import Department
from server.tasks.models import Inspector
from server.validation import make_uscc

_serial = count(1)
PASSWORD = "password123"


def department(code: str = "330100-FOOD", kind: str = "FOOD", domains: list[str] | None = None) -> Department:
    dept = db.session.get(Department, code)
    if dept is None:
        dept = Department(code=code, name=f"测试科室 {code}", kind=kind, region_code=code[:6],
                          domains=domains or ["food_safety"])
        db.session.add(dept)
        db.session.flush()
    return dept


def inspector(name: str = "张三", dept_code: str = "330100-FOOD", domains: list[str] | None = None) -> Inspector:
    department(dept_code)
    n = next(_serial)
    ins = Inspector(name=name, certificate_no=f"ZJ{n:08d}", department_code=dept_code,
                    region_code=dept_code[:6], domains=domains or ["food_safety"])
    db.session.add(ins)
    db.session.flush()
    return ins


def entity(**overrides: Any) -> Entity:
    n = next(_serial)
    region = overrides.pop("region_code", "330106")
    values = dict(
        uscc=make_uscc(region, _org_body(n)),
        name=f"杭州测试餐饮有限公司{n}",
        region_code=region,
        industry_code="H6210",
        business_type="catering",
        entity_type="company",
        registered_on=dt.date(2018, 5, 1),
        status="active",
        address=f"杭州市西湖区文三路{n}号",
        legal_representative="李四",
        phone="0571-8888" + f"{n:04d}"[-4:],
        registered_capital=100.0,
    )
    values.update(overrides)
    e = Entity(**values)
    db.session.add(e)
    db.session.flush()
    return e


def _org_body(n: int) -> str:
    digits = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    out = ""
    v = n + 31**5
    for _ in range(8):
        v, r = divmod(v, 31)
        out = digits[r] + out
    return out


def make_users() -> dict[str, Any]:
    ins = inspector("王执法", "330100-FOOD")
    ins2 = inspector("赵执法", "330100-FOOD")
    out = {
        "inspector": create_user(db.session, username="inspector", password=PASSWORD, roles=["inspector"],
                                 display_name="王执法", department_code="330100-FOOD", inspector_id=ins.id),
        "inspector2": create_user(db.session, username="inspector2", password=PASSWORD, roles=["inspector"],
                                  display_name="赵执法", department_code="330100-FOOD", inspector_id=ins2.id),
        "supervisor": create_user(db.session, username="supervisor", password=PASSWORD, roles=["supervisor"],
                                  display_name="钱科长", department_code="330100-FOOD"),
        "analyst": create_user(db.session, username="analyst", password=PASSWORD, roles=["analyst"],
                               display_name="孙分析"),
        "admin": create_user(db.session, username="admin", password=PASSWORD, roles=["admin"],
                             display_name="周管理"),
    }
    db.session.commit()
    return out


SIMPLE_FORM_ITEMS: list[dict[str, Any]] = [
    {"id": "licence_valid", "type": "compliance", "label": "已依法取得食品经营许可，许可证在有效期内",
     "required": True, "domain": "food_safety", "check_item": "FS01", "topic": "食品生产经营许可",
     "legal_refs": [{"law": "食品安全法", "article": 35}]},
    {"id": "licence_problem", "type": "text", "label": "问题描述", "required": True,
     "relevant": {"item": "licence_valid", "equals": "non_compliant"}, "constraint": {"max_length": 200}},
    {"id": "staff_count", "type": "number", "label": "从业人员数", "required": False,
     "constraint": {"min": 0, "max": 10000}, "constraint_message": "人数应在 0 到 10000 之间"},
    {"id": "photo", "type": "photo", "label": "现场照片", "required": False},
    {"id": "signature", "type": "signature", "label": "被检查单位签字", "required": True},
    {"id": "location", "type": "location", "label": "检查位置", "required": False},
]


def form(code: str = "catering", version: str = "1") -> Any:
    from server.reference.models import BusinessType, FormTemplate

    if db.session.get(BusinessType, "catering") is None:
        db.session.add(BusinessType(code="catering", name="餐饮服务", industries=["H6210"],
                                    required_licence=None, form_code=code))
    existing = db.session.scalar(db.select(FormTemplate).where(FormTemplate.code == code))
    if existing is not None:
        return existing
    f = FormTemplate(code=code, version=version, title="餐饮服务检查表", business_types=["catering"],
                     items=SIMPLE_FORM_ITEMS, current=True)
    db.session.add(f)
    db.session.flush()
    return f


def task(inspectors: list[Inspector], *, channel: str = "random", warning_id: int | None = None,
         the_entity: Entity | None = None, dept_code: str = "330100-FOOD") -> Any:
    from server.tasks.models import Task, TaskAssignment

    form()
    e = the_entity or entity()
    t = Task(entity_id=e.id, channel=channel, warning_id=warning_id, department_code=dept_code,
             state="assigned", form_code="catering", check_items=[], domains=["food_safety"],
             due_on=dt.date(2026, 12, 31))
    db.session.add(t)
    db.session.flush()
    for i, ins in enumerate(inspectors):
        db.session.add(TaskAssignment(task_id=t.id, inspector_id=ins.id, lead=i == 0))
    db.session.commit()
    return t


def red_warnings(entities: list[Entity], *, model: str = "food_safety") -> list[int]:
    """Issue a red warning of ``model`` for each entity (2026-03-02, plain working days, the
    default SLA), committed; return every warning's id in order."""
    import numpy as np
    from sqlalchemy import select

    from server.warnings import services
    from server.warnings.models import Warning
    from server.workdays import WorkCalendar

    n = len(entities)
    batch = services.IssueBatch(
        model=model,
        model_version="1",
        entity_ids=np.array([e.id for e in entities]),
        scores=np.full(n, 0.9),
        levels=["red"] * n,
        reasons=[[]] * n,
        legal_basis=[[]] * n,
    )
    services.issue_warnings(db.session, batch, today=dt.date(2026, 3, 2), calendar=WorkCalendar([]),
                            sla={"red": 3, "orange": 7, "yellow": 15})
    db.session.commit()
    return list(db.session.scalars(select(Warning.id).order_by(Warning.id)))


@contextmanager
def sqlite_file_app(tmp_path: Path, monkeypatch: Any, name: str) -> Iterator[Any]:
    """An app on a SQLite *file* (the suite's usual in-memory database never takes the Arrow
    paths) with its schema and reference data, inside its app context."""
    from server import create_app
    from server.db import Base
    from server.reference.services import load_reference_into_db

    monkeypatch.setenv("SHUANGSUI_INSTANCE", str(tmp_path / "instance"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / name}",
                      "MODEL_DIR": str(tmp_path / "models"), "TESTING": True})
    with app.app_context():
        Base.metadata.create_all(db.engine)
        load_reference_into_db(db.session, str(Path(__file__).resolve().parents[1] / "data"), actor="test")
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()
