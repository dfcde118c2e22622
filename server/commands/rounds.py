"""``shuangsui draw …``: list rounds and replay a draw from its revealed seed and published pool."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext


@click.group("draw")
def draw_group() -> None:
    """Double-random draws (双随机抽取)."""


@draw_group.command("list")
@with_appcontext
def list_cmd() -> None:
    """Rounds with their state, pool size and seed commitment."""
    from sqlalchemy import select

    from server.extensions import db
    from server.rounds.models import ROUND_STATES, SamplingRound

    for r in db.session.scalars(select(SamplingRound).order_by(SamplingRound.id)):
        click.echo(f"{r.id:>5}  {ROUND_STATES.get(r.state, r.state):<6} pool={r.pool_size or '-':<7} "
                   f"commitment={r.seed_commitment[:16] if r.seed_commitment else '-'}…  {r.name}")


@draw_group.command("replay")
@click.argument("round_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def replay_cmd(round_id: int, as_json: bool) -> None:
    """Re-run round ROUND_ID's draw and check seed, pool digest and drawn entities (exit 1 on mismatch)."""
    from server.errors import DomainError
    from server.extensions import db
    from server.rounds import services

    try:
        out = services.replay(db.session, services.get_round(db.session, round_id))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        ok = "一致" if out["draw_matches"] else "不一致"
        click.echo(f"round {round_id}: seed↔commitment {out['seed_matches_commitment']}, "
                   f"pool digest {out['pool_digest_matches']}, draw {ok} ({out['replayed']}/{out['drawn']})")
    if not (out["draw_matches"] and out["seed_matches_commitment"] and out["pool_digest_matches"]):
        raise SystemExit(1)


@draw_group.command("verify")
@click.argument("round_json", type=click.Path(exists=True, dir_okay=False))
@click.argument("pool_csv", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def verify_cmd(round_json: str, pool_csv: str, as_json: bool) -> None:
    """Verify a published draw offline, from public files only (no database): the round's
    public JSON (/api/v1/public/rounds/ID) and its pool file (…/pool.csv). Exit 1 on mismatch.
    """
    from pathlib import Path

    from sampling.replay import parse_pool_csv, verify_publication

    try:
        record = json.loads(Path(round_json).read_text(encoding="utf-8"))
        out = verify_publication(record, parse_pool_csv(Path(pool_csv).read_text(encoding="utf-8")))
    except (ValueError, KeyError) as exc:
        raise click.ClickException(f"文件格式不正确: {exc}") from None
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        def mark(ok: bool) -> str:
            return "一致" if ok else "不一致"

        click.echo(f"round {out['round']}: 种子与承诺值{mark(out['seed_matches_commitment'])}, "
                   f"名录库摘要{mark(out['pool_digest_matches'])}, "
                   f"抽取名单{mark(out['draw_matches'])} ({out['replayed']}/{out['drawn']})")
    if not (out["draw_matches"] and out["seed_matches_commitment"] and out["pool_digest_matches"]):
        raise SystemExit(1)
