"""Working days (工作日) under the State Council's holiday arrangement.

Deadlines counted in working days — results published within 20 working days of the
inspection's completion (企业信息公示暂行条例 第六条第二款: "前款规定的企业信息应当自产生之日起
20个工作日内予以公示"), warning SLAs — skip weekends and the statutory holidays (元旦, 春节,
清明, 劳动节, 端午, 中秋, 国庆) and count the make-up working days (调休) that fall on a
Saturday or Sunday.

Where the arrangement comes from (:func:`official_calendar`):

- the ``chinese-calendar`` package (PyPI ``chinese-calendar``): the State Council's
  arrangement for every year since 2004, holidays *and* 调休 working days, each year added
  by its maintainers when the State Council announces it (``holidays`` on PyPI has the
  same years but extends them past the last announcement by rule, without the 调休 days,
  so a guessed year would look known);
- files ``data/reference/holidays/<year>.csv`` (``date,kind,name``; ``kind`` is
  ``holiday`` or ``workday``), which the bureau adds when the State Council announces next
  year's arrangement (国务院办公厅关于XXXX年部分节假日安排的通知) before the package has it. A
  file replaces the package's data for its year.

A date in a year neither knows is still counted (Monday–Friday), but never silently: the
calendar logs a warning and :meth:`WorkCalendar.warning` returns the Chinese text shown
next to every deadline computed across that year.

Bulk dates (per-entity due dates of a whole round) go through numpy's business-day
functions with one ``busdaycalendar`` in which *every* non-working day is a holiday
(weekmask of seven days), so 调休 Saturdays count as working days in vectorised code too.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: The span of years the vectorised calendar covers; dates outside it are refused.
FIRST_YEAR, LAST_YEAR = 1990, 2100
KINDS = ("holiday", "workday")


class CalendarFileError(ValueError):
    """A holiday arrangement file that cannot be read (message in Chinese, names the line)."""


def _as_date(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


class WorkCalendar:
    """Working days: Monday–Friday, minus ``holidays``, plus ``extra_workdays`` (调休).

    Parameters
    ----------
    holidays, extra_workdays
        Days off on weekdays and working weekend days.
    known_years
        Years whose arrangement these lists describe completely. ``None`` (a calendar
        given explicitly, e.g. in tests) claims every year; otherwise a date in another
        year makes :meth:`warning` return a text and is logged once.
    names
        Optional date → holiday name, for display.
    """

    def __init__(self, holidays: Iterable[str | dt.date] = (), extra_workdays: Iterable[str | dt.date] = (),
                 *, known_years: Iterable[int] | None = None, names: Mapping[dt.date, str] | None = None) -> None:
        self.holiday_dates = frozenset(_as_date(h) for h in holidays)
        self.extra = frozenset(_as_date(d) for d in extra_workdays)
        self.known_years = None if known_years is None else frozenset(int(y) for y in known_years)
        self.names = dict(names or {})
        self._warned: set[int] = set()
        # every non-working day from FIRST_YEAR to LAST_YEAR, for numpy with a 7-day weekmask
        days = np.arange(np.datetime64(f"{FIRST_YEAR}-01-01"), np.datetime64(f"{LAST_YEAR + 1}-01-01"),
                         dtype="datetime64[D]")
        weekend = ((days.astype(np.int64) + 3) % 7) >= 5  # 1970-01-01 was a Thursday
        off = weekend | np.isin(days, np.array(sorted(self.holiday_dates), dtype="datetime64[D]"))
        off &= ~np.isin(days, np.array(sorted(self.extra), dtype="datetime64[D]"))
        self._cal = np.busdaycalendar(weekmask="1111111", holidays=days[off])

    # ------------------------------------------------------------------ single dates
    def is_working_day(self, day: dt.date) -> bool:
        return bool(np.is_busday(np.datetime64(_as_date(day), "D"), busdaycal=self._cal))

    def add(self, start: dt.date, days: int) -> dt.date:
        """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
        out = self.add_many(np.array([_as_date(start)], dtype="datetime64[D]"), days)
        return out[0].astype(dt.date)  # type: ignore[no-any-return]

    def between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]."""
        if end <= start:
            return 0
        return int(self.between_many(np.array([start], dtype="datetime64[D]"),
                                     np.array([end], dtype="datetime64[D]"))[0])

    # ------------------------------------------------------------------ bulk (numpy)
    def add_many(self, starts: np.ndarray, days: int | np.ndarray) -> np.ndarray:
        """Vectorised :meth:`add`: ``starts`` as ``datetime64[D]``; NaT stays NaT.

        The deadline is the ``days``-th working day *after* the start: a start on a day off
        rolls forward to the next working day, which then counts as day 0 only if the start
        was a working day. Implemented as: roll ``start`` back to the last working day on
        or before it, then offset by ``days``.
        """
        starts = np.asarray(starts, dtype="datetime64[D]")
        out = np.full(starts.shape, np.datetime64("NaT"), dtype="datetime64[D]")
        ok = ~np.isnat(starts)
        if ok.any():
            self._check_span(starts[ok])
            base = np.busday_offset(starts[ok], 0, roll="backward", busdaycal=self._cal)
            n = days[ok] if isinstance(days, np.ndarray) else days
            out[ok] = np.busday_offset(base, n, roll="backward", busdaycal=self._cal)
            out[ok & (np.asarray(days) == 0)] = starts[ok & (np.asarray(days) == 0)]
        return out

    def between_many(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Working days in (start, end] per pair; 0 where end <= start or either is NaT."""
        starts = np.asarray(starts, dtype="datetime64[D]")
        ends = np.asarray(ends, dtype="datetime64[D]")
        out = np.zeros(np.broadcast(starts, ends).shape, dtype=np.int64)
        ok = ~np.isnat(starts) & ~np.isnat(ends) & (ends > starts)
        if ok.any():
            s, e = np.broadcast_to(starts, out.shape)[ok], np.broadcast_to(ends, out.shape)[ok]
            self._check_span(np.concatenate([s, e]))
            out[ok] = np.busday_count(s + 1, e + 1, busdaycal=self._cal)
        return out

    @staticmethod
    def _check_span(dates: np.ndarray) -> None:
        lo, hi = np.datetime64(f"{FIRST_YEAR}-01-01"), np.datetime64(f"{LAST_YEAR}-12-01")
        if (dates < lo).any() or (dates > hi).any():
            raise ValueError(f"工作日计算只支持 {FIRST_YEAR}–{LAST_YEAR} 年的日期")

    # ------------------------------------------------------------------ coverage
    def unknown_years(self, *dates: dt.date | np.ndarray | None) -> list[int]:
        """Years touched by the span of ``dates`` whose holiday arrangement is not loaded."""
        if self.known_years is None:
            return []
        years: set[int] = set()
        for d in dates:
            if d is None:
                continue
            arr = np.asarray(d, dtype="datetime64[D]").ravel()
            arr = arr[~np.isnat(arr)]
            if len(arr):
                lo = int(arr.min().astype("datetime64[Y]").astype(int)) + 1970
                hi = int(arr.max().astype("datetime64[Y]").astype(int)) + 1970
                years.update(range(lo, hi + 1))
        return sorted(y for y in years if y not in self.known_years)

    def warning(self, *dates: dt.date | np.ndarray | None) -> str | None:
        """Chinese text to show next to deadlines spanning ``dates`` when a year is unknown.

        Logged (once per year and calendar) as well as returned, so a deadline computed
        without the State Council's arrangement is never a silent weekday count.
        """
        missing = self.unknown_years(*dates)
        if not missing:
            return None
        new = [y for y in missing if y not in self._warned]
        if new:
            self._warned.update(new)
            log.warning("holiday arrangement missing for %s: working days counted Monday-Friday only; "
                        "add data/reference/holidays/<year>.csv", ", ".join(map(str, new)))
        years = "、".join(f"{y}年" for y in missing)
        return (f"{years}节假日安排未载入，期限按周一至周五计算，可能不准确：请在国务院公布安排后"
                f"添加 data/reference/holidays/{missing[0]}.csv（date,kind,name）")


