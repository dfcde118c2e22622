"""``shuangsui simulate``: the whole loop on a synthetic province, measured."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click


def make_app(db_url: str | None, workdir: Path) -> Any:
    """An app on ``db_url`` (default: a fresh SQLite file in ``workdir``) with an empty schema."""
    from server import create_app
    from server.config import ROOT
    from server.db import Base
    from server.extensions import db

    config = {
        "SQLALCHEMY_DATABASE_URI": db_url or f"sqlite:///{workdir / 'simulate.db'}",
        "MODEL_DIR": str(workdir / "models"), "POOL_DIR": str(workdir / "pools"),
        "ATTACHMENT_DIR": str(workdir / "attachments"), "DATA_DIR": str(ROOT / "data"),
    }
    app = create_app(config)
    with app.app_context():
        Base.metadata.drop_all(db.engine)
        Base.metadata.create_all(db.engine)
    return app


@click.command("simulate")
@click.option("--entities", default=20_000, show_default=True, type=click.IntRange(min=100))
@click.option("--periods", default=4, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--budget", default=0.03, show_default=True, type=click.FloatRange(0.001, 0.5),
              help="Share of entities inspected per period by each round.")
@click.option("--signal", default=1.0, show_default=True, type=click.FloatRange(min=0.0),
              help="How strongly observable records depend on the hidden truth (0 = not at all).")
@click.option("--db", "db_url", default=None, help="SQLAlchemy URL (default: a fresh temporary SQLite). "
              "Its tables are dropped and recreated.")
@click.option("--keep", "keep_dir", type=click.Path(file_okay=False), default=None,
              help="Keep models and draw pool snapshots here (default: with --db, ./instance/simulate; "
              "else a temporary directory removed at the end).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def simulate(entities: int, periods: int, seed: int, budget: float, signal: float, db_url: str | None,
             keep_dir: str | None, as_json: bool) -> None:
    """Run the risk-based inspection loop on a synthetic province and report hit rates."""
    from server.extensions import db
    from server.reference.services import load_reference_into_db
    from server.simulation.loop import SimulationConfig, progress_bar
    from server.simulation.run import run_simulation

    started = time.perf_counter()
    config = SimulationConfig(entities=entities, periods=periods, seed=seed, budget=budget, signal=signal)
    if keep_dir is None and db_url:
        keep_dir = str(Path("instance") / "simulate")  # the database outlives the run: so must its files
    with tempfile.TemporaryDirectory(prefix="shuangsui-sim-") as tmp:
        workdir = Path(keep_dir) if keep_dir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        app = make_app(db_url, workdir)
        with app.app_context():
            load_reference_into_db(db.session, app.config["DATA_DIR"], actor="simulator")
            step = progress_bar(1 + periods * 7, enabled=sys.stderr.isatty() or not as_json)
            out = run_simulation(db.session, config, data_dir=app.config["DATA_DIR"],
                                 model_dir=app.config["MODEL_DIR"], pool_dir=app.config["POOL_DIR"], progress=step)
            db.session.remove()
            db.engine.dispose()
    click.echo(f"simulate: {time.perf_counter() - started:.1f} s", err=True)
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    _print_report(out)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def _print_report(out: dict[str, Any]) -> None:
    names = {"random": "随机抽查(对照)", "credit_weighted": "信用分类抽查", "risk_warning": "风险预警核查",
             "oracle": "理论上限(oracle)"}
    click.echo(f"模拟省份: {out['entities']} 户, {out['periods']} 期, seed {out['seed']}, signal {out['signal']}")
    click.echo(f"{'渠道':<16}{'检查户次':>8}{'发现问题':>8}{'问题发现率':>10}   95% 区间")
    for key, label in names.items():
        c = out["channels"][key]
        click.echo(f"{label:<16}{c['inspections']:>8}{c['problems']:>8}{_pct(c['hit_rate']):>10}   "
                   f"[{_pct(c['ci95'][0])}, {_pct(c['ci95'][1])}]")
    w = out["warnings"]
    click.echo(f"预警: 发出 {w['issued']}, 处置 {w['handled']} ({_pct(w.get('handling_rate'))}), "
               f"涉及主体 {w['entities']}, 有问题 {w['problem_entities']}")
    click.echo(f"提升倍数: 信用分类 {out['lift']['credit_weighted']:.2f}×, 风险预警 {out['lift']['risk_warning']:.2f}×")
    p = out["population_violation_rate"]
    click.echo(f"总体违法率: 真值 {_pct(p['true'])}, HT 估计 {_pct(p['horvitz_thompson'])} "
               f"[{_pct(p['ci95'][0])}, {_pct(p['ci95'][1])}]")
