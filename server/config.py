"""Configuration. Read the environment inside the factory, never at import time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class Config:
    SECRET_KEY = "dev-only-change-me"
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
    LOGIN_MAX_FAILURES = 5
    LOGIN_WINDOW_SECONDS = 900
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
}


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the settings the environment overrides."""
    environ = os.environ if environ is None else environ
    out: dict[str, Any] = {key: environ[var] for var, key in _ENV.items() if environ.get(var)}
    if environ.get("SHUANGSUI_SECURE_COOKIES") == "1":
        out["SESSION_COOKIE_SECURE"] = True
    return out
