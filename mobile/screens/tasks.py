"""任务列表: today / overdue / done, with why each entity was drawn."""

from __future__ import annotations

from typing import Any

from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)

from mobile.core.controller import TaskView
from mobile.screens.base import BaseScreen, load_kv
from mobile.screens.widgets import Card

load_kv(__file__)

RED = [0.78, 0.16, 0.16, 1]
ORANGE = [0.93, 0.55, 0.1, 1]
GREEN = [0.2, 0.6, 0.3, 1]


class TaskCard(Card):
    view = ObjectProperty(None)
    screen = ObjectProperty(None)


class TasksScreen(BaseScreen):
    tab = StringProperty("today")
    counts = ListProperty([0, 0, 0])
    status = StringProperty("")
    user_name = StringProperty("")
    busy = BooleanProperty(False)
    pending = NumericProperty(0)

    def refresh(self, sync: bool = False, *args: Any) -> None:
        h = self.handheld
        self.user_name = (h.user or {}).get("display_name") or ""
        self.views = h.task_views()
        self.counts = [len(self.views[k]) for k in ("today", "overdue", "done")]
        self.pending = len(h.store.outbox("pending", "uploading"))
        last = h.store.setting("last_refresh")
        if not self.busy:
            self.status = (
                f"上次同步 {last[:16].replace('T', ' ')} (UTC)"
                if last
                else "尚未同步，请点“同步”下载任务"
            )
        self._fill()
        if sync:
            self.sync()

    def set_tab(self, tab: str) -> None:
        self.tab = tab
        self._fill()

    def _fill(self) -> None:
        box = self.ids.list
        box.clear_widgets()
        for view in self.views.get(self.tab, []):
            accent = (
                RED if view.task.get("warning") else (ORANGE if view.tab == "overdue" else GREEN)
            )
            box.add_widget(TaskCard(view=view, screen=self, accent=accent))
        if not box.children:
            from mobile.screens.widgets import WrapLabel

            box.add_widget(WrapLabel(text="（暂无任务）", halign="center"))

    def sync(self) -> None:
        self.busy = True
        self.status = "正在同步…"
        self.in_background(lambda: self.handheld.sync(force=True), self._synced)

    def _synced(self, message: Any, error: Exception | None) -> None:
        self.busy = False
        self.status = f"同步失败：{error}" if error else str(message)
        self.refresh()

    def open_entity(self, view: TaskView) -> None:
        self.go("entity", view.uscc)

    def open_form(self, view: TaskView) -> None:
        self.go("form", view.id)

    def logout(self) -> None:
        self.handheld.logout()
        self.go("login")
