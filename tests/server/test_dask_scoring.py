"""Partitioned scoring: Dask (a LocalCluster) gives exactly the single-process scores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from server.extensions import db

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2026, 1, 5)


@pytest.fixture
def province(reference, tmp_path):
    """A small synthetic province with 15 months of records and cold-start models."""
    from risk_models.registry import MODEL_NAMES
    from server.risk.features import build_features
    from server.risk.services import train_model
    from server.simulation.loop import SimulationConfig
    from server.simulation.run import build_province

    build_province(
        db.session, SimulationConfig(entities=1200, seed=3, start=START), data_dir=ROOT / "data"
    )
    frame = build_features(db.session, START)
    for name in MODEL_NAMES:
        train_model(db.session, name, until=START, model_dir=tmp_path / "models", population=frame)
    return frame


@pytest.fixture
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _inputs(frame):
    from server.credit.services import active_model
    from server.risk.distributed import entity_columns
    from server.risk.services import load_models

    regions, btypes = entity_columns(db.session, frame.entity_ids)
    return regions, btypes, load_models(db.session), active_model(db.session)[0]


def test_dask_scores_equal_single_process_scores(province, client):
    from server.risk.distributed import score_province

    regions, btypes, models, credit = _inputs(province)
    assert len(models) == 15
    here = score_province(province, regions, btypes, models, credit)
    there = score_province(province, regions, btypes, models, credit, client=client)
    assert here.partitions == there.partitions
    assert len(here.partitions) > 1
    for name in models:
        np.testing.assert_allclose(there.run.wide[name], here.run.wide[name], rtol=0, atol=0)
        np.testing.assert_array_equal(there.run.per_model[name].rows, here.run.per_model[name].rows)
        np.testing.assert_array_equal(
            there.run.per_model[name].levels, here.run.per_model[name].levels
        )
    np.testing.assert_array_equal(there.run.max_level, here.run.max_level)
    np.testing.assert_array_equal(there.run.max_model, here.run.max_model)
    np.testing.assert_allclose(there.credit.scores, here.credit.scores, rtol=0, atol=0)
    np.testing.assert_array_equal(there.credit.grades, here.credit.grades)
    assert there.credit.reasons == here.credit.reasons


def test_a_partition_is_scored_as_its_own_province(province):
    """Each city's scores are what the library functions give on that city's rows alone."""
    from server.risk.distributed import city_partitions, score_province
    from server.risk.services import score_frame

    regions, btypes, models, credit = _inputs(province)
    merged = score_province(province, regions, btypes, models, credit)
    part = max(city_partitions(province, regions, btypes), key=lambda p: len(p.rows))
    alone = score_frame(part.frame, part.btypes, models)
    for name in models:
        np.testing.assert_allclose(
            merged.run.wide[name][part.rows], alone.wide[name], rtol=0, atol=0
        )


def test_score_and_store_writes_one_row_per_entity(province, client):
    from server.entities.models import Entity
    from server.risk.distributed import score_and_store
    from server.risk.models import risk_scores

    scores, grades = score_and_store(db.session, START, client=client)
    n = len(province.entity_ids)
    assert db.session.scalar(select(func.count()).select_from(risk_scores)) == n
    assert sum(grades.values()) == n
    stored = dict(db.session.execute(select(Entity.id, Entity.credit_grade)).all())
    assert [stored[int(e)] for e in province.entity_ids[:50]] == scores.credit.grades[:50].tolist()


def test_score_command_runs_on_a_local_cluster(province, app):
    from server.commands.score import score

    result = app.test_cli_runner().invoke(
        score,
        [
            "--as-of",
            START.isoformat(),
            "--dask",
            "local",
            "--workers",
            "1",
            "--no-snapshot",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"engine": "dask"' in result.output
