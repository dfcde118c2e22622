"""Reading the feed tables in bulk: the Arrow (ADBC) path on a SQLite file gives exactly the
features the driver's tuples give, and falls back whenever it could not see the same rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import server.risk.features as features
from server.extensions import db
from server.simulation.province import Province, ProvinceConfig, form_domains

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2026, 1, 5)


@pytest.fixture
def file_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An app on a SQLite *file* (the test suite's usual in-memory database never takes the Arrow path)."""
    from server import create_app
    from server.db import Base
    from server.reference.services import load_reference_into_db

    monkeypatch.setenv("SHUANGSUI_INSTANCE", str(tmp_path / "instance"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'features.db'}",
                      "MODEL_DIR": str(tmp_path / "models"), "TESTING": True})
    with app.app_context():
        Base.metadata.create_all(db.engine)
        load_reference_into_db(db.session, str(ROOT / "data"), actor="test")
        p = Province(ProvinceConfig(entities=600, seed=5, start=START), form_domains(ROOT / "data"))
        p.populate(db.session)
        p.advance(db.session, START - dt.timedelta(days=400), START)
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, per table read, whether the Arrow path answered."""
    used: list[bool] = []
    real = features._read_sqlite_arrow

    def spy(*args: Any, **kwargs: Any) -> Any:
        frame = real(*args, **kwargs)
        used.append(frame is not None)
        return frame

    monkeypatch.setattr(features, "_read_sqlite_arrow", spy)
    return used


def test_arrow_reads_give_the_same_features_as_driver_tuples(file_app, monkeypatch):
    used = _spy(monkeypatch)
    arrow = features.build_features(db.session, START)
    assert used and all(used), "every feed table should have been read through ADBC"
    monkeypatch.setattr(features, "_read_sqlite_arrow", lambda *a, **k: None)
    tuples = features.build_features(db.session, START)
    assert np.array_equal(arrow.entity_ids, tuples.entity_ids)
    assert np.array_equal(arrow.numeric, tuples.numeric, equal_nan=True)
    assert list(arrow.text["ad_text"]) == list(tuples.text["ad_text"])
    # the province has records in the columns that matter (not an all-zero comparison)
    for name in ("complaints_365d", "penalties_3y", "price_reports_90d", "ad_count_90d"):
        assert np.nansum(arrow.column(name)) > 0, name
    assert any(arrow.text["ad_text"])


def test_uncommitted_records_are_seen_through_the_session(file_app, monkeypatch):
    """A separate reader cannot see this transaction's writes: the driver path is used then."""
    from server.feeds.models import Complaint

    before = features.build_features(db.session, START)
    eid = int(before.entity_ids[0])
    j = features.NUMERIC.index("complaints_90d")
    used = _spy(monkeypatch)
    db.session.add(Complaint(entity_id=eid, received_on=START - dt.timedelta(days=3), category="food"))
    db.session.flush()
    after = features.build_features(db.session, START)
    assert used and not any(used)
    assert after.numeric[0, j] == before.numeric[0, j] + 1
    db.session.rollback()
    again = features.build_features(db.session, START)
    assert again.numeric[0, j] == before.numeric[0, j]
