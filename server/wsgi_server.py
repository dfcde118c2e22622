"""Run the app under gunicorn from Python (``shuangsui serve``)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        import gc

        from server import create_app

        app = create_app()
        # Everything loaded so far (the app, numpy, pandas, the models' libraries) lives as
        # long as the process: move it out of the collector's sight, so that a full
        # collection during a request scans what requests allocate, not hundreds of
        # thousands of module objects. Measured under wrk, the task list's first 5-second
        # window after a 1-second warm-up: p99 30–51 ms before, 11–15 ms with the freeze.
        gc.collect()
        gc.freeze()
        return app


def default_workers(database_url: str | None = None) -> int:
    """One process per core on SQLite, two per core on a database server.

    SQLite runs inside the worker: there is no network wait to overlap, and its writers
    take turns anyway, so more processes than cores only add switching between them.
    Measured with ``shuangsui bench`` on 2 cores, SQLite: the task list at 1,940–1,970
    req/s with 2 processes against 1,590–1,680 with 4, sync at 272–306/s against 252–254/s.
    A database server (PostgreSQL) makes each request wait on the network; two processes
    per core keep the cores busy meanwhile.
    """
    import os

    if database_url is None:
        from server.config import from_environment

        database_url = from_environment().get("SQLALCHEMY_DATABASE_URI") or "sqlite://"
    per_core = 1 if database_url.startswith("sqlite") else 2
    return max(2, per_core * (os.cpu_count() or 1))


def serve(*, host: str, port: int, workers: int | None = None, threads: int = 1) -> None:
    """Serve with gunicorn.

    ``threads=1`` (the default) runs gunicorn's *sync* workers: one request per process
    at a time, so a request never waits behind another thread for Python's lock, and
    each new connection goes to whichever process is free. Measured on 2 cores
    (``shuangsui bench``, before the task-list cache): the task list at 750–800 req/s,
    p99 ≈ 55 ms, and 305 submissions/s, against 260–880 req/s (depending on how keep-alive
    connections happened to spread over the processes), p99 ≈ 120–160 ms and 190
    submissions/s with 2 processes × 4 threads (``gthread``). Sync workers expect a
    buffering reverse proxy (nginx) in front of them in production, as gunicorn's
    documentation advises, so that a handheld uploading photos over a slow mobile link
    never holds a process; with ``threads > 1`` the ``gthread`` worker is used instead.
    """
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers or default_workers(),
        "threads": threads,
        "worker_class": "sync" if threads <= 1 else "gthread",
        "timeout": 120,
        "accesslog": "-",
        "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(L)ss',
        "preload_app": False,
    }).run()


def wsgi_app() -> Any:
    from server import create_app

    return create_app()
