"""Scoring the province partition by partition: in one process, or on a Dask cluster.

A partition is a city (the first four digits of the entity's region code). Every
partition is scored by the same library functions, :func:`server.risk.services.score_frame`
(the 15 warning models) and :func:`server.credit.services.grade_frame` (the credit
scorecard), on the partition's rows only. Graph and peer models compute their context
(shared addresses, peer groups, regional price medians) over the rows they are given,
so the context is the city: a result that is well-defined whatever runs it. The
single-process path (``client=None``) walks the same partitions in the same order, so
Dask and single-process scores agree exactly.

The driver reads the features in bulk (:func:`server.risk.features.build_features`),
ships each partition's arrays to a worker (``client.scatter``), gathers the arrays back
and stores them in bulk. Workers need no database connection, only this package.

Run ``shuangsui score --dask local`` (a :class:`~distributed.LocalCluster`) or
``shuangsui score --dask tcp://scheduler:8786``; see ``docs/performance.md``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from risk_models.base import RiskModel
from server.credit.services import CreditGrades, grade_frame
from server.risk.features import FeatureFrame
from server.risk.services import ModelScores, ScoreRun, score_frame

__all__ = [
    "Partition",
    "ProvinceScores",
    "city_partitions",
    "entity_columns",
    "score_and_store",
    "score_partition",
    "score_province",
    "store_province",
]


@dataclass
class Partition:
    """The rows of one city: positions in the province frame, their features and business types."""

    key: str
    rows: np.ndarray
    frame: FeatureFrame
    btypes: np.ndarray


@dataclass
class ProvinceScores:
    """Warning-model and credit scores of the whole province, merged back in frame order."""

    run: ScoreRun
    credit: CreditGrades
    partitions: dict[str, int] = field(default_factory=dict)  # city -> entities


def _take(frame: FeatureFrame, rows: np.ndarray) -> FeatureFrame:
    return FeatureFrame(
        frame.entity_ids[rows],
        frame.numeric[rows],
        {k: v[rows] for k, v in frame.text.items()},
        frame.as_of,
    )


def city_partitions(
    frame: FeatureFrame, regions: np.ndarray, btypes: np.ndarray
) -> list[Partition]:
    """Split ``frame`` by city (``region_code[:4]``), cities in code order, rows in frame order."""
    cities = np.array([str(r)[:4] for r in regions], dtype=object)
    out = []
    for key in sorted(set(cities.tolist())):
        rows = np.flatnonzero(cities == key)
        out.append(Partition(key, rows, _take(frame, rows), btypes[rows]))
    return out


def score_partition(
    frame: FeatureFrame, btypes: np.ndarray, models: dict[str, RiskModel], credit_model: Any
) -> tuple[ScoreRun, CreditGrades]:
    """Score one partition with the warning models and the credit scorecard (arrays only)."""
    return score_frame(frame, btypes, models), grade_frame(credit_model, frame)


def _merge(
    frame: FeatureFrame,
    parts: list[Partition],
    results: list[tuple[ScoreRun, CreditGrades]],
    models: dict[str, RiskModel],
) -> ProvinceScores:
    n = len(frame.entity_ids)
    run = ScoreRun(
        as_of=frame.as_of,
        entity_ids=frame.entity_ids,
        max_level=np.zeros(n, dtype=np.int8),
        max_model=np.full(n, None, dtype=object),
    )
    scores, grades = np.zeros(n), np.full(n, "", dtype=object)
    overrides, no_data = np.full(n, "", dtype=object), np.zeros(n, dtype=bool)
    reasons: list[Any] = [None] * n
    for name in models:
        run.wide[name] = np.full(n, np.nan)
    pieces: dict[str, list[tuple[np.ndarray, ModelScores]]] = {name: [] for name in models}
    for part, (prun, credit) in zip(parts, results, strict=True):
        rows = part.rows
        for name, col in prun.wide.items():
            run.wide[name][rows] = col
        run.max_level[rows] = prun.max_level
        run.max_model[rows] = prun.max_model
        for name, ms in prun.per_model.items():
            pieces[name].append((rows, ms))
        scores[rows], grades[rows] = credit.scores, credit.grades
        overrides[rows], no_data[rows] = credit.overrides, credit.no_data
        for i, r in zip(rows.tolist(), credit.reasons, strict=True):
            reasons[i] = r
    for name, plist in pieces.items():
        if not plist:
            continue
        ms0 = plist[0][1]
        rows = np.concatenate([part_rows[ms.rows] for part_rows, ms in plist])
        population = np.concatenate([part_rows[ms.population] for part_rows, ms in plist])
        order = np.argsort(rows, kind="stable")
        run.per_model[name] = ModelScores(
            name,
            ms0.version,
            rows[order],
            np.concatenate([ms.scores for _, ms in plist])[order],
            np.concatenate([ms.levels for _, ms in plist])[order],
            np.sort(population),
        )
    credit = CreditGrades(scores, grades.astype(str), reasons, overrides.astype(str), no_data)
    return ProvinceScores(run, credit, {p.key: len(p.rows) for p in parts})


def score_province(
    frame: FeatureFrame,
    regions: np.ndarray,
    btypes: np.ndarray,
    models: dict[str, RiskModel],
    credit_model: Any,
    *,
    client: Any = None,
) -> ProvinceScores:
    """Score every city partition, on ``client`` (a ``distributed.Client``) or in this process.

    Parameters
    ----------
    frame : FeatureFrame
        Features of the province (rows sorted by entity id).
    regions, btypes : ndarray of str
        Region code and business type of each row of ``frame``.
    models : dict of str to RiskModel
        Fitted warning models.
    credit_model : object
        The credit scorecard (``grade(X, serious_violation=, abnormal_list=)``).
    client : distributed.Client, optional
        Runs one task per partition on the cluster; ``None`` runs them here, in the same order.

    Returns
    -------
    ProvinceScores
        Scores in frame order; store them with :func:`store_province`.
    """
    parts = city_partitions(frame, regions, btypes)
    if client is None:
        results = [score_partition(p.frame, p.btypes, models, credit_model) for p in parts]
    else:
        [models_f, credit_f] = client.scatter([models, credit_model], broadcast=True)
        data = client.scatter([(p.frame, p.btypes) for p in parts])
        futures = [client.submit(_score_scattered, d, models_f, credit_f) for d in data]
        results = client.gather(futures)
    return _merge(frame, parts, results, models)


def _score_scattered(
    data: tuple[FeatureFrame, np.ndarray], models: dict[str, RiskModel], credit_model: Any
) -> tuple[ScoreRun, CreditGrades]:
    return score_partition(data[0], data[1], models, credit_model)


def entity_columns(session: Any, entity_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Region code and business type of each of ``entity_ids`` (sorted), read in bulk."""
    from sqlalchemy import select

    from server.entities.models import Entity
    from server.risk.features import locate, read_frame

    table = read_frame(
        session,
        select(Entity.id, Entity.region_code, Entity.business_type).order_by(Entity.id),
        ["id", "region", "btype"],
    )
    pos, _ = locate(table["id"].to_numpy(dtype=np.int64), entity_ids)
    return table["region"].to_numpy(dtype=object)[pos], table["btype"].to_numpy(dtype=object)[pos]


def store_province(
    session: Any, scores: ProvinceScores, credit_version: str, *, actor: str = "system"
) -> dict[str, int]:
    """Store the warning-model scores and the credit grades (bulk); return grade counts."""
    from server.credit.services import store_credit
    from server.risk.services import store_scores

    store_scores(session, scores.run)
    return store_credit(
        session, scores.run.entity_ids, scores.run.as_of, scores.credit, credit_version, actor=actor
    )


def score_and_store(
    session: Any,
    as_of: dt.date,
    *,
    client: Any = None,
    actor: str = "system",
    frame: FeatureFrame | None = None,
) -> tuple[ProvinceScores, dict[str, int]]:
    """Features from the database → partitioned scoring → stored scores (``shuangsui score``)."""
    from server.credit.services import active_model
    from server.risk.features import build_features
    from server.risk.services import load_models

    frame = build_features(session, as_of) if frame is None else frame
    models = load_models(session)
    credit_model, version = active_model(session)
    regions, btypes = entity_columns(session, frame.entity_ids)
    scores = score_province(frame, regions, btypes, models, credit_model, client=client)
    return scores, store_province(session, scores, version, actor=actor)
