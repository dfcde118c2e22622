"""检查表: the task's form, item by item, saved on every answer; each item's legal basis.

Which widgets an item gets depends on its type, so the inputs are built here; the
card around them (``ItemCard``) is laid out in ``form.kv``.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.metrics import dp
from kivy.properties import BooleanProperty, DictProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.popup import Popup
from kivy.utils import escape_markup

from mobile.core import formengine
from mobile.core.controller import size_label
from mobile.core.photos import PhotoError
from mobile.core.store import Attachment
from mobile.screens import photopicker
from mobile.screens.base import BaseScreen, load_kv
from mobile.screens.widgets import ArticlePopup, Card, SignaturePad, WrapLabel

load_kv(__file__)

BLUE = [0.09, 0.29, 0.55, 1]
RED = [0.78, 0.16, 0.16, 1]


def _factory(name: str, **kwargs: Any) -> Any:
    from kivy.factory import Factory

    return getattr(Factory, name)(**kwargs)


def photo_sizes(photos: list[Attachment]) -> str:
    """What the inspector reads under the photos: each one's size, and the camera's original."""
    parts = []
    for a in photos:
        text = size_label(a.size)
        if a.original_size and a.original_size != a.size:
            text += f"（原图 {size_label(a.original_size)}，已压缩）"
        parts.append(text)
    return "照片大小：" + "；".join(parts)


class ItemCard(Card):
    heading = StringProperty("")
    hint = StringProperty("")
    error = StringProperty("")


class FormScreen(BaseScreen):
    title = StringProperty("检查表")
    subtitle = StringProperty("")
    message = StringProperty("")
    read_only = BooleanProperty(False)
    cards = DictProperty({})

    def refresh(self, task_id: int | None = None, *args: Any) -> None:
        h = self.handheld
        if task_id is not None:
            self.task_id = task_id
        self.message = ""
        try:
            self.task, self.form, self.items = h.form_for_task(self.task_id)
        except KeyError as exc:
            self.items = []
            self.message = str(exc.args[0])
            self.ids.list.clear_widgets()
            return
        entry = h.store.outbox_for_task(self.task_id)
        self.read_only = (entry is not None and entry.state != "rejected") or self.task[
            "state"
        ] not in ("assigned", "in_progress")
        if self.read_only:
            self.answers = dict(entry.body["answers"]) if entry else {}
            if entry:  # the conclusion travels beside the answers
                self.answers.update(
                    {k: entry.body[k] for k in formengine.CONCLUSION_IDS if entry.body.get(k)}
                )
            self.instance_id = entry.instance_id if entry else ""
        else:
            draft = h.open_draft(self.task_id)
            self.answers = dict(draft.answers)
            self.instance_id = draft.instance_id
        entity = self.task.get("entity") or {}
        self.title = entity.get("name", "检查表")
        state = "（已提交，只读）" if self.read_only else "（草稿已自动保存）"
        self.subtitle = f"{self.form.get('title', '')} v{self.form.get('version', '')} {state}"
        self._render()
        self.ids.scroll.scroll_y = 1

    # -- rendering --------------------------------------------------------------------
    def _relevant_ids(self) -> list[Any]:
        """What the list shows: the relevant items, and the choices the conclusion offers
        (both change with the answers; a change re-renders the list).
        """
        shown: list[Any] = [i["id"] for i in formengine.relevant_items(self.items, self.answers)]
        for item in self._conclusion_items():
            shown.append((item["id"], tuple(c["value"] for c in item["choices"])))
        return shown

    def _conclusion_items(self) -> list[dict[str, Any]]:
        return formengine.conclusion_items(self.items, self.answers)

    def _render(self) -> None:
        box = self.ids.list
        box.clear_widgets()
        self.cards = {}
        self._shown = self._relevant_ids()
        number = 0
        for item in [*self.items, *self._conclusion_items()]:
            if item["id"] not in self._shown and item["id"] not in formengine.CONCLUSION_IDS:
                continue
            number += 1
            card = self._card(number, item)
            self.cards[item["id"]] = card
            box.add_widget(card)

    def _card(self, number: int, item: dict[str, Any]) -> ItemCard:
        star = "[color=c62828]*[/color] " if item.get("required") else ""
        problem = formengine.is_problem(item, self.answers.get(item["id"]))
        card = ItemCard(
            heading=f"{number}. {star}{escape_markup(item.get('label', item['id']))}",
            hint=item.get("hint") or "",
            accent=RED if problem else [],
        )
        for text, ref in self.handheld.legal_refs(item):
            if ref:
                link = _factory("LinkButton", text=f"法律依据：{text}（点击查看条文）")
                link.bind(on_release=lambda _b, r=ref: self.open_article(r["law"], r["article"]))
                card.ids.refs.add_widget(link)
            else:
                card.ids.refs.add_widget(_factory("HintLabel", text=f"法律依据：{text}"))
        if item.get("basis_quote"):
            card.ids.refs.add_widget(
                _factory("HintLabel", text=f"条文：“{escape_markup(item['basis_quote'])}”")
            )
        builder = getattr(self, f"_input_{item['type']}", None)
        if builder is None:
            card.ids.input.add_widget(WrapLabel(text=f"（不支持的题型 {item['type']}）"))
        else:
            builder(card, item, self.answers.get(item["id"]))
        if item["id"] in formengine.CONCLUSION_IDS and self.answers.get(item["id"]):
            # a chosen conclusion the answers no longer support says so at once
            check = formengine.conclude(
                self.items,
                self.answers,
                self.answers.get("result_category"),
                self.answers.get("follow_up"),
            )
            card.error = check.errors.get(item["id"], "")
        if self.read_only:
            card.ids.input.disabled = True
        return card

    def _toggles(
        self,
        card: ItemCard,
        item: dict[str, Any],
        options: list[tuple[Any, str]],
        value: Any,
        *,
        multi: bool = False,
        cols: int | None = None,
        height: float | None = None,
    ) -> None:
        if cols is None:
            cols = 2 if len(options) <= 4 else 1
        grid = GridLayout(cols=cols, spacing=dp(6), size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        group = None if multi else f"{self.instance_id}-{item['id']}"
        selected = set(value or []) if multi else {value}
        buttons = []
        for option, label in options:
            b = _factory(
                "ChoiceButton",
                text=label,
                group=group,
                state="down" if option in selected else "normal",
            )
            if height is not None:
                b.height = height
            b.option = option
            buttons.append(b)
            grid.add_widget(b)

        def changed(_b: Any) -> None:
            down = [x.option for x in buttons if x.state == "down"]
            self.set_answer(item, down if multi else (down[0] if down else None))

        for b in buttons:
            b.bind(on_release=changed)
        card.ids.input.add_widget(grid)

    def _input_compliance(self, card: ItemCard, item: dict[str, Any], value: Any) -> None:
        # 符合 / 不符合 / 不适用 side by side, each at least 48 dp tall (a gloved thumb)
        self._toggles(
            card,
            item,
            [
                ("compliant", "符合"),
                ("non_compliant", "不符合"),
                ("not_applicable", "不适用"),
            ],
            value,
            cols=3,
            height=dp(52),
        )

    def _input_yes_no(self, card: ItemCard, item: dict[str, Any], value: Any) -> None:
        self._toggles(card, item, [("yes", "是"), ("no", "否")], value)

    def _input_choice(self, card: ItemCard, item: dict[str, Any], value: Any) -> None:
        self._toggles(
            card, item, [(c["value"], c["label"]) for c in item.get("choices") or []], value
        )

    def _input_multi_choice(self, card: ItemCard, item: dict[str, Any], value: Any) -> None:
        self._toggles(
            card,
            item,
            [(c["value"], c["label"]) for c in item.get("choices") or []],
            value,
            multi=True,
        )

    def _input_number(self, card: ItemCard, item: dict[str, Any], value: Any) -> None:
        field = _factory(
            "Field",
            text="" if value is None else str(value),
            input_filter="float",
            hint_text="请输入数字",
        )
        field.bind(text=lambda _f, text: self.set_answer(item, text, rerender=False))
        card.ids.input.add_widget(field)

    def _input_text(self, card: ItemCard, item: dict[str, Any], value: Any) -> None:
        field = _factory(
            "Field", text=value or "", multiline=True, height=dp(84), hint_text="请输入"
        )
        field.bind(text=lambda _f, text: self.set_answer(item, text, rerender=False))
        card.ids.input.add_widget(field)

    def _input_location(self, card: ItemCard, item: dict[str, Any], value: Any) -> None:
        value = value or {}
        row = BoxLayout(size_hint_y=None, height=dp(42), spacing=dp(6))
        lat = _factory(
            "Field", text=str(value.get("lat", "")), hint_text="纬度", input_filter="float"
        )
        lon = _factory(
            "Field", text=str(value.get("lon", "")), hint_text="经度", input_filter="float"
        )
        row.add_widget(lat)
        row.add_widget(lon)

        def typed(*_a: Any) -> None:
            try:
                answer: Any = {"lat": float(lat.text), "lon": float(lon.text)}
            except ValueError:
                answer = {"lat": lat.text, "lon": lon.text} if (lat.text or lon.text) else None
            self.set_answer(item, answer, rerender=False)

        lat.bind(text=typed)
        lon.bind(text=typed)
        gps = _factory("FlatButton", text="获取 GPS 定位")
        gps.bind(on_release=lambda _b: self.locate(item, lat, lon))
        card.ids.input.add_widget(gps)
        card.ids.input.add_widget(row)
        card.ids.input.add_widget(_factory("HintLabel", text="无法自动定位时请手工输入经纬度"))

    def _input_photo(self, card: ItemCard, item: dict[str, Any], value: Any) -> None:
        checksums = value if isinstance(value, list) else ([value] if value else [])
        files = {a.checksum: a for a in self.handheld.store.attachments(self.instance_id)}
        if checksums:
            row = BoxLayout(size_hint_y=None, height=dp(72), spacing=dp(6))
            for c in checksums:
                if c in files:
                    row.add_widget(
                        Image(
                            source=files[c].path, size_hint_x=None, width=dp(96), fit_mode="contain"
                        )
                    )
            row.add_widget(WrapLabel(text=f"已添加 {len(checksums)} 张照片"))
            card.ids.input.add_widget(row)
            card.ids.input.add_widget(
                _factory("HintLabel", text=photo_sizes([files[c] for c in checksums if c in files]))
            )
        button = _factory("FlatButton", text="拍照 / 选择照片")
        button.bind(on_release=lambda _b: self.take_photo(item))
        card.ids.input.add_widget(button)

    def _input_signature(self, card: ItemCard, item: dict[str, Any], value: Any) -> None:
        if value:
            path = next(
                (
                    a.path
                    for a in self.handheld.store.attachments(self.instance_id)
                    if a.checksum == value
                ),
                None,
            )
            if path:
                card.ids.input.add_widget(
                    Image(source=path, size_hint_y=None, height=dp(110), fit_mode="contain")
                )
            card.ids.input.add_widget(
                _factory("HintLabel", text="已签名（如需重签，请在下方重新书写并保存）")
            )
        pad = SignaturePad()
        card.signature_pad = pad
        card.ids.input.add_widget(pad)
        row = BoxLayout(size_hint_y=None, height=dp(42), spacing=dp(6))
        clear = _factory("FlatButton", text="清除", background_color=(0.5, 0.52, 0.56, 1))
        clear.bind(on_release=lambda _b: pad.clear())
        save = _factory("FlatButton", text="保存签名")
        save.bind(on_release=lambda _b: self.save_signature(item, pad))
        row.add_widget(clear)
        row.add_widget(save)
        card.ids.input.add_widget(row)

    # -- answering --------------------------------------------------------------------
    def set_answer(self, item: dict[str, Any], raw: Any, *, rerender: bool = True) -> None:
        if self.read_only:
            return
        error = self.handheld.answer(self.task_id, item["id"], raw)
        draft = self.handheld.store.draft(self.task_id)
        self.answers = dict(draft.answers) if draft else {}
        card = self.cards.get(item["id"])
        if card is not None:
            card.error = error or ""
            problem = formengine.is_problem(item, self.answers.get(item["id"]))
            card.accent = RED if problem else []
        if rerender and self._relevant_ids() != self._shown:
            scroll = self.ids.scroll.scroll_y
            self._render()
            self.ids.scroll.scroll_y = scroll

    def open_article(self, law: str, number: int) -> ArticlePopup:
        title, text = self.handheld.article_text(law, number)
        popup = ArticlePopup(title=title, body=escape_markup(text))
        popup.open()
        return popup

    def take_photo(self, item: dict[str, Any]) -> None:
        photopicker.take_photo(lambda path: self.add_photo(item, path), lambda: self.choose_file(item))

    def choose_file(self, item: dict[str, Any]) -> Popup:
        return photopicker.choose_file(lambda path: self.add_photo(item, path))

    def add_photo(self, item: dict[str, Any], path: str | None) -> None:
        if not path or not Path(path).is_file():
            self.message = "未取得照片"
            return
        try:
            self.handheld.attach(self.task_id, item["id"], "photo", path)
        except PhotoError as exc:
            self.message = str(exc)
            return
        self.message = ""
        self._after_attachment()

    def save_signature(self, item: dict[str, Any], pad: SignaturePad) -> None:
        if not pad.strokes:
            self.message = "请先在签名框内签名"
            return
        target = Path(tempfile.gettempdir()) / f"shuangsui-signature-{uuid.uuid4().hex}.png"
        pad.export_to_png(str(target))
        self.handheld.attach(self.task_id, item["id"], "signature", target, "signature.png")
        target.unlink(missing_ok=True)
        self._after_attachment()

    def _after_attachment(self) -> None:
        draft = self.handheld.store.draft(self.task_id)
        self.answers = dict(draft.answers) if draft else {}
        scroll = self.ids.scroll.scroll_y
        self._render()
        self.ids.scroll.scroll_y = scroll

    def locate(self, item: dict[str, Any], lat_field: Any, lon_field: Any) -> None:
        def located(**kw: Any) -> None:
            def fill(_dt: float) -> None:
                lat_field.text, lon_field.text = str(kw.get("lat")), str(kw.get("lon"))
                answer = {"lat": float(kw["lat"]), "lon": float(kw["lon"])}
                if kw.get("accuracy") is not None:
                    answer["accuracy"] = float(kw["accuracy"])
                self.set_answer(item, answer, rerender=False)
                try:
                    gps.stop()
                except NotImplementedError:
                    pass

            Clock.schedule_once(fill)

        try:
            from plyer import gps

            gps.configure(on_location=located)
            gps.start(minTime=1000, minDistance=0)
            self.message = "正在定位…"
        except (NotImplementedError, ImportError, AttributeError, OSError):
            self.message = "本设备无法自动定位，请手工输入经纬度"

    # -- finishing --------------------------------------------------------------------
    def finalize(self) -> None:
        entry, check = self.handheld.finalize(self.task_id)
        for item_id, card in self.cards.items():
            card.error = check.errors.get(item_id, "")
        if entry is None:
            first = next(
                (self.cards[i] for i in self._shown if i in check.errors and i in self.cards), None
            )
            self.message = f"还有 {len(check.errors)} 项需要填写或更正"
            if first is not None:
                self.ids.scroll.scroll_to(first)
            return
        category = (entry.body or {}).get("result_category") or ""
        result = formengine.RESULT_CATEGORIES.get(
            category, "发现问题" if check.problem_found else "未发现问题"
        )
        outbox = self.manager.get_screen("outbox")
        outbox.show()
        outbox.notice = f"已完成：{self.title}，{result}。已放入待上传队列。"
        outbox.upload()
