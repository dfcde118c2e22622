"""Login throttling with growing delays, and per-address limits on public endpoints.

Login (``check_login``), from the failed attempts recorded in ``login_attempts`` (in the
database, so every gunicorn process sees the same counts):

* **per address**: after ``LOGIN_ADDRESS_MAX_FAILURES`` failures from one address within
  ``LOGIN_WINDOW_SECONDS`` (whatever the usernames), each further attempt from it waits
  ``LOGIN_BASE_DELAY × 2^(n − free)`` seconds after its last failure, up to
  ``LOGIN_MAX_DELAY``: trying many usernames from one address is slowed down;
* **per account**: after ``LOGIN_MAX_FAILURES`` failures on one username (since its last
  successful login, within the window), the same growing delay — but only for addresses
  that have themselves failed within the window. A client with no failure (the real
  user at their own handheld or desk) is never held back by a stranger's guesses, so no
  one can lock anyone else out.

Throttled requests are answered 429 with ``Retry-After``; nothing is locked, delays
expire on their own, and an administrator can list and clear them (``shuangsui throttle``
and ``/api/v1/admin/throttles``).

Public endpoints (``/api/v1/public/…`` and the public pages ``/public/…``) are limited per
address to ``PUBLIC_RATE_LIMIT`` requests per ``PUBLIC_RATE_WINDOW`` seconds (a fixed
window counter in ``rate_counters``, also in the database).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from server.auth.models import LoginAttempt, RateCounter
from server.db import utcnow
from server.errors import DomainError

DEFAULTS: dict[str, Any] = {
    "LOGIN_MAX_FAILURES": 5,  # per account (from a failing address) before delays start
    "LOGIN_ADDRESS_MAX_FAILURES": 10,  # per address (any usernames) before delays start
    "LOGIN_WINDOW_SECONDS": 3600,  # failures older than this are forgotten
    "LOGIN_BASE_DELAY": 30,  # seconds: the first delay, doubled at each further failure
    "LOGIN_MAX_DELAY": 900,
    "PUBLIC_RATE_LIMIT": 300,  # requests per address per window on the public endpoints
    "PUBLIC_RATE_WINDOW": 60,
}

PUBLIC_PREFIXES = ("/api/v1/public/", "/public")


class Throttled(DomainError):
    status, code = 429, "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, **extra: Any) -> None:
        super().__init__(message, retry_after=retry_after, **extra)
        self.headers = {"Retry-After": str(max(1, retry_after))}


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def delay_for(failures: int, free: int, *, base: float, cap: float) -> float:
    """Seconds to wait after the last failure: 0 up to ``free`` failures, then doubling."""
    if failures < free:
        return 0.0
    return float(min(cap, base * 2 ** min(failures - free, 32)))


@dataclass
class _Count:
    failures: int
    last: dt.datetime | None


def _failures(session: Session, *conditions: Any) -> _Count:
    row = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(LoginAttempt.success.is_(False), *conditions)
    ).one()
    return _Count(int(row[0] or 0), _aware(row[1]) if row[1] else None)


def _settings() -> dict[str, Any]:
    try:
        cfg = current_app.config
    except RuntimeError:  # outside an app (library use): the defaults
        return dict(DEFAULTS)
    return {k: cfg.get(k, v) for k, v in DEFAULTS.items()}


def check_login(session: Session, username: str, remote_addr: str | None, *, now: dt.datetime | None = None) -> None:
    """Refuse (429, :class:`Throttled`) an attempt that must wait; otherwise return."""
    cfg = _settings()
    now = now or utcnow()
    since = now - dt.timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"])
    waits: list[float] = []
    by_address = _failures(session, LoginAttempt.remote_addr == remote_addr, LoginAttempt.at >= since)
    if by_address.failures and by_address.last is not None:
        wait = delay_for(by_address.failures, cfg["LOGIN_ADDRESS_MAX_FAILURES"],
                         base=cfg["LOGIN_BASE_DELAY"], cap=cfg["LOGIN_MAX_DELAY"])
        waits.append((by_address.last + dt.timedelta(seconds=wait) - now).total_seconds())
        # the account's delay holds only for clients that have failed themselves
        last_success = session.scalar(select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.success.is_(True)))
        account_since = max(since, _aware(last_success)) if last_success else since
        by_account = _failures(session, LoginAttempt.username == username, LoginAttempt.at > account_since)
        if by_account.last is not None:
            wait = delay_for(by_account.failures, cfg["LOGIN_MAX_FAILURES"],
                             base=cfg["LOGIN_BASE_DELAY"], cap=cfg["LOGIN_MAX_DELAY"])
            waits.append((by_account.last + dt.timedelta(seconds=wait) - now).total_seconds())
    remaining = max(waits, default=0.0)
    if remaining > 0:
        seconds = math.ceil(remaining)
        raise Throttled(
            f"登录失败次数过多，请 {_human(seconds)}后再试 (too many failed logins; retry after {seconds} s)",
            retry_after=seconds,
        )


def _human(seconds: int) -> str:
    return f"{seconds} 秒" if seconds < 120 else f"{math.ceil(seconds / 60)} 分钟"


# --------------------------------------------------------------------- administration
def list_throttles(session: Session, *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Addresses and usernames with failures in the window, with the delay now due."""
    cfg = _settings()
    now = now or utcnow()
    since = now - dt.timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"])
    out: list[dict[str, Any]] = []
    for kind, column, free in (("address", LoginAttempt.remote_addr, cfg["LOGIN_ADDRESS_MAX_FAILURES"]),
                               ("account", LoginAttempt.username, cfg["LOGIN_MAX_FAILURES"])):
        rows = session.execute(
            select(column, func.count(), func.max(LoginAttempt.at))
            .where(LoginAttempt.success.is_(False), LoginAttempt.at >= since)
            .group_by(column).order_by(func.count().desc())
        ).all()
        for key, failures, last in rows:
            wait = delay_for(failures, free, base=cfg["LOGIN_BASE_DELAY"], cap=cfg["LOGIN_MAX_DELAY"])
            until = _aware(last) + dt.timedelta(seconds=wait)
            out.append({
                "kind": kind, "key": key, "failures": int(failures), "last_failure_at": _aware(last),
                "delay_seconds": int(wait), "throttled_until": until if until > now else None,
            })
    return out


