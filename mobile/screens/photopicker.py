"""Taking a photo: the camera where there is one, else a file chooser (desktop, emulator).

Shared by the form (a photo item) and the outbox (re-taking a photo the server refused).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.filechooser import FileChooserListView
from kivy.uix.popup import Popup

__all__ = ["choose_file", "take_photo"]

PHOTO_FILTERS = ["*.jpg", "*.jpeg", "*.png", "*.JPG", "*.JPEG", "*.PNG"]


def _factory(name: str, **kwargs: Any) -> Any:
    from kivy.factory import Factory

    return getattr(Factory, name)(**kwargs)


def take_photo(chosen: Callable[[str | None], None], fallback: Callable[[], Any]) -> None:
    """Open the camera; ``chosen(path)`` gets the picture. Without a camera, ``fallback()``."""
    target = Path(tempfile.gettempdir()) / f"shuangsui-{uuid.uuid4().hex}.jpg"
    try:
        from plyer import camera

        camera.take_picture(
            filename=str(target),
            on_complete=lambda path: Clock.schedule_once(lambda _dt: chosen(path)),
        )
        return
    except (NotImplementedError, ImportError, AttributeError, OSError):
        pass  # no camera on this platform
    fallback()


def choose_file(chosen: Callable[[str], None], *, title: str = "选择照片") -> Popup:
    """A file chooser for photos; ``chosen(path)`` when the inspector confirms one."""
    chooser = FileChooserListView(path=str(Path.home()), filters=PHOTO_FILTERS)
    layout = BoxLayout(orientation="vertical", spacing=dp(6))
    layout.add_widget(chooser)
    row = BoxLayout(size_hint_y=None, height=dp(48), spacing=dp(6))
    popup = Popup(title=title, content=layout, size_hint=(0.96, 0.9))
    cancel = _factory("FlatButton", text="取消", background_color=(0.5, 0.52, 0.56, 1))
    cancel.bind(on_release=lambda _b: popup.dismiss())
    ok = _factory("FlatButton", text="使用所选照片")

    def confirm(_b: Any) -> None:
        if chooser.selection:
            popup.dismiss()
            chosen(chooser.selection[0])

    ok.bind(on_release=confirm)
    row.add_widget(cancel)
    row.add_widget(ok)
    layout.add_widget(row)
    popup.open()
    return popup
