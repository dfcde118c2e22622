"""The app's screens: ``<name>.py`` (a thin class) next to ``<name>.kv`` (the layout)."""

from __future__ import annotations

from typing import Any


def screen_classes() -> dict[str, Any]:
    """{screen name: class}; imported lazily so that importing ``mobile`` needs no Kivy."""
    from mobile.screens import widgets  # noqa: F401 - registers shared kv rules first
    from mobile.screens.entity import EntityScreen
    from mobile.screens.form import FormScreen
    from mobile.screens.laws import LawsScreen
    from mobile.screens.login import LoginScreen
    from mobile.screens.outbox import OutboxScreen
    from mobile.screens.tasks import TasksScreen

    return {
        "login": LoginScreen,
        "tasks": TasksScreen,
        "entity": EntityScreen,
        "form": FormScreen,
        "laws": LawsScreen,
        "outbox": OutboxScreen,
    }
