"""Server with reference data → the app logs in, downloads, works offline, syncs: one result."""

from __future__ import annotations

from factories import task
from mobile_helpers import fill_valid
from sqlalchemy import func, select

from mobile.core.controller import Handheld
from server.extensions import db
from server.inspections.models import Attachment, InspectionResult, Submission
from server.reference.models import CheckItem
from server.tasks.models import Inspector, Task

OFFLINE = "http://127.0.0.1:9"


def test_inspection_offline_then_synced_exactly_once(live_server, reference, users, device_dir):
    inspector = db.session.get(Inspector, users["inspector"].inspector_id)
    t = task([inspector])
    code = db.session.scalars(
        select(CheckItem.code).where(CheckItem.domain == "food_safety").order_by(CheckItem.code)
    ).first()
    t.check_items = [code]
    db.session.commit()
    task_id = t.id

    h = Handheld(device_dir, live_server)
    assert h.login("inspector", "password123")["username"] == "inspector"
    counts = h.sync_engine.refresh()
    assert counts["tasks"] == 1
    assert counts["forms"] == 1
    assert counts["laws"] == len(reference.laws)
    views = h.task_views()
    row = views["today"][0]
    assert row.id == task_id
    assert row.uscc == t.entity.uscc
    assert row.why.startswith("随机抽查")
    assert h.entity_profile(row.uscc)["name"] == t.entity.name

    # the field: no signal from here on
    h.client.base_url = OFFLINE
    h.client.timeout = (0.5, 0.5)
    _, form, items = h.form_for_task(task_id)
    assert form["code"] == "catering"
    assert items[-2]["id"] == f"ci_{code}" and items[-1]["id"] == f"ci_{code}_note"
    cited = next(i for i in items if i.get("legal_refs"))
    ref = cited["legal_refs"][0]
    title, text = h.article_text(ref["law"], ref["article"])
    assert title.endswith(f"》{text.split()[0]}")
    assert text.startswith("第")
    assert h.legal_refs(items[-2])[0][0].startswith(f"《{items[-2]['legal_refs'][0]['law']}》第")

    answers = fill_valid(h, task_id, problem=True)
    assert answers[f"ci_{code}"] == "non_compliant"
    assert answers["result_category"] == "problem_corrected"
    entry, check = h.finalize(task_id)
    assert check.ok and check.problem_found, check.errors
    assert (entry.body["result_category"], entry.body["follow_up"]) == (
        "problem_corrected", "rectification_ordered")
    assert h.sync_engine.upload(force=True).pending == [entry.instance_id]
    assert h.task_views()["done"][0].status == "待上传"
    assert h.laws.search(ref["law"] + f" {ref['article']}")  # the library works offline

    # back in signal range
    h.client.base_url = live_server
    message = h.sync(force=True)
    assert message.startswith("已上传 1"), message
    assert h.store.outbox_entry(entry.instance_id).state == "sent"
    h.sync(force=True)  # syncing again changes nothing

    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 1
    results = db.session.scalars(select(InspectionResult)).all()
    assert len(results) == 1
    assert results[0].task_id == task_id
    assert results[0].problem_found
    assert code in results[0].failed_items  # the check item's code
    assert db.session.get(Task, task_id).state == "submitted"
    attachments = db.session.scalars(select(Attachment)).all()
    assert attachments
    assert all(a.path for a in attachments)
    assert h.task_views()["done"][0].status == "已上传"
