"""Screenshots of the main screens under Xvfb, checked to contain real Chinese glyphs.

A missing CJK font shows Chinese as identical boxes (or nothing). So for each label
checked, the screenshot region is cut into glyph cells (runs of inked columns) and
the test requires several cells, most of them different from each other and not
hollow rectangles. The detector is itself checked on the same text rendered with
Kivy's Latin-only Roboto, where it must report tofu.

All Kivy tests live in this one file: one process has one Kivy window, and
``pytest -n 2 --dist loadfile`` keeps a file on one worker.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.kivy

ROOT = Path(__file__).resolve().parents[2]
# Screenshots go to a temporary directory unless SHUANGSUI_SCREENSHOTS names one
# (e.g. docs/screenshots when refreshing the documentation), so a test run leaves the tree clean.
SHOTS = Path(os.environ.get("SHUANGSUI_SCREENSHOTS") or Path(os.environ.get("TMPDIR", "/tmp")) / "shuangsui-shots")
WIDTH, HEIGHT = 480, 800  # a width divisible by 4: glReadPixels rows are 4-byte aligned

if not os.environ.get("DISPLAY"):
    pytest.skip("needs a display: run under xvfb-run (make test does)", allow_module_level=True)


@pytest.fixture(scope="module")
def kivy_window(tmp_path_factory):
    home = tmp_path_factory.mktemp("kivy_home")
    os.environ["KIVY_HOME"] = str(home)
    os.environ["KIVY_NO_ARGS"] = "1"
    os.environ["KIVY_NO_CONSOLELOG"] = "1"
    os.environ["KIVY_NO_FILELOG"] = "1"
    from kivy.config import Config

    Config.set("graphics", "width", str(WIDTH))
    Config.set("graphics", "height", str(HEIGHT))
    Config.set("graphics", "resizable", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    from kivy.base import EventLoop
    from kivy.core.window import Window

    from mobile.fonts import register_cjk_font

    EventLoop.ensure_window()
    Window.size = (WIDTH, HEIGHT)
    Window.clearcolor = (1, 1, 1, 1)
    assert register_cjk_font(), "no CJK font: run make system-deps (fonts-noto-cjk)"
    return Window


@pytest.fixture(scope="module")
def app(kivy_window, tmp_path_factory):
    from screen_data import fill_store

    from mobile.main import MobileApp

    directory = tmp_path_factory.mktemp("device")
    fill_store(directory).close()
    the_app = MobileApp(data_dir=str(directory), server_url="http://127.0.0.1:9")
    root = the_app.root = the_app.build()
    kivy_window.add_widget(root)
    frames()
    yield the_app
    kivy_window.remove_widget(root)
    the_app.handheld.close()


def frames(n: int = 6) -> None:
    from kivy.base import EventLoop

    for _ in range(n):
        EventLoop.idle()


def screenshot(window, name: str):
    from PIL import Image

    frames()
    SHOTS.mkdir(parents=True, exist_ok=True)
    made = window.screenshot(name=str(SHOTS / f"{name}.png"))
    target = SHOTS / f"{name}.png"
    shutil.move(made, target)
    return Image.open(target).convert("RGB")


def labels(widget, contains: str):
    from kivy.uix.label import Label

    return [
        w for w in widget.walk(restrict=True) if isinstance(w, Label) and contains in (w.text or "")
    ]


def region(window, widget):
    x, y = widget.to_window(*widget.pos)
    w, h = widget.size
    return int(x), int(window.height - (y + h)), int(x + w), int(window.height - y)


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    out, i = [], 0
    while i < len(flags):
        if flags[i]:
            j = i
            while j < len(flags) and flags[j]:
                j += 1
            out.append((i, j))
            i = j
        else:
            i += 1
    return out


def glyph_cells(image, box) -> list[tuple[str, ...]]:
    """Cut the first text line of a label's region into runs of inked columns (glyphs)."""
    crop = image.crop(box).convert("L")
    w, h = crop.size
    px = crop.load()
    background = Counter(px[x, y] for x in range(w) for y in range(h)).most_common(1)[0][0]
    ink = [[abs(px[x, y] - background) > 90 for x in range(w)] for y in range(h)]
    lines = [(a, b) for a, b in _runs([any(row) for row in ink]) if b - a >= 8]
    if not lines:
        return []
    top, bottom = lines[0]
    # drop horizontal rules (an underline would join every glyph into one run)
    ink = [row for row in ink[top:bottom] if sum(row) < 0.6 * w]
    h = len(ink)
    cols = [any(ink[y][x] for y in range(h)) for x in range(w)]
    cells, x = [], 0
    while x < w:
        if not cols[x]:
            x += 1
            continue
        start = x
        while x < w and cols[x]:
            x += 1
        rows = ["".join("#" if ink[y][c] else "." for c in range(start, x)) for y in range(h)]
        rows = [r for r in rows if "#" in r]
        cells.append(tuple(rows))
    return cells


