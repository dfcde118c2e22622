"""``shuangsui bench``: each throughput figure next to its own ceiling, measured in one run.

* ``score``: features read from the database + credit + the 15 warning models → stored
  scores (the ``shuangsui score`` path), vs ``score_raw``: the models' and the
  scorecard's scoring calls alone on the same, already built arrays.
* ``draw``: a 1 % stratified draw (by credit grade) of 10,000,000 units (``--quick``
  1,000,000) plus the inspector assignment, vs ``draw_raw``: the bare exponential-key
  kernel (:func:`sampling.draw.exponential_keys` + a partial sort) on the same weights.
* ``api``: the inspector's task list (``GET /api/v1/tasks``) under concurrent load from a
  separate process (``wrk``; a Python load generator when it is missing) against the
  production server (gunicorn, ``shuangsui serve``'s settings) in a subprocess, vs
  ``api_ceiling``: ``/healthz`` on the same server.
* ``sync``: accepted submissions per second through ``POST /api/v1/submissions``, each
  pre-built submission sent once from ``wrk`` connections; then the ones possibly cut off
  in flight and a tenth of the others sent again as the handheld's outbox would, and a
  count in the database of each submission sent: stored exactly once.

Each endpoint gets an unmeasured warm-up before its window (every server process's first
requests import modules and compile statements).

The province is built in a temporary database (SQLite, or ``--db`` for PostgreSQL, whose
tables are dropped). Up to 20,000 entities come from the simulation generator
(:mod:`server.simulation.province`); a larger province is that one replicated city by
city with new USCCs, addresses, phones and representatives, and its records copied in
bulk with ``INSERT … SELECT``: the simulation generator's per-record Python would take
about 10 minutes for 1,000,000 entities, and the figures measure the system, not the
generator. Progress goes to stderr; ``--json`` prints exactly the contract
(``shared/contracts/bench.schema.json``) on stdout.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import numpy as np

START = dt.date(2026, 1, 5)
#: entities simulated by the generator; larger provinces replicate them
BASE_ENTITIES = 20_000
SIZES = {
    False: {"entities": 1_000_000, "draw_units": 10_000_000, "api_seconds": 10, "sync_count": 5000},
    True: {"entities": 100_000, "draw_units": 1_000_000, "api_seconds": 5, "sync_count": 2500},
}
DRAW_SHARE = 0.01
GRADES = "ABCD"


class Progress:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self, message: str) -> None:
        click.echo(f"[bench {time.perf_counter() - self.t0:6.1f}s] {message}", err=True)


# ---------------------------------------------------------------------------- province
def build_bench_province(
    session: Any, entities: int, *, seed: int, data_dir: Path, base: int = BASE_ENTITIES
) -> int:
    """Register ``entities`` (about) with 15 months of records; return the count registered."""
    from server.simulation.province import Province, ProvinceConfig, form_domains
    from server.simulation.run import create_inspectors, declare_conflicts

    copies = max(1, math.ceil(entities / base))
    per_copy = math.ceil(entities / copies)
    province = Province(
        ProvinceConfig(entities=per_copy, seed=seed, start=START), form_domains(data_dir)
    )
    province.populate(session)
    rng = np.random.default_rng([seed, 2])
    create_inspectors(session, per_copy * copies, rng)
    declare_conflicts(session, province, rng)
    province.advance(session, START - dt.timedelta(days=455), START)
    if copies > 1:
        _replicate(session, copies, seed=seed)
    return per_copy * copies


def _feature_tables() -> list[Any]:
    from server.entities.models import Licence
    from server.feeds import models as feeds

    names = (
        "ActivitySignal",
        "AdRecord",
        "AnnualReport",
        "Certificate",
        "Complaint",
        "EntityFlag",
        "Equipment",
        "Instrument",
        "ListEntry",
        "OnlineMetric",
        "Penalty",
        "PrepaidRecord",
        "PriceReport",
        "SamplingTest",
    )
    return [Licence.__table__] + [getattr(feeds, n).__table__ for n in names]


def _replicate(session: Any, copies: int, *, seed: int) -> None:
    """Copy every entity ``copies - 1`` times (new identity, same facts) with all its records."""
    from sqlalchemy import insert, select, text

    from server.entities.models import Entity
    from server.risk.features import bulk_insert, read_frame
    from server.validation import make_usccs

    table = Entity.__table__
    names = [c.name for c in table.columns]
    base = read_frame(session, select(*table.columns).order_by(table.c.id), names)
    base = base.astype(object).where(base.notna(), None)
    m = int(base["id"].max())
    rng = np.random.default_rng([seed, 3])
    serials = rng.choice(31**8 - 1, size=copies * len(base), replace=False)
    region = base["region_code"].to_numpy(dtype=str)
    kinds = np.array([u[:2] for u in base["uscc"]])
    usccs = set(base["uscc"])
    for c in range(1, copies):
        cols = {n: base[n].tolist() for n in names}
        cols["id"] = (base["id"].to_numpy(dtype=np.int64) + c * m).tolist()
        new = make_usccs(region, serials[c * len(base) : (c + 1) * len(base)], kinds)
        cols["uscc"] = new.tolist()
        if usccs.intersection(
            cols["uscc"]
        ):  # pragma: no cover - distinct serials give distinct codes
            raise RuntimeError("replicated USCC collides")
        cols["address"] = [f"{a}{c}幢" if a else a for a in cols["address"]]
        cols["phone"] = [
            # keep the segment / area code, vary the subscriber digits
            f"{p[:-4]}{(int(p[-4:]) + 7919 * c) % 10**4:04d}" if p and p[-4:].isdigit() else p
            for p in cols["phone"]
        ]
        cols["legal_representative"] = [f"{r}{c}" if r else r for r in cols["legal_representative"]]
        bulk_insert(session, table, cols, len(base))
    for t in _feature_tables():
        others = [col for col in t.columns if col.name not in ("id", "entity_id")]
        for c in range(1, copies):
            session.execute(
                insert(t).from_select(
                    ["entity_id"] + [col.name for col in others],
                    select(t.c.entity_id + c * m, *others).where(t.c.entity_id <= m),
                )
            )
    if (
        session.connection().dialect.name == "postgresql"
    ):  # explicit ids: move the sequence past them
        session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('entities', 'id'), "
                "(SELECT max(id) FROM entities))"
            )
        )
    session.commit()


def train_cold_start(session: Any, as_of: dt.date, model_dir: str) -> None:
    """Fit the 15 models without outcomes (cold start: the population sets volumes and context)."""
    from risk_models.registry import MODEL_NAMES
    from server.risk.features import build_features
    from server.risk.services import train_model

    frame = build_features(session, as_of)
    for name in MODEL_NAMES:
        train_model(
            session, name, until=as_of, model_dir=model_dir, population=frame, actor="bench"
        )


# ---------------------------------------------------------------------------- score
def measure_score(session: Any, as_of: dt.date) -> tuple[float, float, dict[str, float]]:
    """(score_s, score_raw_s, phases): database → stored scores vs the scoring calls alone."""
    from server.credit.services import active_model, credit_features
    from server.risk.distributed import (
        city_partitions,
        entity_columns,
        score_province,
        store_province,
    )
    from server.risk.features import build_features
    from server.risk.services import _population_rows, load_models

    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    frame = build_features(session, as_of)
    phases["features"] = time.perf_counter() - t0
    models = load_models(session)
    credit_model, version = active_model(session)
    regions, btypes = entity_columns(session, frame.entity_ids)
    t = time.perf_counter()
    scores = score_province(frame, regions, btypes, models, credit_model)
    phases["models"] = time.perf_counter() - t
    t = time.perf_counter()
    store_province(session, scores, version, actor="bench")
    phases["store"] = time.perf_counter() - t
    score_s = time.perf_counter() - t0

    # the ceiling: the same partitions' arrays, built beforehand; only the scoring calls timed
    names = credit_features()
    work = []
    for part in city_partitions(frame, regions, btypes):
        arrays = [
            (m, part.frame.matrix(list(m.features))[_population_rows(m, part.btypes)])
            for m in models.values()
        ]
        credit_args = (
            part.frame.matrix(names),
            part.frame.column("on_serious_violation_list") > 0,
            part.frame.column("on_abnormal_list") > 0,
        )
        work.append((arrays, credit_args))
    t = time.perf_counter()
    for arrays, (X, serious, abnormal) in work:
        for model, Xm in arrays:
            s = model.score_samples(Xm)
            model.warning_levels(s[model.applicable(Xm)])
        credit_model.grade(X, serious_violation=serious, abnormal_list=abnormal)
    return score_s, time.perf_counter() - t, phases


# ---------------------------------------------------------------------------- draw
def measure_draw(
    grade_counts: dict[str, int], units: int, *, seed: int
) -> tuple[float, float, dict[str, Any]]:
    """(draw_s, draw_raw_s, facts) on a pool of ``units`` with the province's grade mix."""
    from sampling.assign import assign_inspectors
    from sampling.draw import exponential_keys, stratified_sample
    from server.simulation.loop import stratified_ratios
    from server.simulation.province import CITY_WEIGHT

    rng = np.random.default_rng([seed, 10])
    total = max(1, sum(grade_counts.values()))
    mix = np.array([grade_counts.get(g, 0) / total for g in GRADES])
    strata = rng.choice(len(GRADES), size=units, p=mix)
    ratios_by_grade = stratified_ratios(
        {g: int(round(mix[i] * units)) for i, g in enumerate(GRADES)}, DRAW_SHARE * units
    )
    ratios = {i: ratios_by_grade[g] for i, g in enumerate(GRADES)}
    forced = rng.random(units) < 0.0002  # red warnings: certainty units
    excluded = rng.random(units) < 0.02  # inspected recently / closed
    cw = np.array(list(CITY_WEIGHT.values()))
    city = rng.choice(len(cw), size=units, p=cw / cw.sum())
    n_inspectors = max(20, units // 2000)
    inspector_city = np.concatenate(
        [np.arange(len(cw)), rng.choice(len(cw), n_inspectors - len(cw), p=cw / cw.sum())]
    )
    eligibility = inspector_city[None, :] == np.arange(len(cw))[:, None]

    t = time.perf_counter()
    result = stratified_sample(strata, ratios, forced=forced, excluded=excluded, rng=seed)
    groups = city[result.indices]
    recusal = (
        np.column_stack(
            [
                rng.choice(len(groups), size=len(groups) // 500),
                rng.choice(n_inspectors, size=len(groups) // 500),
            ]
        )
        if len(groups) >= 500
        else None
    )
    assignment = assign_inspectors(groups, eligibility, per_task=2, recusal=recusal, rng=seed)
    draw_s = time.perf_counter() - t

    weights = result.pi_all  # the same weights: each unit's inclusion ratio
    k = int(round(weights.sum()))
    t = time.perf_counter()
    keys = exponential_keys(weights, rng=seed)
    np.argpartition(keys, k - 1)[:k]
    draw_raw_s = time.perf_counter() - t
    return (
        draw_s,
        draw_raw_s,
        {
            "drawn": len(result.indices),
            "inspectors": n_inspectors,
            "infeasible": len(assignment.infeasible),
        },
    )


# ---------------------------------------------------------------------------- api and sync
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def production_server(
    env: dict[str, str], log: Path, *, workers: int | None = None, threads: int = 1
) -> Iterator[str]:
    """Run gunicorn with ``shuangsui serve``'s settings in a subprocess; yields its base URL."""
    import urllib.request

    from server.wsgi_server import default_workers

    workers = workers or default_workers(env.get("SHUANGSUI_DATABASE_URL"))

    port = _free_port()
    code = (
        f"from server.wsgi_server import serve; serve(host='127.0.0.1', port={port}, "
        f"workers={workers}, threads={threads})"
    )
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], env={**os.environ, **env}, stdout=out, stderr=out
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise click.ClickException(f"the server did not start; see {log}") from None
                    time.sleep(0.2)
            # each worker's first requests open its database connections: warm both up
            for _ in range(4 * workers):
                urllib.request.urlopen(url + "/healthz", timeout=5).close()
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()


WRK_SCRIPT = """
local tokens = {%s}
local i = 0
request = function()
  i = i %% #tokens + 1
  return wrk.format("GET", "%s", {["Authorization"] = "Bearer " .. tokens[i]})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %%d, "duration_us": %%d, '
    .. '"p50_us": %%d, "p99_us": %%d, '
    .. '"socket_errors": %%d, "status_errors": %%d}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


WRK_THREADS = 2


def _wrk(script: Path, url: str, seconds: float, *, connections: int, timeout: str, marker: str,
         args: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run ``wrk`` with a Lua script for ``seconds``.

    Returns the JSON object its ``done`` printed on the line starting with ``marker``.
    """
    out = subprocess.run(
        ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
         "--timeout", timeout, "-s", str(script), url, *(["--", *args] if args else [])],
        capture_output=True, text=True, check=True,
    ).stdout
    return dict(json.loads(next(x for x in out.splitlines() if x.startswith(marker))[len(marker):]))


def load_test(
    url: str, path: str, tokens: list[str], seconds: float, *, connections: int, workdir: Path
) -> dict[str, float]:
    """Requests/s (2xx only) and p50/p99 latency (ms) of ``GET path`` from a separate process."""
    if shutil.which("wrk"):
        script = workdir / "bench.lua"
        script.write_text(WRK_SCRIPT % (", ".join(json.dumps(t) for t in tokens), path))
        # a first, unmeasured second: each server process runs the endpoint's code for the
        # first time (imports, compiled statements, its own cache) — steady state is measured
        _wrk(script, url + path, 1, connections=connections, timeout="5s", marker="BENCH ")
        r = _wrk(script, url + path, seconds, connections=connections, timeout="5s",
                 marker="BENCH ")
        ok = r["requests"] - r["status_errors"]
        return {
            "rps": ok / (r["duration_us"] / 1e6),
            "p50_ms": r["p50_us"] / 1000,
            "p99_ms": r["p99_us"] / 1000,
            "errors": r["socket_errors"] + r["status_errors"],
            "requests": r["requests"],
            "tool": "wrk",
        }
    spec = {
        "mode": "get",
        "url": url,
        "path": path,
        "tokens": tokens,
        "seconds": seconds,
        "threads": connections,
    }
    _run_loadgen({**spec, "seconds": 1}, workdir)  # unmeasured warm-up, as above
    return _run_loadgen(spec, workdir)


SYNC_SCRIPT = """
threads = {}
local n = 0
function setup(thread)
  thread:set("id", n)
  table.insert(threads, thread)
  n = n + 1
end

function init(args)
  -- this thread's share of the bodies file: lines k with k % stride == id
  local stride, id = tonumber(args[1]), tonumber(wrk.thread:get("id"))
  tokens, bodies = {}, {}
  local k = 0
  for line in io.lines(args[2]) do
    if k % stride == id then
      local tab = line:find("\\t", 1, true)
      tokens[#tokens + 1] = "Bearer " .. line:sub(1, tab - 1)
      bodies[#bodies + 1] = line:sub(tab + 1)
    end
    k = k + 1
  end
  sent, accepted, duplicate, failed = 0, 0, 0, 0
end

function request()
  sent = sent + 1
  -- past the end of its share a thread replays it: answered 200, not counted as accepted
  local j = (sent - 1) % #bodies + 1
  return wrk.format("POST", "/api/v1/submissions",
    {["Authorization"] = tokens[j], ["Content-Type"] = "application/json"}, bodies[j])
end

function response(status, headers, body)
  if status == 201 then accepted = accepted + 1
  elseif status == 200 or status == 202 then duplicate = duplicate + 1
  else failed = failed + 1 end
end

function done(summary, latency, requests)
  local a, d, f, s = 0, 0, 0, {}
  for _, t in ipairs(threads) do
    a, d, f = a + t:get("accepted"), d + t:get("duplicate"), f + t:get("failed")
    s[#s + 1] = t:get("sent")
  end
  local e = summary.errors
  io.write(string.format('SYNC {"accepted": %d, "duplicate": %d, "failed": %d, '
    .. '"sent": [%s], "duration_us": %d, "socket_errors": %d}\\n', a, d, f,
    table.concat(s, ", "), summary.duration, e.connect + e.read + e.write + e.timeout))
end
"""


def sync_load(
    url: str, items: list[dict[str, Any]], seconds: float, *, connections: int, workdir: Path
) -> dict[str, Any]:
    """Measure accepted submissions per second from ``wrk`` (each body once, for ``seconds``).

    Then the bodies that may have been cut off in flight, and every tenth other one, are
    sent again the way the handheld's outbox retries (each must be stored exactly once:
    :func:`check_sync`). Falls back to the Python load generator without ``wrk``.
    """
    if not shutil.which("wrk"):
        spec = {"mode": "sync", "url": url, "bodies": items, "threads": connections}
        out = _run_loadgen(spec, workdir)
        return {**out, "sent_ids": [i["body"]["instance_id"] for i in items], "tool": "python"}
    n_warm = min(len(items) // 10, 10 * connections)
    warm, items = items[:n_warm], items[n_warm:]
    # unmeasured: each server process's first submissions (imports, compiled statements)
    _run_loadgen({"mode": "sync", "url": url, "bodies": warm, "threads": connections,
                  "replay": False}, workdir)
    stride = WRK_THREADS  # each thread sends its own share of the bodies
    data = workdir / "bodies.tsv"
    data.write_text("".join(f"{i['token']}\t{json.dumps(i['body'])}\n" for i in items))
    script = workdir / "sync.lua"
    script.write_text(SYNC_SCRIPT)
    r = _wrk(script, url + "/api/v1/submissions", seconds, connections=connections,
             timeout="30s", marker="SYNC ", args=(str(stride), str(data)))
    shares = [items[t::stride] for t in range(stride)]
    sent = [share[: min(n, len(share))] for share, n in zip(shares, r["sent"], strict=True)]
    # a thread has at most its connections' requests in flight when wrk stops: those are
    # sent again (like the outbox after a cut connection), with every tenth other one
    tail = connections // stride + 1
    errors = r["failed"] + r["socket_errors"]
    again = [b for share in sent
             for b in (share if errors else share[-tail:] + share[:-tail:10])]
    retry = _run_loadgen({"mode": "sync", "url": url, "bodies": again, "threads": connections,
                          "replay": False}, workdir)
    return {
        "accepted": r["accepted"],
        "per_s": r["accepted"] / (r["duration_us"] / 1e6),
        "duplicate": r["duplicate"],
        "failed": errors,
        "retries": retry["retries"],
        "late_accepted": retry["accepted"],
        "replayed": len(again),
        "replayed_ok": retry["duplicate"],
        "sent_ids": [i["body"]["instance_id"] for i in warm + [b for share in sent for b in share]],
        "tool": "wrk",
    }


def _run_loadgen(spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    path = workdir / f"loadgen-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(spec))
    out = subprocess.run(
        [sys.executable, "-m", "server.commands.bench", str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def prepare_http(
    session: Any, *, api_users: int, tasks_per_user: int, sync_count: int, seed: int
) -> dict[str, Any]:
    """Inspector logins, tokens, task lists and the submissions the sync clients will send."""
    from sqlalchemy import select

    from server.auth.models import User
    from server.auth.services import issue_token
    from server.entities.models import Entity
    from server.inspections.services import form_items_for_task
    from server.reference.models import BusinessType, FormTemplate
    from server.simulation.answers import fill_form, submission_body
    from server.tasks.models import Inspector, Task, TaskAssignment

    rng = np.random.default_rng([seed, 20])
    sync_users = max(2, min(api_users, math.ceil(sync_count / 40)))
    inspectors = session.execute(
        select(Inspector.id, Inspector.department_code, Inspector.name)
        .order_by(Inspector.id)
        .limit(2 * (api_users + sync_users))
    ).all()
    if len(inspectors) < 2 * (api_users + sync_users):
        raise click.ClickException("not enough inspectors in the province")
    forms = dict(session.execute(select(BusinessType.code, BusinessType.form_code)).all())
    templates = {
        f.code: f
        for f in session.scalars(select(FormTemplate).where(FormTemplate.current.is_(True)))
    }
    n_tasks = api_users * tasks_per_user + sync_count
    entities = session.execute(
        select(Entity.id, Entity.business_type).order_by(Entity.id).limit(20 * n_tasks)
    ).all()
    chosen = [
        entities[i]
        for i in rng.choice(len(entities), size=min(n_tasks, len(entities)), replace=False)
    ]
    users, tokens = [], []
    for k in range(api_users + sync_users):
        ins_id, dept, name = inspectors[2 * k]
        user = User(
            username=f"bench{k:04d}",
            display_name=name,
            roles="inspector",
            department_code=dept,
            inspector_id=ins_id,
            password_hash="!",
        )
        session.add(user)
        users.append((user, ins_id, inspectors[2 * k + 1][0], dept))
    session.flush()
    for user, *_ in users:
        tokens.append(issue_token(session, user, ttl_hours=6)[0])
    owner = [k % api_users for k in range(api_users * tasks_per_user)]
    owner += [api_users + k % sync_users for k in range(len(chosen) - len(owner))]
    task_rows = []
    for (eid, btype), k in zip(chosen, owner, strict=True):
        form = templates.get(forms.get(btype) or "general") or templates["general"]
        domains = sorted({i["domain"] for i in form.items if i.get("domain")})
        task_rows.append(
            {
                "entity_id": eid,
                "channel": "random",
                "department_code": users[k][3],
                "state": "assigned",
                "form_code": form.code,
                "check_items": [],
                "domains": domains,
                "due_on": START + dt.timedelta(days=30),
            }
        )
    session.execute(Task.__table__.insert(), task_rows)
    ids = session.scalars(select(Task.id).order_by(Task.id)).all()[-len(task_rows) :]
    session.execute(
        TaskAssignment.__table__.insert(),
        [
            {"task_id": t, "inspector_id": ins, "lead": lead}
            for t, k in zip(ids, owner, strict=True)
            for ins, lead in ((users[k][1], True), (users[k][2], False))
        ],
    )
    session.commit()
    bodies = []
    owner_of = dict(zip(ids, owner, strict=True))
    sync_ids = ids[api_users * tasks_per_user :]
    for task in session.scalars(select(Task).where(Task.id.in_(sync_ids)).order_by(Task.id)):
        form = templates[task.form_code]
        answers, attachments = fill_form(
            form_items_for_task(session, task, form), set(), seed=task.id
        )
        k = owner_of[task.id]
        bodies.append(
            {
                "token": tokens[k],
                # inspected right after the tasks were made (times before a task's creation,
                # or ahead of the server's clock, are refused)
                "body": submission_body(task, form, answers, attachments, rng=rng,
                                        day=dt.date.today(), minutes=0, device_id="bench",
                                        start=dt.datetime.now(dt.UTC)),
            }
        )
    return {"api_tokens": tokens[:api_users], "bodies": bodies}


def check_sync(session: Any, instance_ids: list[str]) -> tuple[int, int]:
    """(lost, duplicated): submissions not stored, and stored more than once (rows or results)."""
    from sqlalchemy import func, select

    from server.inspections.models import InspectionResult, Submission

    stored = dict(
        session.execute(
            select(Submission.instance_id, func.count()).group_by(Submission.instance_id)
        ).all()
    )
    lost = sum(1 for i in instance_ids if stored.get(i, 0) == 0)
    duplicated = sum(max(0, stored.get(i, 0) - 1) for i in instance_ids)
    duplicated += sum(
        n - 1
        for (n,) in session.execute(
            select(func.count())
            .select_from(InspectionResult)
            .group_by(InspectionResult.task_id)
            .having(func.count() > 1)
        ).all()
    )
    return lost, duplicated


# ------------------------------------------------------------------ the load generator process
def _loadgen_get(spec: dict[str, Any]) -> dict[str, Any]:
    import http.client
    from urllib.parse import urlsplit

    host = urlsplit(spec["url"])
    stop = time.monotonic() + spec["seconds"]
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
        mine, i = [], k
        while time.monotonic() < stop:
            headers = {"Authorization": f"Bearer {spec['tokens'][i % len(spec['tokens'])]}"}
            i += 1
            t = time.perf_counter()
            try:
                conn.request("GET", spec["path"], headers=headers)
                r = conn.getresponse()
                r.read()
                ok = 200 <= r.status < 300
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
                ok = False
            if ok:
                mine.append(time.perf_counter() - t)
            else:
                with lock:
                    errors[0] += 1
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(spec["threads"])]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    ms = np.array(lat) * 1000 if lat else np.zeros(1)
    return {
        "rps": len(lat) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "errors": errors[0],
        "requests": len(lat) + errors[0],
        "tool": "python",
    }


def _loadgen_sync(spec: dict[str, Any]) -> dict[str, Any]:
    """Send every body once (retrying failures like the outbox), then replay a tenth of them."""
    import http.client
    from urllib.parse import urlsplit

    host = urlsplit(spec["url"])
    items = spec["bodies"]
    counts = {"accepted": 0, "duplicate": 0, "retries": 0, "failed": 0, "replayed_ok": 0}
    lock = threading.Lock()
    cursor = [0]

    def post(
        conn: http.client.HTTPConnection, item: dict[str, Any]
    ) -> tuple[http.client.HTTPConnection, int]:
        data = json.dumps(item["body"]).encode()
        headers = {"Authorization": f"Bearer {item['token']}", "Content-Type": "application/json"}
        for attempt in range(30):
            try:
                conn.request("POST", "/api/v1/submissions", body=data, headers=headers)
                r = conn.getresponse()
                r.read()
                if r.status in (200, 201, 202):
                    return conn, 200 if r.status == 202 else r.status
                if r.status < 500:
                    return conn, r.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
            with lock:
                counts["retries"] += 1
            time.sleep(min(1.0, 0.02 * 2**attempt))
        return conn, 0

    def worker(pool: list[dict[str, Any]], replay: bool) -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        while True:
            with lock:
                if cursor[0] >= len(pool):
                    break
                item = pool[cursor[0]]
                cursor[0] += 1
            conn, status = post(conn, item)
            with lock:
                if replay:
                    counts["replayed_ok"] += status == 200
                elif status == 201:
                    counts["accepted"] += 1
                elif status == 200:
                    counts["duplicate"] += 1
                else:
                    counts["failed"] += 1
        conn.close()

    def run(pool: list[dict[str, Any]], replay: bool) -> float:
        cursor[0] = 0
        t = time.perf_counter()
        threads = [
            threading.Thread(target=worker, args=(pool, replay)) for _ in range(spec["threads"])
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return time.perf_counter() - t

    elapsed = run(items, False)
    replayed = items[::10] if spec.get("replay", True) else []
    run(replayed, True)
    return {
        **counts,
        "elapsed": elapsed,
        "replayed": len(replayed),
        "per_s": (counts["accepted"] + counts["duplicate"]) / elapsed,
    }


def _measure_http(
    session: Any,
    env: dict[str, str],
    workdir: Path,
    *,
    api_seconds: float,
    sync_count: int,
    seed: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    from server.extensions import db

    http = prepare_http(session, api_users=32, tasks_per_user=25, sync_count=sync_count, seed=seed)
    db.session.remove()
    db.engine.dispose()
    out: dict[str, Any] = {}
    with production_server(env, workdir / "gunicorn.log") as url:
        say(f"server up at {url}; task list under load for {api_seconds:g} s")
        out["api"] = load_test(
            url, "/api/v1/tasks", http["api_tokens"], api_seconds, connections=16, workdir=workdir
        )
        say(
            f"task list: {out['api']['rps']:.0f} req/s, p99 {out['api']['p99_ms']:.1f} ms; "
            "/healthz ceiling"
        )
        out["ceiling"] = load_test(
            url, "/healthz", http["api_tokens"], api_seconds, connections=16, workdir=workdir
        )
        say(
            f"/healthz: {out['ceiling']['rps']:.0f} req/s; "
            f"sync of {len(http['bodies'])} submissions"
        )
        out["sync"] = sync_load(url, http["bodies"], api_seconds, connections=8, workdir=workdir)
    out["instance_ids"] = out["sync"].pop("sent_ids")
    return out


# ---------------------------------------------------------------------------- the command
@click.command("bench")
@click.option(
    "--quick", is_flag=True, help="100,000 entities and a 1,000,000-unit draw (under 2 minutes)."
)
@click.option(
    "--entities",
    type=click.IntRange(min=500),
    default=None,
    help="Entities in the province (default 1,000,000; --quick 100,000).",
)
@click.option(
    "--db",
    "db_url",
    default=None,
    help="SQLAlchemy URL (default: a temporary SQLite file). Its tables are dropped and recreated.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print exactly the bench.schema.json object on stdout."
)
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--draw-units", type=click.IntRange(min=1000), default=None, hidden=True)
@click.option("--api-seconds", type=click.FloatRange(min=1), default=None, hidden=True)
@click.option("--sync-count", type=click.IntRange(min=10), default=None, hidden=True)
def bench(
    quick: bool,
    entities: int | None,
    db_url: str | None,
    as_json: bool,
    seed: int,
    draw_units: int | None,
    api_seconds: float | None,
    sync_count: int | None,
) -> None:
    """Measure scoring, drawing, the task-list API and sync, each next to its ceiling."""
    from sqlalchemy import func, select

    from server.commands.simulate import make_app
    from server.entities.models import Entity
    from server.extensions import db
    from server.reference.services import load_reference_into_db

    size = dict(SIZES[quick])
    for key, value in (
        ("entities", entities),
        ("draw_units", draw_units),
        ("api_seconds", api_seconds),
        ("sync_count", sync_count),
    ):
        if value is not None:
            size[key] = value
    say = Progress()
    with tempfile.TemporaryDirectory(prefix="shuangsui-bench-") as tmp:
        workdir = Path(tmp)
        app = make_app(db_url, workdir)
        with app.app_context():
            session = db.session
            load_reference_into_db(session, app.config["DATA_DIR"], actor="bench")
            n = build_bench_province(
                session, int(size["entities"]), seed=seed, data_dir=Path(app.config["DATA_DIR"])
            )
            say(f"province: {n} entities")
            train_cold_start(session, START, app.config["MODEL_DIR"])
            say("15 models fitted (cold start)")
            score_s, score_raw_s, phases = measure_score(session, START)
            say(
                f"score {score_s:.2f} s ({', '.join(f'{k} {v:.2f}' for k, v in phases.items())}); "
                f"raw {score_raw_s:.2f} s"
            )
            grades = dict(
                session.execute(
                    select(Entity.credit_grade, func.count()).group_by(Entity.credit_grade)
                ).all()
            )
            draw_s, draw_raw_s, facts = measure_draw(
                {g: grades.get(g, 0) for g in GRADES}, int(size["draw_units"]), seed=seed
            )
            say(f"draw {draw_s:.3f} s, raw {draw_raw_s:.3f} s ({facts})")
            env = {
                "SHUANGSUI_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                "SHUANGSUI_INSTANCE": str(workdir / "instance"),
                "SHUANGSUI_MODEL_DIR": app.config["MODEL_DIR"],
                "SHUANGSUI_ATTACHMENT_DIR": app.config["ATTACHMENT_DIR"],
            }
            http = _measure_http(
                session,
                env,
                workdir,
                api_seconds=float(size["api_seconds"]),
                sync_count=int(size["sync_count"]),
                seed=seed,
                say=say,
            )
            lost, duplicated = check_sync(db.session, http["instance_ids"])
            sync = http["sync"]
            say(
                f"sync {sync['per_s']:.0f}/s ({sync['accepted']} accepted, "
                f"{sync['failed']} failed, {sync['retries']} retries; sent again: "
                f"{sync['replayed_ok']}/{sync['replayed']} answered as duplicates, "
                f"{sync.get('late_accepted', 0)} accepted late; {sync['tool']}); "
                f"{len(http['instance_ids'])} checked: lost {lost}, duplicated {duplicated}"
            )
            db.session.remove()
            db.engine.dispose()
    out = {
        "score_s": round(score_s, 3),
        "score_raw_s": round(score_raw_s, 3),
        "draw_s": round(draw_s, 4),
        "draw_raw_s": round(draw_raw_s, 4),
        "api_rps": round(http["api"]["rps"], 1),
        "api_p99_ms": round(http["api"]["p99_ms"], 2),
        "api_ceiling_rps": round(http["ceiling"]["rps"], 1),
        "sync_per_s": round(sync["per_s"], 1),
        "sync_lost": int(lost),
        "sync_duplicated": int(duplicated),
        "entities": int(n),
        "quick": bool(quick),
    }
    say(
        f"done: api p50 {http['api']['p50_ms']:.1f} ms, "
        f"ceiling p99 {http['ceiling']['p99_ms']:.1f} ms "
        f"({http['api']['tool']})"
    )
    if as_json:
        click.echo(json.dumps(out))
    else:
        for key, value in out.items():
            click.echo(f"{key:>16}: {value}")


if __name__ == "__main__":  # the load generator's process (see _run_loadgen)
    _spec = json.loads(Path(sys.argv[1]).read_text())
    _result = _loadgen_get(_spec) if _spec["mode"] == "get" else _loadgen_sync(_spec)
    print(json.dumps(_result))