def clear_throttles(session: Session, *, actor: str, username: str | None = None,
                    address: str | None = None) -> int:
    """Forget failed logins of ``username`` and/or from ``address`` (both ``None``: all)."""
    from server.audit.services import record

    conditions: list[Any] = [LoginAttempt.success.is_(False)]
    if username is not None:
        conditions.append(LoginAttempt.username == username)
    if address is not None:
        conditions.append(LoginAttempt.remote_addr == address)
    result = session.execute(delete(LoginAttempt).where(*conditions))
    cleared = int(result.rowcount or 0)  # type: ignore[attr-defined]
    record(session, actor, "throttle.clear", "login_attempts", None,
           username=username, address=address, cleared=cleared)
    session.commit()
    return cleared


# --------------------------------------------------------------------- public endpoints
def count_request(session: Session, key: str, *, limit: int, window: int, now: float | None = None) -> int:
    """Count one request of ``key`` in the current window; return seconds to wait (0: go on)."""
    now = time.time() if now is None else now
    start = int(now // window) * window
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(RateCounter).values(key=key, window_start=start, count=1)
    stmt = stmt.on_conflict_do_update(index_elements=["key", "window_start"],
                                      set_={"count": RateCounter.count + 1}).returning(RateCounter.count)
    count = int(session.execute(stmt).scalar_one())
    if count == 1:  # the first request of a window sweeps old windows away
        session.execute(delete(RateCounter).where(RateCounter.window_start < start - window))
    session.commit()
    return 0 if count <= limit else int(start + window - now) + 1


def limit_public_requests() -> None:
    """``before_request``: per-address limit on the public endpoints."""
    path = request.path
    if not path.startswith(PUBLIC_PREFIXES) or request.method == "OPTIONS":
        return
    from server.extensions import db

    cfg = _settings()
    key = f"public:{request.remote_addr or '-'}"
    wait = count_request(db.session, key, limit=cfg["PUBLIC_RATE_LIMIT"], window=cfg["PUBLIC_RATE_WINDOW"])
    if wait:
        raise Throttled(f"请求过于频繁，请 {_human(wait)}后再试 (too many requests from this address)",
                        retry_after=wait)


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.before_request(limit_public_requests)
