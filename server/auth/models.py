"""Users, roles and API tokens."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from server.db import Base, bool_true, created_t, intpk

if TYPE_CHECKING:
    from server.tasks.models import Inspector

#: Roles, in the glossary's names; "public" is the anonymous visitor and has no row.
ROLES: dict[str, str] = {
    "inspector": "执法人员",
    "supervisor": "科室负责人",
    "analyst": "分析人员",
    "admin": "系统管理员",
}


class User(Base):
    __tablename__ = "users"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(256))
    roles: Mapped[str] = mapped_column(String(200))  # comma-separated ROLES keys
    department_code: Mapped[str | None] = mapped_column(String(32))
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("inspectors.id"))
    active: Mapped[bool_true]
    #: carried by console sessions; rotated on a password change, disabling, or "log out
    #: everywhere", which ends every session signed before
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[created_t]

    inspector: Mapped[Inspector | None] = relationship()

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_set & set(roles))

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[intpk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[created_t]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    __tablename__ = "login_attempts"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(64), index=True)
    remote_addr: Mapped[str | None] = mapped_column(String(64), index=True)
    at: Mapped[created_t]
    success: Mapped[bool]


class RateCounter(Base):
    """Requests of one key (``public:<address>``) in one fixed window (server/auth/throttle.py)."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch seconds
    count: Mapped[int] = mapped_column(Integer)
