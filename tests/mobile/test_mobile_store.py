"""The device store: drafts survive restarts, the outbox is transactional, laws are searchable."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from mobile_helpers import camera_photo

from mobile.core.laws import LawLibrary, article_number
from mobile.core.store import Store

ROOT = Path(__file__).resolve().parents[2]


def body(task_id: int = 7, **answers):
    return {
        "instance_id": str(uuid.uuid4()),
        "task_id": task_id,
        "form_code": "catering",
        "form_version": "1",
        "answers": answers or {"ok": "yes"},
        "attachments": [],
    }


def test_each_answer_is_on_disk_before_the_next(tmp_path):
    store = Store(tmp_path)
    draft = store.open_draft(7, "catering", "1")
    store.save_answer(7, "ok", "no")
    store.save_answer(7, "note", "许可证已过期")
    store.save_answer(7, "note", "")  # clearing removes the answer
    store.save_answer(7, "n", 3)
    store.close()  # the app is killed here

    again = Store(tmp_path)
    restored = again.draft(7)
    assert restored.instance_id == draft.instance_id
    assert restored.answers == {"ok": "no", "n": 3}
    assert (
        again.open_draft(7, "catering", "1").instance_id == draft.instance_id
    )  # same instance on reopen


def test_finalize_moves_the_draft_to_the_outbox_atomically(tmp_path):
    store = Store(tmp_path)
    draft = store.open_draft(7, "catering", "1")
    entry = store.finalize(7, body(instance_id=None) | {"instance_id": draft.instance_id})
    assert store.draft(7) is None
    assert entry.state == "pending"
    assert entry.attempts == 0
    with pytest.raises(Exception, match="UNIQUE"):
        store.finalize(7, entry.body)  # the same instance cannot be queued twice
    assert [e.instance_id for e in store.outbox("pending")] == [draft.instance_id]
    assert store.sync_log()[0]["event"] == "finalized"


def test_body_round_trips_exactly(tmp_path):
    store = Store(tmp_path)
    b = body(n=2.5, note="中文 “引号”", loc={"lat": 30.1, "lon": 120.2})
    store.finalize(7, b)
    assert store.outbox_entry(b["instance_id"]).body == b


def test_attachments_are_content_addressed(tmp_path):
    store = Store(tmp_path)
    a = store.add_attachment("i1", "sig", "signature", b"same bytes", "a.png")
    b = store.add_attachment("i1", "sig", "signature", b"same bytes", "b.png")
    assert a.checksum == b.checksum
    assert len(store.attachments("i1")) == 1
    assert Path(a.path).read_bytes() == b"same bytes"
    store.mark_uploaded("i1", a.checksum)
    assert store.attachments("i1")[0].uploaded


def test_a_14_mb_camera_photo_is_stored_downscaled_with_its_time_place_and_original_digest(
    tmp_path,
):
    import hashlib
    import io

    from PIL import Image
    from PIL.ExifTags import IFD

    original = camera_photo(4000, 3000)
    assert len(original) > 14_000_000  # 14 MB, as a phone camera writes it
    store = Store(tmp_path)
    att = store.add_attachment("i1", "site_photo", "photo", original, "IMG_20261205_101530.jpg")

    stored = Path(att.path).read_bytes()
    assert att.size == len(stored) < 8 * 1024 * 1024  # far below the server's 10 MB
    assert att.checksum == hashlib.sha256(stored).hexdigest()
    assert att.original_checksum == hashlib.sha256(original).hexdigest()
    assert att.original_size == len(original)
    assert att.filename == "IMG_20261205_101530.jpg"
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert image.size == (1920, 2560)  # upright (portrait), long side 2,560
    exif = image.getexif()
    assert exif.get(0x0112) is None  # orientation applied, not applied twice by a viewer
    assert exif.get_ifd(IFD.Exif)[0x9003] == "2026:12:05 10:15:30"
    assert exif.get_ifd(IFD.GPSInfo) == {
        1: "N",
        2: (30.0, 16.0, 12.5),
        3: "E",
        4: (120.0, 9.0, 3.0),
    }
    # kept across a restart, and what the submission will declare
    again = Store(tmp_path).attachments("i1")[0]
    assert (again.original_checksum, again.original_size) == (
        att.original_checksum,
        att.original_size,
    )


def test_a_small_photo_is_kept_as_is_and_a_file_that_is_not_a_photo_is_refused(tmp_path):
    import io

    from PIL import Image

    from mobile.core.photos import PhotoError

    store = Store(tmp_path)
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 120, 150)).save(out, "JPEG", quality=85)
    small = out.getvalue()
    att = store.add_attachment("i1", "p", "photo", small, "a.jpg")
    assert Path(att.path).read_bytes() == small  # no second JPEG generation
    assert att.checksum == att.original_checksum
    with pytest.raises(PhotoError, match="不是可识别的照片"):
        store.add_attachment("i1", "p", "photo", b"%PDF-1.7 a document", "doc.jpg")
    assert len(store.attachments("i1")) == 1


def test_reopen_a_rejected_submission_gets_a_new_instance_id(tmp_path):
    store = Store(tmp_path)
    b = body(ok="no")
    store.finalize(7, b)
    store.add_attachment(b["instance_id"], "sig", "signature", b"png")
    with pytest.raises(ValueError, match="退回"):
        store.reopen(b["instance_id"])
    store.update_outbox(
        b["instance_id"], state="rejected", last_error="x", error_items={"note": "必填"}
    )
    assert store.outbox_entry(b["instance_id"]).error_items == {"note": "必填"}
    draft = store.reopen(b["instance_id"])
    assert draft.instance_id != b["instance_id"]
    assert draft.answers == {"ok": "no"}
    assert store.outbox() == []
    assert len(store.attachments(draft.instance_id)) == 1


def test_settings_and_device_id(tmp_path):
    store = Store(tmp_path)
    store.set_setting("user", {"username": "inspector"})
    assert store.setting("user") == {"username": "inspector"}
    store.set_setting("user", None)
    assert store.setting("user", "none") == "none"
    assert store.device_id() == store.device_id()


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    from server.reference.laws import load_laws

    store = Store(tmp_path_factory.mktemp("laws"))
    for law in load_laws(ROOT / "data" / "laws"):
        store.save_law(
            {
                "id": law.short_title,
                "title": law.title,
                "version_date": str(law.version_date),
                "articles": [
                    {"number": a.number, "label": a.label, "chapter": a.chapter, "text": a.text}
                    for a in law.articles
                ],
            }
        )
    return LawLibrary(store)


def test_law_library_lists_laws_and_articles(library):
    laws = {law["id"]: law for law in library.laws()}
    assert len(laws) >= 20
    assert laws["食品安全法"]["articles"] > 100
    art = library.article("食品安全法", 35)
    assert art["label"] == "第三十五条"
    assert "许可" in art["text"]
    assert library.title("食品安全法") == "中华人民共和国食品安全法"


def test_law_search_by_words_and_article_numbers(library):
    hits = library.search("食品经营许可")
    assert hits
    assert all("食品经营许可" in library.article(h.law, h.number)["text"] for h in hits)
    assert [(h.law, h.number) for h in library.search("食品安全法 第三十五条")] == [
        ("食品安全法", 35)
    ]
    assert [(h.law, h.number) for h in library.search("食品安全法 35")] == [("食品安全法", 35)]
    assert library.search("特种设备 检验", law_id="特种设备安全法")
    assert all(h.law == "特种设备安全法" for h in library.search("检验", law_id="特种设备安全法"))
    assert library.search("没有这样的词语组合xyz") == []
    assert "食品经营许可" in hits[0].snippet


@pytest.mark.parametrize(
    ("term", "n"), [("35", 35), ("第35条", 35), ("第一百零五条", 105), ("三", None), ("许可", None)]
)
def test_article_number_terms(term, n):
    assert article_number(term) == n