def is_tofu(cell: tuple[str, ...]) -> bool:
    """A hollow rectangle: inked border, empty inside."""
    if len(cell) < 6 or len(cell[0]) < 5:
        return False
    border = cell[0] + cell[-1] + "".join(r[0] + r[-1] for r in cell)
    inside = "".join(r[2:-2] for r in cell[2:-2])
    return border.count("#") / len(border) > 0.8 and (
        not inside or inside.count("#") / len(inside) < 0.1
    )


def cjk_rendered(image, box, min_cells: int = 3) -> bool:
    cells = [c for c in glyph_cells(image, box) if len(c) >= 6]  # ignore punctuation and dots
    if len(cells) < min_cells:
        return False
    tofu = sum(is_tofu(c) for c in cells)
    return tofu <= len(cells) // 5 and len(set(cells)) >= max(2, len(cells) // 2)


def assert_chinese(window, image, widget) -> None:
    box = region(window, widget)
    assert cjk_rendered(image, box), f"no Chinese glyphs rendered for {widget.text[:30]!r} at {box}"


def test_the_detector_flags_a_latin_only_font(kivy_window):
    """The same Chinese text in Kivy's own Roboto (no CJK glyphs) must count as tofu."""
    import kivy
    from kivy.uix.label import Label

    roboto = Path(kivy.__file__).parent / "data" / "fonts" / "Roboto-Regular.ttf"
    text = "双随市场监管移动执法"
    good = Label(
        text=text,
        font_size="24sp",
        color=(0, 0, 0, 1),
        size_hint=(None, None),
        size=(400, 60),
        pos=(20, 300),
    )
    bad = Label(
        text=text,
        font_name=str(roboto),
        font_size="24sp",
        color=(0, 0, 0, 1),
        size_hint=(None, None),
        size=(400, 60),
        pos=(20, 200),
    )
    for w in (good, bad):
        kivy_window.add_widget(w)
    try:
        image = screenshot(kivy_window, "_font_check")
    finally:
        for w in (good, bad):
            kivy_window.remove_widget(w)
        (SHOTS / "_font_check.png").unlink(missing_ok=True)
    assert cjk_rendered(image, region(kivy_window, good))
    assert not cjk_rendered(image, region(kivy_window, bad))


def test_login_screen(kivy_window, app):
    app.handheld.store.set_setting("user", None)
    app.root.get_screen("login").show()
    image = screenshot(kivy_window, "login")
    screen = app.root.get_screen("login")
    assert_chinese(kivy_window, image, labels(screen, "市场监管移动执法")[0])
    assert_chinese(kivy_window, image, labels(screen, "离线可用")[0])
    app.handheld.store.set_setting(
        "user", {"username": "inspector", "display_name": "王执法", "roles": ["inspector"]}
    )


def test_task_list(kivy_window, app):
    screen = app.root.get_screen("tasks")
    screen.show()
    assert screen.counts == [3, 1, 0]
    image = screenshot(kivy_window, "tasks")
    assert_chinese(kivy_window, image, labels(screen, "楼外楼")[0])
    why = labels(screen, "原因：近90天投诉")
    assert why, "the warning's reasons are shown"
    assert_chinese(kivy_window, image, why[0])
    screen.set_tab("overdue")
    frames()
    assert labels(screen, "外婆家")


def test_entity_profile(kivy_window, app):
    screen = app.root.get_screen("entity")
    uscc = app.handheld.store.task(101)["entity"]["uscc"]
    screen.show(uscc)
    image = screenshot(kivy_window, "entity")
    assert_chinese(kivy_window, image, labels(screen, "信用分")[0])
    assert labels(screen, "食品经营许可证 12 天后到期")


