"""The base of every screen: access to the handheld core, navigation, background work."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import ObjectProperty
from kivy.uix.screenmanager import Screen


def load_kv(module_file: str) -> None:
    """Load the ``.kv`` next to a screen module (once)."""
    path = str(Path(module_file).with_suffix(".kv"))
    if path not in Builder.files:
        Builder.load_file(path)


class BaseScreen(Screen):
    handheld = ObjectProperty(None, allownone=True)

    def show(self, *args: Any, **kwargs: Any) -> None:
        """Refresh from the store and make this the current screen."""
        self.refresh(*args, **kwargs)
        if self.manager is not None:
            self.manager.current = self.name

    def refresh(self, *args: Any, **kwargs: Any) -> None:
        pass

    def go(self, name: str, *args: Any) -> None:
        assert self.manager is not None
        self.manager.get_screen(name).show(*args)

    def in_background(
        self, work: Callable[[], Any], done: Callable[[Any, Exception | None], None]
    ) -> None:
        """Run network work off the UI thread; call ``done(result, error)`` back on it."""

        def run() -> None:
            try:
                result, error = work(), None
            except Exception as exc:  # noqa: BLE001 - reported to the inspector
                result, error = None, exc
            Clock.schedule_once(lambda _dt: done(result, error))

        threading.Thread(target=run, daemon=True).start()
