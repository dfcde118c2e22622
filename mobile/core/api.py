"""HTTP client for the server's ``/api/v1`` (bearer token, timeouts, clear errors).

Every failure becomes an :class:`ApiError` whose ``message`` can be shown to the
inspector as is: :class:`Unreachable` when no HTTP answer came back (no signal,
server down, timeout, connection cut mid-request), otherwise the server's
``{"error", "message", "items"?}`` with the HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

__all__ = ["ApiClient", "ApiError", "Reply", "Unauthorized", "Unreachable"]

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
UPLOAD_TIMEOUT = (5.0, 120.0)


class ApiError(Exception):
    """An error answer from the server, or no answer at all (``status`` None)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        items: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.items = items or {}

    @property
    def permanent(self) -> bool:
        """Retrying the same request cannot succeed (a 4xx other than 401/408/429)."""
        return (
            self.status is not None
            and 400 <= self.status < 500
            and self.status not in (401, 408, 429)
        )


class Unreachable(ApiError):
    """No HTTP answer: offline, DNS failure, refused, timed out or cut mid-request."""


class Unauthorized(ApiError):
    """401: the token is missing, expired or revoked; the inspector must log in again."""


@dataclass
class Reply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    etag: str | None = None


class ApiClient:
    """A thin client; ``session`` may be any object with ``requests.Session.request``'s shape.

    Tests pass a fake session to simulate a server that dies after committing.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: Any = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = session if session is not None else requests.Session()

    # -- plumbing ---------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        timeout: tuple[float, float] | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Reply:
        url = f"{self.base_url}/api/v1{path}"
        headers = {"Accept": "application/json", **(headers or {})}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self.session.request(
                method, url, headers=headers, timeout=timeout or self.timeout, **kwargs
            )
        except requests.Timeout:
            raise Unreachable("服务器响应超时，请稍后重试 (request timed out)") from None
        except requests.RequestException as exc:
            raise Unreachable(
                f"无法连接服务器，请检查网络 (server unreachable: {type(exc).__name__})"
            ) from None
        try:
            body = response.json() if response.content else {}
        except ValueError:
            if 200 <= response.status_code < 300 and response.status_code != 204:
                # a success whose body was cut on the way: we do not know what the server
                # stored, so treat it as no answer and let the idempotent retry find out
                raise Unreachable("服务器响应不完整，稍后重试 (truncated answer)") from None
            body = {}
        if not response.content and 200 <= response.status_code < 300 and response.status_code != 204:
            raise Unreachable("服务器响应不完整，稍后重试 (empty answer)")
        if not isinstance(body, dict):
            body = {"items": body}
        if response.status_code >= 400:
            message = str(body.get("message") or f"服务器错误 HTTP {response.status_code}")
            cls = Unauthorized if response.status_code == 401 else ApiError
            raise cls(
                message,
                status=response.status_code,
                code=body.get("error"),
                items=body.get("items") if isinstance(body.get("items"), dict) else None,
            )
        return Reply(response.status_code, body, response.headers.get("ETag"))

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean or None).body

    # -- endpoints --------------------------------------------------------------------
    def login(self, username: str, password: str) -> dict[str, Any]:
        """``POST /auth/token``; keeps the token for later calls and returns the body."""
        body = self.request(
            "POST", "/auth/token", json={"username": username, "password": password}
        ).body
        self.token = body["token"]
        return body

    def logout(self) -> None:
        if self.token:
            self.request("DELETE", "/auth/token")
        self.token = None

    def me(self) -> dict[str, Any]:
        return self.get("/me")

    def task_list(self, etag: str | None = None) -> tuple[list[dict[str, Any]] | None, str | None]:
        """Fetch the inspector's whole task list and its ``ETag``.

        With the ``etag`` of the list the device holds, an unchanged list comes back as
        ``304 Not Modified`` (nothing downloaded): then ``(None, etag)``.
        """
        reply = self.request("GET", "/tasks", headers={"If-None-Match": etag} if etag else None)
        if reply.status == 304:
            return None, reply.etag or etag
        return list(reply.body.get("items") or []), reply.etag

    def task(self, task_id: int) -> dict[str, Any]:
        return self.get(f"/tasks/{task_id}")

    def entity(self, uscc: str) -> dict[str, Any]:
        return self.get(f"/entities/{uscc}")

    def form(self, code: str) -> dict[str, Any]:
        return self.get(f"/forms/{code}")

    def laws(self) -> list[dict[str, Any]]:
        return list(self.get("/laws").get("items") or [])

    def law(self, law_id: str) -> dict[str, Any]:
        return self.get(f"/laws/{law_id}")

    def article(self, law_id: str, number: int) -> dict[str, Any]:
        return self.get(f"/laws/{law_id}/articles/{number}")

    def submit(self, body: dict[str, Any]) -> Reply:
        """``POST /submissions``: 201 stored now, 200 stored before (identical body)."""
        return self.request("POST", "/submissions", json=body)

    def upload_attachment(
        self, submission_id: int, path: str | Path, checksum: str, filename: str | None = None
    ) -> Reply:
        """``POST /submissions/<id>/attachments`` (multipart ``file`` + ``checksum``)."""
        path = Path(path)
        with path.open("rb") as fh:
            return self.request(
                "POST",
                f"/submissions/{submission_id}/attachments",
                timeout=UPLOAD_TIMEOUT,
                files={"file": (filename or path.name, fh, "application/octet-stream")},
                data={"checksum": checksum},
            )