def test_form_with_a_legal_reference_open(kivy_window, app):
    screen = app.root.get_screen("form")
    screen.show(101)
    items = screen.items
    assert items[-2]["id"] == "ci_SCJG-FOOD-03"  # the task's check item is appended
    cited = next(
        i
        for i in items
        if i["type"] == "compliance"
        and (i.get("legal_refs") or [{}])[0].get("law") == "食品安全法"
    )
    assert cited["id"] not in screen.cards  # judged only once the premises are open
    screen.set_answer(next(i for i in items if i["id"] == "premises_open"), "open")
    frames()
    assert cited["id"] in screen.cards
    screen.set_answer(cited, "non_compliant")  # a problem: its description and photo items appear
    frames()
    assert app.handheld.store.draft(101).answers[cited["id"]] == "non_compliant"  # saved at once
    shown = [i["id"] for i in screen.items if i["id"] in screen.cards]
    assert shown.index(cited["id"]) + 1 == shown.index(f"{cited['id']}_note")
    scroll, content, card = screen.ids.scroll, screen.ids.list, screen.cards[cited["id"]]
    frames()
    scroll.scroll_y = 1 - (content.top - card.top - 10) / (content.height - scroll.height)
    frames()
    link = labels(screen.cards[cited["id"]], "法律依据")[0]
    image = screenshot(kivy_window, "form")
    assert_chinese(kivy_window, image, link)
    ref = cited["legal_refs"][0]
    popup = screen.open_article(ref["law"], ref["article"])
    try:
        frames(10)
        image = screenshot(kivy_window, "form_legal_reference")
        body = [w for w in labels(popup, "第") if w.text.startswith("第")][0]
        assert_chinese(kivy_window, image, body)
        assert popup.title.startswith("《中华人民共和国食品安全法》第")
    finally:
        popup.dismiss()
        frames()


def test_judged_item_has_three_answer_buttons_and_the_conclusion_follows(kivy_window, app):
    from kivy.metrics import dp
    from kivy.uix.togglebutton import ToggleButton

    screen = app.root.get_screen("form")
    screen.show(103)
    items = screen.items
    screen.set_answer(next(i for i in items if i["id"] == "premises_open"), "open")
    frames()
    judged = next(i for i in items if i["type"] == "compliance")
    buttons = [w for w in screen.cards[judged["id"]].walk(restrict=True) if isinstance(w, ToggleButton)]
    assert [b.text for b in buttons] == ["符合", "不符合", "不适用"]
    assert all(b.height >= dp(48) for b in buttons)  # touch targets of at least 48 dp
    conclusion = screen.cards["result_category"]
    offered = [w.text for w in conclusion.walk(restrict=True) if isinstance(w, ToggleButton)]
    assert "未发现问题" in offered and "发现问题已责令改正" not in offered
    screen.set_answer(judged, "non_compliant")
    frames()
    conclusion = screen.cards["result_category"]  # re-rendered: a problem category is due now
    offered = [w.text for w in conclusion.walk(restrict=True) if isinstance(w, ToggleButton)]
    assert "未发现问题" not in offered and "发现问题已责令改正" in offered
    screen.set_answer({"id": "result_category"}, "no_problem")  # contradicts the answers
    assert "与检查记录不符" in screen.cards["result_category"].error


def test_law_library_search(kivy_window, app):
    screen = app.root.get_screen("laws")
    screen.show()
    assert "本机共" in screen.status
    screen.ids.query.text = "餐饮服务 许可"
    screen.search(screen.ids.query.text)
    image = screenshot(kivy_window, "laws")
    assert "条结果" in screen.status
    assert labels(screen, "《中华人民共和国食品安全法》第三十五条")
    assert_chinese(kivy_window, image, labels(screen, "《中华人民共和国")[0])


def test_outbox_after_finishing_offline(kivy_window, app):
    from mobile_helpers import fill_valid

    fill_valid(app.handheld, 102, problem=True)
    entry, check = app.handheld.finalize(102)
    assert entry is not None, check.errors
    screen = app.root.get_screen("outbox")
    screen.show()
    screen.upload()  # the server is unreachable: the entry must stay pending
    import time

    for _ in range(100):
        frames(1)
        if not screen.busy:
            break
        time.sleep(0.05)
    image = screenshot(kivy_window, "outbox")
    assert app.handheld.store.outbox_entry(entry.instance_id).state == "pending"
    assert_chinese(kivy_window, image, labels(screen, "知味观")[0])


