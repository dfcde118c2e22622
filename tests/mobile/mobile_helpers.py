"""Helpers shared by the handheld's tests."""

from __future__ import annotations

import hashlib
from typing import Any

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24  # a signature: bytes are all the server checks


def small_photo(label: str) -> bytes:
    """A real (tiny) PNG photo, different for each label: the handheld decodes photos."""
    import io

    from PIL import Image

    seed = hashlib.sha256(label.encode()).digest()
    out = io.BytesIO()
    Image.new("RGB", (32, 24), tuple(seed[:3])).save(out, "PNG")
    return out.getvalue()


def fill_valid(handheld: Any, task_id: int, *, problem: bool = False) -> dict[str, Any]:
    """Answer every relevant item of a task's form validly, the way an inspector would."""
    from mobile.core import formengine

    _, _, items = handheld.form_for_task(task_id)
    handheld.open_draft(task_id)
    for _ in range(3):  # answers open new relevant items; pass again until stable
        draft = handheld.store.draft(task_id)
        for item in formengine.relevant_items(items, draft.answers):
            if item["id"] in draft.answers:
                continue
            kind = item["type"]
            cons = item.get("constraint") or {}
            if kind in ("photo", "signature"):
                data = (
                    small_photo(item["id"])
                    if kind == "photo"
                    else PNG + hashlib.sha256(item["id"].encode()).digest()
                )
                handheld.attach(task_id, item["id"], kind, data, f"{item['id']}.png")
                continue
            if kind == "compliance":
                value: Any = "non_compliant" if problem else "compliant"
            elif kind == "yes_no":
                value = "yes"
            elif kind == "choice":
                value = item["choices"][0]["value"]
            elif kind == "multi_choice":
                value = [item["choices"][0]["value"]]
            elif kind == "number":
                value = str(cons.get("min", 1))
            elif kind == "text":
                value = "现场检查发现的具体情况说明"[: max(cons.get("min_length", 4), 4)]
            elif kind == "location":
                value = {"lat": 30.27, "lon": 120.15, "accuracy": 10.0}
            else:
                raise AssertionError(kind)
            assert handheld.answer(task_id, item["id"], value) is None, item
        draft = handheld.store.draft(task_id)
    # 检查结论, last: the category the answers imply and its usual follow-up
    category = formengine.derive_category(items, draft.answers)
    assert handheld.answer(task_id, "result_category", category) is None
    assert handheld.answer(task_id, "follow_up", formengine.DEFAULT_FOLLOW_UP[category]) is None
    return handheld.store.draft(task_id).answers


def camera_photo(width: int, height: int, *, quality: int = 97) -> bytes:
    """A phone camera's JPEG: noisy (so it is as big as a real one), rotated by its EXIF
    orientation, with the time it was taken and the GPS position."""
    import io

    import numpy as np
    from PIL import Image
    from PIL.ExifTags import IFD

    rng = np.random.default_rng(7)
    ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    pixels = np.clip(ramp + rng.normal(0, 60, (height, width, 3)), 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # the phone was held upright: rotate 90° to view
    exif[0x010F] = "HUAWEI"
    exif[IFD.Exif] = {0x9003: "2026:12:05 10:15:30"}  # DateTimeOriginal
    exif[IFD.GPSInfo] = {1: "N", 2: (30.0, 16.0, 12.5), 3: "E", 4: (120.0, 9.0, 3.0)}
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()
