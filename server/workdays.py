"""Working-day arithmetic (weekends and configured public holidays are not working days)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np


class WorkCalendar:
    """Working days: Monday–Friday minus ``holidays`` plus ``extra_workdays`` (调休)."""

    def __init__(self, holidays: Iterable[str | dt.date] = (), extra_workdays: Iterable[str | dt.date] = ()) -> None:
        self.holidays = np.array([np.datetime64(str(h), "D") for h in holidays], dtype="datetime64[D]")
        self.extra = {dt.date.fromisoformat(str(d)) for d in extra_workdays}

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.extra:
            return True
        return bool(np.is_busday(np.datetime64(day, "D"), holidays=self.holidays))

    def add(self, start: dt.date, days: int) -> dt.date:
        """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
        current = start
        remaining = days
        while remaining > 0:
            current += dt.timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]."""
        if end <= start:
            return 0
        n = int(np.busday_count(np.datetime64(start + dt.timedelta(days=1), "D"),
                                np.datetime64(end + dt.timedelta(days=1), "D"), holidays=self.holidays))
        return n + sum(1 for d in self.extra if start < d <= end and not np.is_busday(np.datetime64(d, "D")))


def calendar_from_config(config: dict[str, object]) -> WorkCalendar:
    return WorkCalendar(config.get("HOLIDAYS", ()) or (), config.get("EXTRA_WORKDAYS", ()) or ())  # type: ignore[arg-type]
