"""The synthetic province and the simulate command (calibration, determinism, honesty)."""

from __future__ import annotations

import ast
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from server.extensions import db
from server.simulation.province import Province, ProvinceConfig, form_domains

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2026, 1, 5)


def _province(entities=1500, seed=11, signal=1.0):
    p = Province(ProvinceConfig(entities=entities, seed=seed, signal=signal, start=START), form_domains(ROOT / "data"))
    p.populate(db.session)
    return p


def test_every_business_type_is_calibrated_to_the_random_hit_rate(reference):
    p = _province()
    prop = p.propensity()
    for b in np.unique(p.btypes):
        assert prop[p.btypes == b].mean() == pytest.approx(0.0942, abs=1e-6), b
    # heterogeneous: the riskiest tenth is several times the average
    assert np.quantile(prop, 0.9) > 2 * prop.mean()


def test_same_seed_same_province(reference):
    from sqlalchemy import select

    from server.db import Base
    from server.entities.models import Entity
    from server.reference.services import load_parsed_reference
    from server.validation import validate_uscc

    def snapshot():
        p = _province(entities=300, seed=5)
        rows = db.session.execute(select(Entity.uscc, Entity.name, Entity.business_type, Entity.registered_on)
                                  .order_by(Entity.uscc)).all()
        return p.propensity(), rows

    prop1, rows1 = snapshot()
    db.session.remove()
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    load_parsed_reference(db.session, reference)
    prop2, rows2 = snapshot()
    assert rows1 == rows2 and np.array_equal(np.sort(prop1), np.sort(prop2))
    assert len({r[0] for r in rows1}) == 300
    assert all(validate_uscc(r[0]) == r[0] for r in rows1)


def test_at_signal_zero_records_carry_no_hidden_information(reference):
    p = _province(entities=400, signal=0.0)
    assert not np.any(p._z()) and not np.any(p._zg())


def test_features_come_from_recorded_data_only(reference):
    """Changing nature's hidden arrays after the records are written changes no feature."""
    from server.risk.features import build_features

    p = _province(entities=500)
    p.advance(db.session, START - dt.timedelta(days=200), START)
    before = build_features(db.session, START)
    p.general += 5.0
    p.specific[:] = -3.0
    after = build_features(db.session, START)
    assert np.array_equal(np.nan_to_num(before.numeric, nan=-1), np.nan_to_num(after.numeric, nan=-1))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_no_model_draw_service_or_page_imports_the_simulator():
    allowed = {ROOT / "server" / "simulation", ROOT / "server" / "commands"}
    for path in [*(ROOT / "server").rglob("*.py"), *(ROOT / "risk_models").rglob("*.py"),
                 *(ROOT / "sampling").rglob("*.py")]:
        if any(a in path.parents for a in allowed):
            continue
        bad = {m for m in _imports(path) if m.startswith("server.simulation")}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_layers_stay_apart():
    for pkg in ("risk_models", "sampling"):
        for path in (ROOT / pkg).rglob("*.py"):
            bad = {m for m in _imports(path) if m.split(".")[0] in ("flask", "sqlalchemy", "kivy", "server")}
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.slow
def test_simulate_json_matches_the_contract_and_is_deterministic(tmp_path):
    from server.commands.simulate import simulate

    args = ["--entities", "800", "--periods", "2", "--seed", "3", "--json"]
    runner = CliRunner()
    first = runner.invoke(simulate, args)
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    schema_path = ROOT.parent / "shared" / "contracts" / "simulate.schema.json"
    if schema_path.exists():
        import jsonschema

        jsonschema.validate(out, json.loads(schema_path.read_text(encoding="utf-8")))
    c = out["channels"]
    assert c["random"]["inspections"] > 0 and c["risk_warning"]["inspections"] > 0
    assert c["oracle"]["inspections"] == c["risk_warning"]["inspections"]
    assert out["warnings"]["handled"] <= out["warnings"]["issued"]
    second = runner.invoke(simulate, args)
    assert json.loads(second.stdout) == out
