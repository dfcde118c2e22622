"""Authentication: passwords, bearer tokens, throttling, user administration."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from server.audit.services import record
from server.auth.models import ROLES, ApiToken, LoginAttempt, User
from server.auth.throttle import Throttled, check_login
from server.db import utcnow
from server.errors import Conflict, DomainError, Invalid

__all__ = ["AuthError", "Throttled", "authenticate", "change_password", "create_user", "issue_token",
           "logout_everywhere", "revoke_token", "set_active", "user_for_token"]


class AuthError(DomainError):
    status, code = 401, "unauthorized"


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    remote_addr: str | None = None,
    now: dt.datetime | None = None,
) -> User:
    """Check a password, after the throttle (:func:`server.auth.throttle.check_login`):
    growing delays per address and, for addresses that failed, per account.
    """
    check_login(session, username, remote_addr, now=now)
    user = session.scalar(select(User).where(User.username == username))
    ok = user is not None and user.active and user.check_password(password)
    session.add(LoginAttempt(username=username[:64], remote_addr=remote_addr, success=ok))
    if not ok:
        session.commit()
        raise AuthError("用户名或密码错误 (invalid username or password)")
    assert user is not None
    record(session, user.username, "login", "user", user.id)
    session.commit()
    return user


def issue_token(session: Session, user: User, *, ttl_hours: float = 12) -> tuple[str, dt.datetime]:
    token = secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(hours=ttl_hours)
    session.add(ApiToken(token_hash=_hash_token(token), user_id=user.id, expires_at=expires))
    record(session, user.username, "token.issue", "user", user.id, expires_at=expires.isoformat())
    session.commit()
    return token, expires


_USER_COLUMNS = tuple(User.__table__.c)
_USER_FOR_TOKEN = (select(*_USER_COLUMNS, ApiToken.revoked_at.label("token_revoked_at"),
                          ApiToken.expires_at.label("token_expires_at"))
                   .join_from(ApiToken, User, ApiToken.user_id == User.id)
                   .where(ApiToken.token_hash == bindparam("token_hash")))


def user_for_token(session: Session, token: str) -> User | None:
    """The active user holding this unexpired, unrevoked token.

    Every API call runs this, so it is one Core query and the user is built from its row
    as a *detached* instance (not loaded through the ORM): request code only reads a
    user's attributes, and a detached instance added to a session is treated as the
    existing row, never inserted again.
    """
    row = session.connection().execute(_USER_FOR_TOKEN, {"token_hash": _hash_token(token)}).first()
    if row is None or row.token_revoked_at is not None or _aware(row.token_expires_at) <= utcnow():
        return None
    if not row.active:
        return None
    user = User(**{c.key: row._mapping[c] for c in _USER_COLUMNS})
    make_transient_to_detached(user)
    return user


def revoke_token(session: Session, token: str, *, actor: str) -> bool:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    record(session, actor, "token.revoke", "user", row.user_id)
    session.commit()
    return True


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    roles: list[str] | tuple[str, ...],
    display_name: str | None = None,
    department_code: str | None = None,
    inspector_id: int | None = None,
    actor: str = "system",
) -> User:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise Invalid(f"未知角色 (unknown role): {', '.join(unknown)}; 可用: {', '.join(ROLES)}")
    if not roles:
        raise Invalid("至少需要一个角色 (at least one role)")
    if len(password) < 8:
        raise Invalid("密码至少 8 位 (password must have at least 8 characters)")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"用户名已存在 (username taken): {username}")
    user = User(
        username=username,
        display_name=display_name or username,
        roles=",".join(roles),
        department_code=department_code,
        inspector_id=inspector_id,
    )
    user.set_password(password)
    session.add(user)
    session.flush()
    record(session, actor, "user.create", "user", user.id, username=username, roles=list(roles))
    session.commit()
    return user


def _end_sessions(session: Session, user: User) -> int:
    """Rotate the session version (every console session signed before is refused) and
    revoke every live token; return the number of tokens revoked.
    """
    user.session_version = (user.session_version or 0) + 1
    result = session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                             .values(revoked_at=utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def change_password(session: Session, user: User, password: str, *, actor: str) -> None:
    """Set a new password and end the user's sessions and tokens everywhere."""
    if len(password) < 8:
        raise Invalid("密码至少 8 位 (password must have at least 8 characters)")
    user.set_password(password)
    revoked = _end_sessions(session, user)
    record(session, actor, "user.password", "user", user.id, tokens_revoked=revoked)
    session.commit()


def set_active(session: Session, user: User, active: bool, *, actor: str) -> None:
    """Enable or disable a user; disabling ends their sessions and tokens."""
    user.active = active
    revoked = _end_sessions(session, user) if not active else 0
    record(session, actor, "user.enable" if active else "user.disable", "user", user.id, tokens_revoked=revoked)
    session.commit()


def logout_everywhere(session: Session, user: User, *, actor: str) -> int:
    """End every console session and revoke every token of ``user`` (a lost handheld)."""
    revoked = _end_sessions(session, user)
    record(session, actor, "user.logout_everywhere", "user", user.id, tokens_revoked=revoked)
    session.commit()
    return revoked


def user_by_name(session: Session, username: str) -> User:
    from server.errors import NotFound

    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户不存在 (no user {username})")
    return user