# ---------------------------------------------------------------------------- loading
def read_arrangement_file(path: Path) -> tuple[int, dict[dt.date, str], dict[dt.date, str]]:
    """One year's arrangement from ``<year>.csv``: (year, holidays, workdays), each date → name.

    Raises
    ------
    CalendarFileError
        A line with a bad date, a date outside the file's year, or an unknown kind.
    """
    try:
        year = int(path.stem)
    except ValueError:
        raise CalendarFileError(f"{path.name}: 文件名应为年份，如 2027.csv") from None
    holidays: dict[dt.date, str] = {}
    workdays: dict[dt.date, str] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"date", "kind"} <= set(reader.fieldnames):
            raise CalendarFileError(f"{path.name}: 表头应为 date,kind,name")
        for line, row in enumerate(reader, start=2):
            try:
                day = dt.date.fromisoformat((row.get("date") or "").strip())
            except ValueError:
                raise CalendarFileError(f"{path.name} 第 {line} 行: 日期格式应为 YYYY-MM-DD") from None
            if day.year != year:
                raise CalendarFileError(f"{path.name} 第 {line} 行: {day} 不在 {year} 年")
            kind = (row.get("kind") or "").strip()
            if kind not in KINDS:
                raise CalendarFileError(f"{path.name} 第 {line} 行: kind 应为 holiday 或 workday")
            (holidays if kind == "holiday" else workdays)[day] = (row.get("name") or "").strip()
    return year, holidays, workdays