def test_signature_pad_photo_chooser_and_manual_location(kivy_window, app, tmp_path, monkeypatch):
    from PIL import Image

    screen = app.root.get_screen("form")
    screen.show(103)
    signature = next(i for i in screen.items if i["type"] == "signature")
    pad = screen.cards[signature["id"]].signature_pad
    screen.save_signature(signature, pad)
    assert screen.message == "请先在签名框内签名"
    pad.draw([(0.1, 0.3), (0.3, 0.7), (0.5, 0.35), (0.8, 0.6)])
    screen.save_signature(signature, pad)
    checksum = app.handheld.store.draft(103).answers[signature["id"]]
    saved = next(a for a in app.handheld.store.attachments(screen.instance_id) if a.checksum == checksum)
    assert Image.open(saved.path).format == "PNG"

    # no camera on this platform: the photo button falls back to a file chooser
    photo = next(i for i in screen.items if i["type"] == "photo")
    picture = tmp_path / "site.png"
    Image.new("RGB", (32, 24), (200, 80, 40)).save(picture)
    opened = []
    monkeypatch.setattr(screen, "choose_file", lambda item: opened.append(item))
    screen.take_photo(photo)
    assert opened == [photo]
    monkeypatch.undo()
    chooser = screen.choose_file(photo)
    frames()
    chooser.dismiss()
    screen.add_photo(photo, str(picture))
    frames()
    assert len(app.handheld.store.draft(103).answers[photo["id"]]) == 1

    # no GPS either: manual latitude and longitude
    location = next(i for i in screen.items if i["type"] == "location")
    screen.locate(location, None, None)
    assert screen.message == "本设备无法自动定位，请手工输入经纬度"
    screen.set_answer(location, {"lat": 30.25, "lon": 120.16}, rerender=False)
    assert app.handheld.store.draft(103).answers[location["id"]] == {"lat": 30.25, "lon": 120.16}


def test_outbox_offers_a_way_out_of_a_refused_photo(kivy_window, app, tmp_path):
    """A photo the server refused: its message, 重新拍照 and 重新发送 — never a dead end."""
    from PIL import Image

    h = app.handheld
    entry = h.store.outbox_for_task(102)  # finished offline by the test above
    photo = next(a for a in h.store.attachments(entry.instance_id) if a.kind == "photo")
    refusal = "附件“site.jpg”超过 10 MB 上限，服务器未接收。请在上传队列中点“重新拍照”更换这张照片。"
    h.store.set_attachment_error(entry.instance_id, photo.checksum, refusal)
    h.store.update_outbox(entry.instance_id, state="blocked", last_error=refusal)
    screen = app.root.get_screen("outbox")
    screen.show()
    image = screenshot(kivy_window, "outbox-refused-photo")
    assert "附件待处理 1" in screen.status
    assert labels(screen, "超过 10 MB 上限")
    assert labels(screen, "重新发送") and labels(screen, "重新编辑后再提交")
    button = labels(screen, "重新拍照：")[0]
    assert_chinese(kivy_window, image, button)

    picture = tmp_path / "retaken.png"
    Image.new("RGB", (64, 48), (30, 140, 90)).save(picture)
    screen.replace_photo(entry.instance_id, photo.checksum, str(picture))
    assert h.store.outbox_entry(entry.instance_id) is None
    (new,) = h.store.outbox("pending", "uploading")
    assert new.body["deprecated_id"] == entry.instance_id
    assert photo.checksum not in {a["checksum"] for a in new.body["attachments"]}
    assert screen.notice == "已更换照片，正在重新上传"
    for _ in range(100):  # the server is unreachable: it stays queued
        frames(1)
        if not screen.busy:
            break
        import time

        time.sleep(0.05)


def test_form_shows_each_photos_size(kivy_window, app):
    screen = app.root.get_screen("form")
    screen.show(103)  # its photo was added by the chooser test above
    frames()
    assert labels(screen, "照片大小：")
