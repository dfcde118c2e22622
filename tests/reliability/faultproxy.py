"""A fault-injecting HTTP/1.1 proxy for the handheld's sync tests.

The proxy sits between :class:`mobile.core.api.ApiClient` and a live server and, per
request, chooses one fault with the configured probabilities:

``drop``       close the client's connection before anything reaches the server;
``delay``      wait ``delay`` seconds, then forward (the answer still arrives);
``late``       wait ``late_delay`` seconds (longer than the client's read timeout),
               then forward: the client has given up and retries while the original
               request is still on its way, so the server sees it twice, late;
``duplicate``  send the request to the server twice at the same moment and answer
               the client with one of the two responses;
``cut``        forward the request, read the server's complete answer (the server has
               committed) and give the client its status line and headers but only a
               random part of the body, then close;
``cut_head``   the same, but the answer is cut inside its status line or headers.

Anything else passes through unchanged. With ``paths``, only requests whose target
contains one of those fragments meet faults (e.g. only attachment uploads: a connection
cut between a result and its photo); ``rates`` and ``paths`` may be changed while the
proxy runs. Each client connection carries one request
(the upstream request is rewritten to ``Connection: close``), which is all
``requests`` needs. The upstream address can be changed while the proxy runs (a
restarted server on another port). ``counts`` says how often each fault was applied,
``forwarded`` how many requests reached the server, so tests can assert the faults
really happened.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Mapping

__all__ = ["FAULTS", "FaultProxy"]

FAULTS = ("drop", "delay", "late", "duplicate", "cut", "cut_head")
_MAX_HEAD = 64 * 1024


class _Closed(Exception):
    """The client closed its connection before sending a whole request."""


def _read_request(stream: socket.SocketIO | object) -> bytes | None:
    """One request (head and body) from a buffered reader, or None at a clean EOF."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline(_MAX_HEAD)  # type: ignore[attr-defined]
        if not line:
            if head:
                raise _Closed
            return None
        if head == b"" and line in (b"\r\n", b"\n"):
            continue  # stray CRLF between requests
        head += line
        if len(head) > _MAX_HEAD:
            raise _Closed
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() == b"transfer-encoding":
            raise ValueError("chunked requests are not supported by the fault proxy")
    body = stream.read(length) if length else b""  # type: ignore[attr-defined]
    if len(body) != length:
        raise _Closed
    return head + body


def _close_upstream(request: bytes) -> bytes:
    """The request with ``Connection: close``, so the server's answer ends at EOF."""
    head, _, body = request.partition(b"\r\n\r\n")
    lines = [
        ln
        for ln in head.split(b"\r\n")
        if not ln.lower().startswith((b"connection:", b"keep-alive:"))
    ]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


class FaultProxy:
    """A threaded TCP proxy on 127.0.0.1 that injects :data:`FAULTS`."""

    def __init__(
        self,
        upstream: tuple[str, int],
        rates: Mapping[str, float],
        *,
        seed: int = 0,
        delay: float = 0.05,
        late_delay: float = 1.0,
        paths: tuple[str, ...] = (),
    ) -> None:
        unknown = set(rates) - set(FAULTS)
        if unknown or sum(rates.values()) > 1:
            raise ValueError(f"bad fault rates {dict(rates)}")
        self.upstream = upstream
        self.rates = dict(rates)
        self.paths = paths
        self.delay = delay
        self.late_delay = late_delay
        self.counts: Counter[str] = Counter()
        self.forwarded = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, name="faultproxy", daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        for t in self._threads:
            t.join(timeout=self.late_delay + 10)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------
    def _choose(self) -> str:
        with self._lock:
            x = self._rng.random()
            for fault in FAULTS:
                x -= self.rates.get(fault, 0.0)
                if x < 0:
                    self.counts[fault] += 1
                    return fault
            self.counts["pass"] += 1
            return "pass"

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
            t.start()

    def _forward(self, request: bytes) -> bytes:
        with socket.create_connection(self.upstream, timeout=30) as up:
            with self._lock:
                self.forwarded += 1
            up.sendall(request)
            chunks = []
            while chunk := up.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                request = _read_request(conn.makefile("rb"))
            except (_Closed, OSError):
                return
            if request is None:
                return
            request = _close_upstream(request)
            target = request.split(b"\r\n", 1)[0].decode("latin-1")
            fault = (
                self._choose() if not self.paths or any(p in target for p in self.paths) else "pass"
            )
            if fault == "drop":
                return
            try:
                if fault in ("delay", "late"):
                    time.sleep(self.delay if fault == "delay" else self.late_delay)
                if fault == "duplicate":
                    twin = threading.Thread(
                        target=self._forward_quietly, args=(request,), daemon=True
                    )
                    twin.start()
                    response = self._forward(request)
                    twin.join(timeout=30)
                else:
                    response = self._forward(request)
            except OSError:
                return  # the server is down or cut us off: the client sees a closed connection
            if fault in ("cut", "cut_head"):
                head_end = response.find(b"\r\n\r\n") + 4
                low, high = (head_end, len(response)) if fault == "cut" else (1, head_end)
                with self._lock:
                    cut_at = self._rng.randrange(low, high) if high > low else 0
                response = response[:cut_at]
            try:
                conn.sendall(response)
            except OSError:
                pass  # the client gave up (read timeout) before the answer came

    def _forward_quietly(self, request: bytes) -> None:
        try:
            self._forward(request)
        except OSError:
            pass
