from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from server.credit.models import CreditScore
from server.credit.services import score_credit
from server.entities.models import Entity
from server.extensions import db
from server.feeds.models import ListEntry
from server.risk.features import build_features
from server.simulation.loop import SimulationConfig
from server.simulation.run import build_province

TODAY = dt.date(2026, 3, 2)


@pytest.fixture
def graded(reference, app):
    build_province(db.session, SimulationConfig(entities=600, seed=4, start=TODAY), data_dir=Path(__file__).resolve().parents[2] / "data")
    victim = db.session.scalar(select(Entity.id).order_by(Entity.id).limit(1))
    db.session.add(ListEntry(entity_id=victim, list_kind="serious_violation", listed_on=TODAY - dt.timedelta(days=9),
                             reason="测试"))
    db.session.commit()
    frame = build_features(db.session, TODAY)
    counts = score_credit(db.session, frame)
    return victim, counts


def test_every_entity_is_graded_with_history_and_reasons(graded):
    victim, counts = graded
    assert sum(counts.values()) == 600
    shares = np.array([counts[g] for g in "ABCD"]) / 600
    assert shares[0] > 0.1 and shares[1] > shares[3]  # most are A/B, few D
    rows = db.session.scalars(select(CreditScore)).all()
    assert len(rows) == 600 and all(0 <= r.score <= 1000 for r in rows)
    entity = db.session.get(Entity, victim)
    assert entity.credit_grade == "D"
    score = db.session.scalar(select(CreditScore).where(CreditScore.entity_id == victim))
    assert score.override == "serious_violation"
    assert "严重违法失信" in score.reasons[0]["label"]


def test_credit_is_in_the_entity_profile_and_the_scorecard_is_exportable(graded, client, auth, users):
    victim, _ = graded
    uscc = db.session.get(Entity, victim).uscc
    profile = client.get(f"/api/v1/entities/{uscc}", headers=auth.headers("supervisor")).get_json()
    assert profile["credit"]["grade"] == "D" and profile["credit"]["reasons"]
    table = client.get("/api/v1/credit/scorecard", headers=auth.headers("analyst")).get_json()
    assert table["rows"] and table["version"]
    csv_text = client.get("/api/v1/credit/scorecard?format=csv", headers=auth.headers("analyst")).get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("feature")
    assert client.get("/api/v1/credit/scorecard", headers=auth.headers("inspector")).status_code == 403
