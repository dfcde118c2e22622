"""Widgets shared by the screens (layout and looks in ``widgets.kv``)."""

from __future__ import annotations

from pathlib import Path

from kivy.graphics import Color, Line
from kivy.lang import Builder
from kivy.properties import ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.popup import Popup
from kivy.uix.widget import Widget

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class WrapLabel(Label):
    pass


class Card(BoxLayout):
    accent = ListProperty([])


class NavBar(BoxLayout):
    current = StringProperty("tasks")
    pending = NumericProperty(0)

    def go(self, name: str) -> None:
        screen = self.parent
        while screen is not None and not hasattr(screen, "manager"):
            screen = screen.parent
        if screen is not None and screen.manager is not None:
            screen.manager.get_screen(name).show()


class ArticlePopup(Popup):
    body = StringProperty("")


class SignaturePad(Widget):
    """Draw with a finger; ``export_to_png`` saves what was drawn."""

    strokes = NumericProperty(0)

    def on_touch_down(self, touch):  # type: ignore[no-untyped-def]
        if not self.collide_point(*touch.pos):
            return super().on_touch_down(touch)
        touch.grab(self)
        with self.canvas:
            Color(0.05, 0.05, 0.2, 1)
            touch.ud["signature_line"] = Line(points=[*touch.pos], width=1.6)
        self.strokes += 1
        return True

    def on_touch_move(self, touch):  # type: ignore[no-untyped-def]
        if (
            touch.grab_current is self
            and "signature_line" in touch.ud
            and self.collide_point(*touch.pos)
        ):
            touch.ud["signature_line"].points += [*touch.pos]
            return True
        return super().on_touch_move(touch)

    def on_touch_up(self, touch):  # type: ignore[no-untyped-def]
        if touch.grab_current is self:
            touch.ungrab(self)
            return True
        return super().on_touch_up(touch)

    def draw(self, points: list[tuple[float, float]]) -> None:
        """Add a stroke given in the pad's relative coordinates (0..1); used by tests and demos."""
        with self.canvas:
            Color(0.05, 0.05, 0.2, 1)
            Line(
                points=[
                    c
                    for x, y in points
                    for c in (self.x + x * self.width, self.y + y * self.height)
                ],
                width=1.6,
            )
        self.strokes += 1

    def clear(self) -> None:
        self.canvas.clear()
        self.strokes = 0
