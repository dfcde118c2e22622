"""``shuangsui score``: credit and the 15 warning models over the province, optionally on Dask."""

from __future__ import annotations

import datetime as dt
import json
import time
from contextlib import ExitStack
from typing import Any

import click
from flask.cli import with_appcontext


def dask_client(address: str, stack: ExitStack, *, workers: int | None = None) -> Any:
    """Connect to the scheduler at ``address``, or start a LocalCluster for ``"local"``."""
    from distributed import Client, LocalCluster

    if address == "local":
        cluster = stack.enter_context(
            LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None)
        )
        return stack.enter_context(Client(cluster))
    return stack.enter_context(Client(address))


@click.command("score")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Features observed before this date (default: today).",
)
@click.option(
    "--dask",
    "dask_address",
    default=None,
    metavar="SCHEDULER|local",
    help="Score the city partitions on a Dask cluster: a scheduler address "
    "(tcp://host:8786) or 'local' for a LocalCluster on this machine.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Workers of the LocalCluster (--dask local; default: one per core).",
)
@click.option(
    "--snapshot/--no-snapshot",
    default=True,
    show_default=True,
    help="Keep the feature snapshot (training joins outcomes to it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@with_appcontext
def score(
    as_of: dt.datetime | None,
    dask_address: str | None,
    workers: int | None,
    snapshot: bool,
    as_json: bool,
) -> None:
    """Score every entity (credit grade + warning models) city by city and store the scores."""
    from flask import current_app

    from server.extensions import db
    from server.risk.distributed import score_and_store
    from server.risk.features import build_features, save_snapshot

    day = as_of.date() if as_of else dt.date.today()
    started = time.perf_counter()
    with ExitStack() as stack:
        client = dask_client(dask_address, stack, workers=workers) if dask_address else None
        frame = build_features(db.session, day)
        if snapshot:
            save_snapshot(db.session, frame, current_app.config["MODEL_DIR"])
        scores, grades = score_and_store(db.session, day, client=client, actor="cli", frame=frame)
    out = {
        "as_of": day.isoformat(),
        "entities": len(frame.entity_ids),
        "partitions": len(scores.partitions),
        "models": sorted(scores.run.per_model),
        "grades": grades,
        "warned": {name: int((ms.levels > 0).sum()) for name, ms in scores.run.per_model.items()},
        "engine": "dask" if dask_address else "single-process",
        "seconds": round(time.perf_counter() - started, 2),
    }
    if not scores.run.per_model:
        click.echo(
            "no trained warning model: only credit grades were stored "
            "(train them first: the simulation and the demo do)",
            err=True,
        )
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        click.echo(
            f"scored {out['entities']} entities in {out['partitions']} city partitions "
            f"({out['engine']}, {out['seconds']} s); grades {grades}; "
            f"{len(out['models'])} models"
        )
