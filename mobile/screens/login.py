"""登录: online against the server, offline with the last user's password."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from mobile.core.controller import LoginError
from mobile.screens.base import BaseScreen, load_kv

load_kv(__file__)


class LoginScreen(BaseScreen):
    message = StringProperty("")
    busy = BooleanProperty(False)
    server_url = StringProperty("")
    last_username = StringProperty("")

    def refresh(self, *args: Any, **kwargs: Any) -> None:
        h = self.handheld
        self.server_url = h.client.base_url
        self.last_username = (h.store.setting("offline_login") or {}).get("username", "")

    def login(self, username: str, password: str, server_url: str) -> None:
        h = self.handheld
        if server_url.strip() and server_url.strip().rstrip("/") != h.client.base_url:
            h.store.set_setting("server_url", server_url.strip().rstrip("/"))
            h.client.base_url = server_url.strip().rstrip("/")
        self.busy = True
        self.message = "正在登录…"
        self.in_background(lambda: h.login(username, password), self._logged_in)

    def _logged_in(self, user: Any, error: Exception | None) -> None:
        self.busy = False
        if error is not None:
            self.message = str(error) if isinstance(error, LoginError) else f"登录失败：{error}"
            return
        self.message = ""
        self.ids.password.text = ""
        self.go("tasks", True)
