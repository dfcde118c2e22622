"""A valid submission for a task on the shipped forms, with its attachment bytes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from server.extensions import db
from server.inspections.services import form_items_for_task
from server.reference.models import FormTemplate
from server.simulation.answers import attachment_bytes, fill_form
from server.tasks.models import Task


def submission_for(task: Task) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    form = db.session.scalar(select(FormTemplate).where(FormTemplate.code == task.form_code,
                                                        FormTemplate.current.is_(True)))
    items = form_items_for_task(db.session, task, form)
    answers, attachments = fill_form(items, {"food_safety"}, seed=task.id)
    body = {"instance_id": str(uuid.uuid4()), "task_id": task.id, "form_code": form.code,
            "form_version": form.version, "answers": answers, "attachments": attachments,
            # the inspection just ended (the task was drawn moments ago)
            "completed_at": dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds")}
    files = [(a["checksum"], attachment_bytes(a["kind"], a["item_id"], task.id)) for a in attachments]
    return body, files
