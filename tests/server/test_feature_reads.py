"""Reading the feed tables in bulk: the Arrow (ADBC) path on a SQLite file gives exactly the
features the driver's tuples give, and falls back whenever it could not see the same rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from factories import sqlite_file_app

import server.risk.features as features
from server.extensions import db
from server.simulation.province import Province, ProvinceConfig, form_domains

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2026, 1, 5)


@pytest.fixture
def file_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An app on a SQLite *file* with a small province (15 months of records)."""
    with sqlite_file_app(tmp_path, monkeypatch, "features.db") as app:
        p = Province(ProvinceConfig(entities=600, seed=5, start=START), form_domains(ROOT / "data"))
        p.populate(db.session)
        p.advance(db.session, START - dt.timedelta(days=400), START)
        db.session.commit()
        yield app


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record, per table read, which path answered: "arrow" (ADBC) or "tuples" (the driver)."""
    used: list[str] = []
    arrow, tuples = features._arrow_frame, features._read_tuples

    def spy_arrow(*args: Any, **kwargs: Any) -> Any:
        frame = arrow(*args, **kwargs)
        if frame is not None:
            used.append("arrow")
        return frame

    def spy_tuples(*args: Any, **kwargs: Any) -> Any:
        used.append("tuples")
        return tuples(*args, **kwargs)

    monkeypatch.setattr(features, "_arrow_frame", spy_arrow)
    monkeypatch.setattr(features, "_read_tuples", spy_tuples)
    return used


def test_arrow_reads_give_the_same_features_as_driver_tuples(file_app, monkeypatch):
    used = _spy(monkeypatch)
    arrow = features.build_features(db.session, START)
    assert len(used) == 18 and set(used) == {"arrow"}, "every feed table should have been read through ADBC"
    monkeypatch.setattr(features, "_arrow_database", lambda conn: None)
    tuples = features.build_features(db.session, START)
    assert used[18:] == ["tuples"] * 18
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
    assert len(used) == 18 and set(used) == {"tuples"}
    assert after.numeric[0, j] == before.numeric[0, j] + 1
    db.session.rollback()
    again = features.build_features(db.session, START)
    assert again.numeric[0, j] == before.numeric[0, j]


def test_windowed_features_read_only_their_window(file_app, monkeypatch):
    """A 90-day feature's table is filtered by the database: older records never reach the
    builder (a province keeps years of them), and the features are what they were."""
    from sqlalchemy import func, select

    from server.feeds.models import ActivitySignal

    oldest = db.session.scalar(select(func.min(ActivitySignal.observed_on)))
    assert oldest < START - dt.timedelta(days=90), "the province should hold older activity signals"
    frames: dict[str, Any] = {}
    real = features._Builder.read

    def spy(builder: Any, name: str) -> Any:
        frames[name] = frame = real(builder, name)
        return frame

    monkeypatch.setattr(features._Builder, "read", spy)
    built = features.build_features(db.session, START)
    read = frames["activity_signals"]["observed_on"].astype(str)
    assert len(read) and read.min() >= (START - dt.timedelta(days=90)).isoformat()
    assert read.max() < START.isoformat()
    # the window's records still count: each entity's signals in the 90 days before START
    since = START - dt.timedelta(days=90)
    expected = dict(db.session.execute(
        select(ActivitySignal.entity_id, func.count()).where(ActivitySignal.observed_on >= since,
                                                             ActivitySignal.observed_on < START)
        .group_by(ActivitySignal.entity_id)).all())
    assert expected
    got = built.column("activity_signals_90d")
    for row, eid in enumerate(built.entity_ids.tolist()):
        assert got[row] == expected.get(eid, 0)


def test_a_record_table_is_located_once_for_all_its_features(file_app, monkeypatch):
    """43 complaint features count the same id column: its positions are searched once
    (pandas 3 returns a new ``Series`` on every ``frame[name]``, so the column is
    recognised by its buffer)."""
    sizes: list[int] = []
    real = features.locate

    def spy(sorted_ids: np.ndarray, ids: Any) -> Any:
        sizes.append(len(ids))
        return real(sorted_ids, ids)

    monkeypatch.setattr(features, "locate", spy)
    features.build_features(db.session, START)
    from sqlalchemy import func, select

    from server.feeds.models import Complaint

    window = START - dt.timedelta(days=450)
    complaints = db.session.scalar(select(func.count()).select_from(Complaint)
                                   .where(Complaint.received_on >= window, Complaint.received_on < START))
    assert complaints > 0
    assert sizes.count(complaints) == 1, sizes
    assert len(sizes) < 30, sizes
