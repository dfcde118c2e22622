"""上传队列: what is pending, sent, blocked and rejected (with the server's reason), and the log.

A blocked entry (an attachment refused) is never a dead end: re-send it, re-take the
photo, or reopen the form; the result meanwhile waits on the server, not counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.utils import escape_markup

from mobile.core.controller import LOG_EVENTS
from mobile.core.photos import PhotoError
from mobile.screens import photopicker
from mobile.screens.base import BaseScreen, load_kv
from mobile.screens.widgets import Card, WrapLabel

load_kv(__file__)

ACCENTS = {
    "pending": [0.93, 0.55, 0.1, 1],
    "uploading": [0.93, 0.55, 0.1, 1],
    "blocked": [0.78, 0.16, 0.16, 1],
    "sent": [0.2, 0.6, 0.3, 1],
    "rejected": [0.78, 0.16, 0.16, 1],
}


def _factory(name: str, **kwargs: Any) -> Any:
    from kivy.factory import Factory

    return getattr(Factory, name)(**kwargs)


class OutboxScreen(BaseScreen):
    notice = StringProperty("")
    status = StringProperty("")
    busy = BooleanProperty(False)
    pending = NumericProperty(0)

    def refresh(self, *args: Any) -> None:
        h = self.handheld
        rows = h.outbox_rows()
        self.pending = sum(r["state"] in ("pending", "uploading", "blocked") for r in rows)
        counts = {k: sum(r["state"] == k for r in rows) for k in ("sent", "rejected", "blocked")}
        if not self.busy:
            self.status = (
                f"待上传 {self.pending} · 已上传 {counts['sent']} · 被退回 {counts['rejected']}"
            )
            if counts["blocked"]:
                self.status += f" · 附件待处理 {counts['blocked']}"
        box = self.ids.list
        box.clear_widgets()
        for r in sorted(rows, key=lambda r: (r["state"] == "sent", r["created_at"]), reverse=False):
            card = Card(accent=ACCENTS[r["state"]])
            card.add_widget(
                WrapLabel(text=f"[b]{escape_markup(r['entity'])}[/b]　{r['state_label']}")
            )
            detail = f"任务 {r['task_id']} · 完成于 {r['created_at'][:16].replace('T', ' ')}"
            if r["sent_at"]:
                detail += f" · 上传于 {r['sent_at'][:16].replace('T', ' ')}"
            if r["attempts"] and r["state"] != "sent":
                detail += f" · 已尝试 {r['attempts']} 次"
            card.add_widget(_factory("HintLabel", text=detail))
            if r["state"] == "blocked":
                self._attachment_rows(card, r)
            elif r["error"] and r["state"] != "sent":
                card.add_widget(
                    _factory(
                        "ErrorLabel",
                        text=("服务器退回：" if r["state"] == "rejected" else "上次失败：")
                        + escape_markup(r["error"]),
                    )
                )
                for item_id, msg in (r["items"] or {}).items():
                    card.add_widget(
                        _factory(
                            "ErrorLabel", text=f"· {escape_markup(item_id)}：{escape_markup(msg)}"
                        )
                    )
            if r["state"] in ("rejected", "blocked"):
                b = _factory("FlatButton", text="重新编辑后再提交")
                b.bind(
                    on_release=lambda _b, iid=r["instance_id"], tid=r["task_id"]: self.reopen(
                        iid, tid
                    )
                )
                card.add_widget(b)
            box.add_widget(card)
        log = Card()
        log.add_widget(WrapLabel(text="[b]同步日志[/b]"))
        for e in h.store.sync_log(15):
            log.add_widget(
                _factory(
                    "HintLabel",
                    text=f"{e['at'][5:16].replace('T', ' ')}  {LOG_EVENTS.get(e['event'], e['event'])}  "
                    f"{escape_markup(e['detail'] or '')}",
                )
            )
        box.add_widget(log)

    def upload(self) -> None:
        if self.busy:
            return
        self.busy = True
        self.status = "正在上传…"
        self.in_background(lambda: self.handheld.sync_engine.upload(force=True), self._uploaded)

    def _uploaded(self, report: Any, error: Exception | None) -> None:
        self.busy = False
        self.refresh()
        if error is not None:
            self.status = f"上传失败：{error}"
        elif report is not None:
            self.status = report.message

    def _attachment_rows(self, card: Card, r: dict[str, Any]) -> None:
        """A blocked entry: the result is kept on the server; each refused attachment with
        the server's words and the two ways out (send it again, take a new photo).
        """
        card.add_widget(
            _factory(
                "HintLabel",
                text="检查结果已保存在服务器，补齐附件后任务办结。",
            )
        )
        for a in r["attachments"]:
            if not a["error"]:
                continue
            card.add_widget(
                _factory(
                    "ErrorLabel",
                    text=f"· {escape_markup(a['filename'])}（{a['size_label']}）："
                    f"{escape_markup(a['error'])}",
                )
            )
            if a["can_shrink"]:
                small = _factory("FlatButton", text=f"压缩后重新发送：{a['filename']}")
                small.bind(
                    on_release=lambda _b, iid=r["instance_id"], c=a["checksum"]: self.shrink(
                        iid, c
                    )
                )
                card.add_widget(small)
            if a["kind"] == "photo":
                b = _factory("FlatButton", text=f"重新拍照：{a['filename']}")
                b.bind(
                    on_release=lambda _b, iid=r["instance_id"], c=a["checksum"]: self.retake(
                        iid, c
                    )
                )
                card.add_widget(b)
        again = _factory("FlatButton", text="重新发送")
        again.bind(on_release=lambda _b, iid=r["instance_id"]: self.resend(iid))
        card.add_widget(again)

    def resend(self, instance_id: str) -> None:
        self.handheld.resend(instance_id)
        self.refresh()
        self.upload()

    def shrink(self, instance_id: str, checksum: str) -> None:
        try:
            self.handheld.shrink(instance_id, checksum)
        except (PhotoError, ValueError) as exc:
            self.notice = str(exc)
            return
        self.notice = "已压缩照片，正在重新上传"
        self.refresh()
        self.upload()

    def retake(self, instance_id: str, checksum: str) -> None:
        photopicker.take_photo(
            lambda path: self.replace_photo(instance_id, checksum, path),
            lambda: photopicker.choose_file(
                lambda path: self.replace_photo(instance_id, checksum, path), title="重新选择照片"
            ),
        )

    def replace_photo(self, instance_id: str, checksum: str, path: str | None) -> None:
        if not path or not Path(path).is_file():
            self.notice = "未取得照片"
            return
        try:
            self.handheld.retake(instance_id, checksum, path)
        except (PhotoError, ValueError, KeyError) as exc:
            self.notice = str(exc)
            return
        self.notice = "已更换照片，正在重新上传"
        self.refresh()
        self.upload()

    def reopen(self, instance_id: str, task_id: int) -> None:
        self.handheld.store.reopen(instance_id)
        self.go("form", task_id)
