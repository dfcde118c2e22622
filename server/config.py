"""Configuration. Read the environment inside the factory, never at import time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


#: how an operator makes a key (printed when the server refuses to start without one)
MAKE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
#: a key shorter than this many characters, or with fewer distinct ones, is refused in
#: production: 43 URL-safe base64 characters carry 32 bytes of randomness
MIN_KEY_CHARS = 43
MIN_KEY_DISTINCT = 16
#: keys published in this project's history: never accepted, whatever the mode
KNOWN_KEYS = frozenset({"dev-only-change-me", "test", "secret", "changeme", "change-me"})
#: the file in the instance folder holding the key of a development or demo instance
KEY_FILE = "secret_key"


class ConfigError(RuntimeError):
    """The settings cannot serve safely; the message says what to do."""


class Config:
    SECRET_KEY: str | None = None  # SHUANGSUI_SECRET_KEY; outside production: <instance>/secret_key
    ENV_NAME = "development"  # SHUANGSUI_ENV; `shuangsui serve` sets "production" unless --demo
    AUDIT_KEY: str | None = None  # SHUANGSUI_AUDIT_KEY; default: <instance>/audit_mac.key
    TRUSTED_PROXIES = 0  # SHUANGSUI_PROXIES: reverse proxies (nginx) whose X-Forwarded-For is believed
    AUDIT_CHECKPOINT_SECONDS = 300  # a signed checkpoint at most this often, after audited commits
    SQLALCHEMY_DATABASE_URI = ""  # filled from INSTANCE_PATH when empty
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}
    DATA_DIR = str(ROOT / "data")
    ATTACHMENT_DIR = ""  # default: <instance>/attachments
    MODEL_DIR = ""  # default: <instance>/models
    POOL_DIR = ""  # default: <instance>/pools (draw pool snapshots, published for replay)
    MAX_CONTENT_LENGTH = 20 * 1024 * 1024  # whole request
    MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
    # parsing bounds (server/limits.py holds the JSON and CSV ones; these are Flask's own)
    MAX_FORM_PARTS = 100  # fields and files of one multipart form
    MAX_FORM_MEMORY_SIZE = 1024 * 1024  # the non-file fields of a form, together
    TOKEN_TTL_HOURS = 12
    # login throttling and public rate limits: see server/auth/throttle.py (DEFAULTS)
    SLA_WORKING_DAYS = {"red": 3, "orange": 7, "yellow": 15}
    PUBLISH_WITHIN_WORKING_DAYS = 20
    HOLIDAYS: list[str] = []  # ISO dates on top of weekends
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False  # set SHUANGSUI_SECURE_COOKIES=1 behind TLS
    WTF_CSRF_TIME_LIMIT = None
    # flask-smorest / OpenAPI
    API_TITLE = "Shuangsui 双随 API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    API_SPEC_OPTIONS = {
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}
        },
        "security": [{"bearerAuth": []}],
    }
    JSON_SORT_KEYS = False


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test"
    WTF_CSRF_ENABLED = False
    SQLALCHEMY_DATABASE_URI = "sqlite://"


_ENV = {
    "SHUANGSUI_SECRET_KEY": "SECRET_KEY",
    "SHUANGSUI_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "SHUANGSUI_DATA_DIR": "DATA_DIR",
    "SHUANGSUI_ATTACHMENT_DIR": "ATTACHMENT_DIR",
    "SHUANGSUI_MODEL_DIR": "MODEL_DIR",
    "SHUANGSUI_ENV": "ENV_NAME",
    "SHUANGSUI_AUDIT_KEY": "AUDIT_KEY",
}


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the settings the environment overrides."""
    environ = os.environ if environ is None else environ
    out: dict[str, Any] = {key: environ[var] for var, key in _ENV.items() if environ.get(var)}
    for var, key in (("SHUANGSUI_PUBLIC_RATE_LIMIT", "PUBLIC_RATE_LIMIT"),
                     ("SHUANGSUI_AUDIT_CHECKPOINT_SECONDS", "AUDIT_CHECKPOINT_SECONDS")):
        if environ.get(var, "").lstrip("-").isdigit():
            out[key] = int(environ[var])
    if environ.get("SHUANGSUI_PROXIES", "").isdigit():
        out["TRUSTED_PROXIES"] = int(environ["SHUANGSUI_PROXIES"])
    if environ.get("SHUANGSUI_SECURE_COOKIES") == "1":
        out["SESSION_COOKIE_SECURE"] = True
    return out


def key_problem(key: str | None) -> str | None:
    """Why ``key`` is not good enough to sign production sessions, or ``None``."""
    if not key:
        return "未设置 SHUANGSUI_SECRET_KEY (no SHUANGSUI_SECRET_KEY set)"
    if key in KNOWN_KEYS:
        return "SHUANGSUI_SECRET_KEY 是公开的默认值 (the key is a published default)"
    if len(key) < MIN_KEY_CHARS or len(set(key)) < MIN_KEY_DISTINCT:
        return (f"SHUANGSUI_SECRET_KEY 太短或太简单（至少 {MIN_KEY_CHARS} 个字符、{MIN_KEY_DISTINCT} 个不同字符，"
                f"约 32 字节随机量）(key too short or too simple)")
    return None


def secret_key_message(problem: str) -> str:
    return (f"拒绝以生产模式启动：{problem}。\n"
            f"生成一个密钥 (make one):  {MAKE_KEY}\n"
            f"然后设置 (then set)        export SHUANGSUI_SECRET_KEY=<生成的密钥>\n"
            f"演示或开发环境可用 `shuangsui serve --demo`（密钥自动保存在实例目录）。")


def resolve_secret_key(config: dict[str, Any] | Any, instance_path: str) -> str:
    """The key sessions and CSRF tokens are signed with.

    Production (``ENV_NAME == "production"``) takes it from the environment only and
    refuses a missing, published or short one (:class:`ConfigError`). Elsewhere a key
    given is used as is, and without one the instance keeps its own: made once with
    :func:`secrets.token_urlsafe` and stored in ``<instance>/secret_key`` (mode 0600), so
    every process of the instance signs alike and no two instances share a key.
    """
    key = config.get("SECRET_KEY")
    if config.get("ENV_NAME") == "production":
        problem = key_problem(key)
        if problem:
            raise ConfigError(secret_key_message(problem))
        return str(key)
    if key and key not in KNOWN_KEYS - {"test"}:
        return str(key)
    return instance_secret(Path(instance_path) / KEY_FILE)


def instance_secret(path: Path, *, nbytes: int = 48) -> str:
    """Read the secret kept in ``path``, creating it (mode 0600, atomically) if missing."""
    import secrets

    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of the instance made it first
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value + "\n")
    return value
