"""双随 handheld: ``python -m mobile.main`` (``make mobile``).

``SHUANGSUI_SERVER`` names the server (default http://127.0.0.1:8000);
``SHUANGSUI_DATA_DIR`` overrides where the device keeps its store (default: Kivy's
``user_data_dir``).
"""

from __future__ import annotations

import os
import threading
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")  # our own flags are environment variables

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.logger import Logger  # noqa: E402
from kivy.uix.screenmanager import NoTransition, ScreenManager  # noqa: E402

from mobile.core.controller import Handheld  # noqa: E402
from mobile.fonts import register_cjk_font  # noqa: E402

UPLOAD_EVERY_SECONDS = 60


class MobileApp(App):
    title = "双随 · 移动执法"

    def __init__(
        self, *, data_dir: str | None = None, server_url: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._data_dir = data_dir or os.environ.get("SHUANGSUI_DATA_DIR")
        self._server_url = server_url or os.environ.get("SHUANGSUI_SERVER")
        self.handheld: Handheld | None = None
        self._uploading = threading.Lock()

    def build(self) -> ScreenManager:
        register_cjk_font()  # before the first label is made
        from mobile.screens import screen_classes

        self.handheld = Handheld(self._data_dir or self.user_data_dir, self._server_url)
        manager = ScreenManager(transition=NoTransition())
        for name, cls in screen_classes().items():
            manager.add_widget(cls(name=name, handheld=self.handheld))
        manager.get_screen("tasks" if self.handheld.logged_in else "login").show()
        Clock.schedule_interval(self._upload_in_background, UPLOAD_EVERY_SECONDS)
        return manager

    def _upload_in_background(self, _dt: float) -> None:
        """Retry the outbox now and then; each entry's backoff decides whether it is due."""
        handheld = self.handheld
        if (
            handheld is None
            or not handheld.logged_in
            or not self._uploading.acquire(blocking=False)
        ):
            return

        def run() -> None:
            try:
                handheld.sync_engine.upload()
            except Exception:  # noqa: BLE001 - logged; the next tick retries
                Logger.exception("Shuangsui: background upload failed")
            finally:
                self._uploading.release()

        threading.Thread(target=run, daemon=True).start()

    def on_stop(self) -> None:
        if self.handheld is not None:
            self.handheld.close()


if __name__ == "__main__":
    MobileApp().run()
