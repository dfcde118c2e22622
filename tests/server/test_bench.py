"""``shuangsui bench`` at tiny sizes: JSON contract, sync exactly-once (no timing asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT.parent / "shared" / "contracts" / "bench.schema.json"


@pytest.fixture(scope="module")
def bench_json() -> dict:
    from server.commands.bench import bench

    result = CliRunner().invoke(
        bench,
        [
            "--entities",
            "2000",
            "--draw-units",
            "100000",
            "--api-seconds",
            "1",
            "--sync-count",
            "40",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_bench_json_follows_the_contract(bench_json):
    if not SCHEMA.exists():
        pytest.skip(f"contract not found: {SCHEMA}")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(bench_json, schema)
    assert set(bench_json) == set(schema["required"])
    assert bench_json["quick"] is False
    assert bench_json["entities"] == 2000


def test_every_submission_is_stored_exactly_once(bench_json):
    assert bench_json["sync_lost"] == 0
    assert bench_json["sync_duplicated"] == 0
    assert bench_json["sync_per_s"] > 0


def test_a_larger_province_is_replicated_with_distinct_identities(tmp_path):
    """Above the generator's size the province is copied: new ids and USCCs, same records."""
    from sqlalchemy import func, select

    from server.commands.bench import build_bench_province
    from server.commands.simulate import make_app
    from server.entities.models import Entity
    from server.extensions import db
    from server.feeds.models import Complaint
    from server.reference.services import load_reference_into_db
    from server.validation import validate_uscc

    app = make_app(None, tmp_path)
    with app.app_context():
        load_reference_into_db(db.session, app.config["DATA_DIR"], actor="test")
        n = build_bench_province(db.session, 900, seed=1, data_dir=ROOT / "data", base=300)
        assert n == 900
        usccs = db.session.scalars(select(Entity.uscc)).all()
        assert len(usccs) == len(set(usccs)) == 900
        assert all(validate_uscc(u) == u for u in usccs[::50])
        per_copy = [
            db.session.scalar(
                select(func.count())
                .select_from(Complaint)
                .where(Complaint.entity_id.between(1 + 300 * c, 300 * (c + 1)))
            )
            for c in range(3)
        ]
        assert per_copy[0] == per_copy[1] == per_copy[2] > 0
        db.session.remove()
        db.engine.dispose()
