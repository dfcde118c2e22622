"""Builders for the reliability tests: many tasks at once, submission bodies, counts."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

import numpy as np
from sqlalchemy import func, select

from server.entities.models import Entity
from server.extensions import db
from server.reference.models import BusinessType, FormTemplate
from server.tasks.models import Task, TaskAssignment
from server.validation import make_usccs

FORM_CODE = "relcheck"
#: A short form: one required judged item, an optional remark and photo.
FORM_ITEMS: list[dict[str, Any]] = [
    {
        "id": "fs03",
        "type": "compliance",
        "label": "未经营超过保质期、腐败变质等禁止生产经营的食品",
        "required": True,
        "domain": "food_safety",
        "check_item": "FS03",
    },
    {
        "id": "remark",
        "type": "text",
        "label": "备注",
        "required": False,
        "constraint": {"max_length": 200},
    },
    {"id": "photo", "type": "photo", "label": "现场照片", "required": False},
]


def ensure_form() -> None:
    from factories import department

    department("330100-FOOD")
    if db.session.get(BusinessType, "catering") is None:
        db.session.add(
            BusinessType(
                code="catering",
                name="餐饮服务",
                industries=["H6210"],
                required_licence=None,
                form_code=FORM_CODE,
            )
        )
    if db.session.scalar(select(FormTemplate).where(FormTemplate.code == FORM_CODE)) is None:
        db.session.add(
            FormTemplate(
                code=FORM_CODE,
                version="1",
                title="可靠性测试检查表",
                business_types=["catering"],
                items=FORM_ITEMS,
                current=True,
            )
        )
    db.session.commit()


def bulk_tasks(n: int, inspector_ids: list[int], *, serial_base: int = 500_000) -> list[int]:
    """``n`` entities and one assigned task each (SQLAlchemy Core, no ORM objects)."""
    ensure_form()
    usccs = make_usccs(np.full(n, "330106"), np.arange(serial_base, serial_base + n))
    db.session.execute(
        Entity.__table__.insert(),
        [
            dict(
                uscc=str(u),
                name=f"可靠性测试餐饮店{i}",
                region_code="330106",
                industry_code="H6210",
                business_type="catering",
                entity_type="company",
                registered_on=dt.date(2019, 1, 1),
                status="active",
                address=f"杭州市西湖区测试路{i}号",
                legal_representative="李四",
            )
            for i, u in enumerate(usccs)
        ],
    )
    entity_ids = db.session.scalars(
        select(Entity.id).where(Entity.uscc.in_([str(u) for u in usccs]))
    ).all()
    db.session.execute(
        Task.__table__.insert(),
        [
            dict(
                entity_id=e,
                channel="random",
                department_code="330100-FOOD",
                state="assigned",
                form_code=FORM_CODE,
                check_items=[],
                domains=["food_safety"],
                due_on=dt.date(2026, 12, 31),
            )
            for e in entity_ids
        ],
    )
    task_ids = list(
        db.session.scalars(select(Task.id).where(Task.entity_id.in_(entity_ids)).order_by(Task.id))
    )
    db.session.execute(
        TaskAssignment.__table__.insert(),
        [
            dict(task_id=t, inspector_id=ins, lead=k == 0)
            for t in task_ids
            for k, ins in enumerate(inspector_ids)
        ],
    )
    db.session.commit()
    return task_ids


def photo_bytes(task_id: int) -> bytes:
    """A small real JPEG, different for each task (the handheld decodes every photo)."""
    import io

    from PIL import Image

    seed = hashlib.sha256(f"photo {task_id}".encode()).digest()
    out = io.BytesIO()
    Image.frombytes("RGB", (8, 4), seed[:32] * 3).resize((48, 32)).save(out, "JPEG", quality=85)
    return out.getvalue()


def inspection_times(minutes: int = 30) -> tuple[str, str]:
    """(started_at, completed_at): an inspection that ended just now, in Beijing time (the
    server refuses times before the task was created or ahead of its clock)."""
    end = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(microsecond=0)
    return (end - dt.timedelta(minutes=minutes)).isoformat(), end.isoformat()


def body_for(
    task_id: int,
    *,
    photo_checksum: str | None = None,
    problem: bool = False,
    instance_id: str | None = None,
) -> dict[str, Any]:
    """A valid submission body for a task of :data:`FORM_CODE` (the task created moments
    ago: the inspection lasted two minutes and ended now)."""
    answers: dict[str, Any] = {
        "fs03": "non_compliant" if problem else "compliant",
        "remark": f"任务 {task_id} 检查完毕",
    }
    started, completed = inspection_times(2)
    attachments = []
    if photo_checksum:
        answers["photo"] = photo_checksum
        attachments.append(
            {
                "item_id": "photo",
                "kind": "photo",
                "filename": f"{task_id}.png",
                "checksum": photo_checksum,
                "size": len(photo_bytes(task_id)),
            }
        )
    return {
        "instance_id": instance_id or str(uuid.uuid4()),
        "task_id": task_id,
        "form_code": FORM_CODE,
        "form_version": "1",
        "answers": answers,
        "started_at": started,
        "completed_at": completed,
        "attachments": attachments,
        "device_id": "rel-device",
    }


def count(model: Any, *where: Any) -> int:
    db.session.expire_all()
    return int(db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)