def _library_arrangement() -> tuple[dict[dt.date, str], dict[dt.date, str]]:
    import chinese_calendar

    chinese = {h.value: h.chinese for h in chinese_calendar.Holiday}

    def label(value: object) -> str:
        return chinese.get(str(value), str(value))

    return ({d: label(v) for d, v in chinese_calendar.holidays.items()},
            {d: label(v) for d, v in chinese_calendar.workdays.items()})


@functools.lru_cache(maxsize=8)
def _official(directory: str | None, extra_holidays: tuple[str, ...], extra_workdays: tuple[str, ...],
              stamp: tuple[tuple[str, float], ...]) -> WorkCalendar:
    holidays, workdays = _library_arrangement()
    years = {d.year for d in holidays} | {d.year for d in workdays}
    if directory:
        for path in sorted(Path(directory).glob("*.csv")):
            year, h, w = read_arrangement_file(path)
            holidays = {d: n for d, n in holidays.items() if d.year != year} | h
            workdays = {d: n for d, n in workdays.items() if d.year != year} | w
            years.add(year)
    names = {**holidays, **{d: f"{n}调休上班" if n else "调休上班" for d, n in workdays.items()}}
    return WorkCalendar([*holidays, *extra_holidays], [*workdays, *extra_workdays], known_years=years,
                        names=names)


def official_calendar(directory: str | Path | None = None, *, extra_holidays: Iterable[str] = (),
                      extra_workdays: Iterable[str] = ()) -> WorkCalendar:
    """The State Council's arrangement (``chinese-calendar``) plus the bureau's year files.

    ``directory`` holds ``<year>.csv`` files; ``extra_holidays`` are local days off (ISO dates).
    Cached per directory content, so a new file takes effect without a restart.
    """
    stamp: tuple[tuple[str, float], ...] = ()
    if directory is not None and Path(directory).is_dir():
        stamp = tuple((p.name, p.stat().st_mtime) for p in sorted(Path(directory).glob("*.csv")))
    else:
        directory = None
    return _official(None if directory is None else str(directory), tuple(map(str, extra_holidays)),
                     tuple(map(str, extra_workdays)), stamp)


def calendar_from_config(config: Mapping[str, object]) -> WorkCalendar:
    """The deployment's calendar: official arrangement, ``HOLIDAYS_DIR`` files, local ``HOLIDAYS``."""
    directory = config.get("HOLIDAYS_DIR") or (Path(str(config["DATA_DIR"])) / "reference" / "holidays"
                                                if config.get("DATA_DIR") else None)
    return official_calendar(directory,  # type: ignore[arg-type]
                             extra_holidays=config.get("HOLIDAYS", ()) or (),  # type: ignore[arg-type]
                             extra_workdays=config.get("EXTRA_WORKDAYS", ()) or ())  # type: ignore[arg-type]
