"""Scoring the province with the 15 warning models, issuing warnings, learning from feedback.

Arrays in, arrays out: the feature frame comes from :mod:`server.risk.features` (bulk
SQL + numpy), the models from :mod:`risk_models`, and scores go back in one wide row per
entity (``risk_scores``) with a bulk insert. Training joins each recorded inspection
result to the feature snapshot taken *before* the inspection, so a model only ever
learns what the system could have known at the time (no look-ahead), and only from
outcomes recorded through the system.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.orm import Session

from risk_models.base import LEVELS, RiskModel
from risk_models.persist import ModelMetadata, ModelVersionError, load, save
from risk_models.registry import get_model, get_model_class, list_models
from server.audit.services import record
from server.entities.models import Entity
from server.inspections.models import InspectionResult
from server.reference.models import LegalReference
from server.risk.models import ModelVersion, risk_scores
from server.warnings.models import Warning

__all__ = [
    "ScoreRun",
    "issue_from_scores",
    "load_models",
    "model_precision",
    "score_frame",
    "score_models",
    "store_scores",
    "train_model",
    "training_set",
]


@dataclass
class ModelScores:
    name: str
    version: str
    rows: np.ndarray  # positions in the frame
    scores: np.ndarray
    levels: np.ndarray  # int8, 0..3
    population: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # rows scored together


@dataclass
class ScoreRun:
    as_of: dt.date
    entity_ids: np.ndarray
    per_model: dict[str, ModelScores] = field(default_factory=dict)
    #: one column of scores per model (NaN where the model does not apply)
    wide: dict[str, np.ndarray] = field(default_factory=dict)
    max_level: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    max_model: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))


def _business_type_lookup(session: Session) -> Any:
    """``entity ids → business types``, from one read of the entities table."""
    from server.risk.features import locate, read_frame

    table = read_frame(session, select(Entity.id, Entity.business_type).order_by(Entity.id), ["id", "btype"])
    ids = table["id"].to_numpy(dtype=np.int64)
    types = table["btype"].to_numpy(dtype=object)
    return lambda entity_ids: types[locate(ids, entity_ids)[0]]


def _business_types(session: Session, entity_ids: np.ndarray) -> np.ndarray:
    return _business_type_lookup(session)(entity_ids)


def _population_rows(model: RiskModel, btypes: np.ndarray) -> np.ndarray:
    if model.business_types is None:
        return np.arange(len(btypes))
    return np.flatnonzero(np.isin(btypes, list(model.business_types)))


def _version_tag(model: RiskModel) -> str:
    return str(getattr(model, "version_tag_", None) or f"{type(model).version}.0")


def score_frame(frame: Any, btypes: np.ndarray, models: dict[str, RiskModel]) -> ScoreRun:
    """Score every row of ``frame`` with every model (arrays only: no database).

    ``btypes`` is each row's business type. Each model scores its whole business-type
    population at once: graph and peer models compute their context over the rows
    passed; non-applicable rows get no score (NaN in :attr:`ScoreRun.wide`).
    """
    n = len(frame.entity_ids)
    run = ScoreRun(as_of=frame.as_of, entity_ids=frame.entity_ids,
                   max_level=np.zeros(n, dtype=np.int8), max_model=np.full(n, None, dtype=object))
    for name, model in models.items():
        population = _population_rows(model, btypes)
        X = frame.matrix(list(model.features))[population]
        scores_all = model.score_samples(X)
        applicable = model.applicable(X)
        rows = population[applicable]
        scores = scores_all[applicable]
        levels = model.warning_levels(scores)
        col = np.full(n, np.nan)
        col[rows] = scores
        run.wide[name] = col
        better = levels > run.max_level[rows]
        run.max_level[rows[better]] = levels[better]
        run.max_model[rows[better]] = name
        run.per_model[name] = ModelScores(name, _version_tag(model), rows, scores, levels, population)
    return run


def store_scores(session: Session, run: ScoreRun) -> None:
    """Replace the stored scores of ``run.as_of`` with one wide row per entity (bulk, one
    transaction: column-wise through ADBC on a SQLite file, ``COPY`` on PostgreSQL).
    """
    from server.arrow_writes import arrow_transaction
    from server.risk.features import bulk_insert

    replace = delete(risk_scores).where(risk_scores.c.as_of == run.as_of)
    columns: dict[str, Any] = {"entity_id": run.entity_ids, "as_of": run.as_of}
    columns.update({f"s_{name}": col for name, col in run.wide.items()})
    columns["max_level"], columns["max_model"] = run.max_level, run.max_model
    with arrow_transaction(session) as writer:
        if writer is not None:
            writer.execute(replace)
            writer.insert(risk_scores, columns, len(run.entity_ids))
    if writer is None:
        session.execute(replace)
        bulk_insert(session, risk_scores, columns, len(run.entity_ids))
        session.commit()


def score_models(
    session: Session,
    frame: Any,
    models: dict[str, RiskModel],
    *,
    store: bool = True,
) -> ScoreRun:
    """Score every entity with every model and store one wide row per entity.

    Rows are stored in one bulk statement (COPY on PostgreSQL).
    """
    run = score_frame(frame, _business_types(session, frame.entity_ids), models)
    if store:
        store_scores(session, run)
    return run


def _legal_basis(session: Session, model: RiskModel, explanation: Any) -> list[list[dict[str, Any]]]:
    """Per warned row: the article its reasons cite first, then the model's other articles."""
    refs = {
        (r.law_id, r.article): r
        for r in session.scalars(select(LegalReference).where(
            LegalReference.law_id.in_({law for law, _ in model.legal_basis} | set(getattr(model, "rule_articles", {}) and
                                       {law for law, _ in model.rule_articles.values()}))))
    }

    def entry(law: str, article: int) -> dict[str, Any]:
        ref = refs.get((law, article))
        return {"law": law, "article": int(article), "label": ref.label if ref else f"第{article}条",
                "text": ref.text if ref else None}

    laws, articles = model.cited_articles(explanation.codes)
    out = []
    for law, article in zip(laws, articles, strict=True):
        row = [entry(str(law), int(article))] if law else []
        row += [entry(lw, art) for lw, art in model.legal_basis if (lw, art) != (law, int(article))]
        out.append(row)
    return out


def reason_dicts(model: RiskModel, explanation: Any) -> list[list[dict[str, Any]]]:
    """Turn an :class:`~risk_models.base.Explanation` into Chinese reason dicts."""
    from risk_models.models import reason_label

    details = explanation.details
    out = []
    for i in range(len(explanation.codes)):
        reasons = []
        for j, code in enumerate(explanation.codes[i]):
            if not code:
                continue
            value = float(explanation.values[i, j])
            reasons.append({
                "code": str(code),
                "label": reason_label(model, str(code)),
                "detail": (str(details[i, j]) or None) if details is not None else None,
                "value": None if np.isnan(value) else round(value, 4),
                "contribution": round(float(explanation.contributions[i, j]), 4),
            })
        out.append(reasons)
    return out


def issue_from_scores(
    session: Session,
    frame: Any,
    run: ScoreRun,
    models: dict[str, RiskModel],
    *,
    today: dt.date,
    calendar: Any,
    sla: dict[str, int],
    max_per_model: int | None = None,
) -> dict[str, dict[str, int]]:
    """Issue a warning for every entity at level yellow or above (with reasons and legal basis)."""
    from server.warnings.services import IssueBatch, issue_warnings

    out = {}
    for name, ms in run.per_model.items():
        warned = np.flatnonzero(ms.levels > 0)
        if max_per_model is not None and len(warned) > max_per_model:
            warned = warned[np.argsort(-ms.scores[warned], kind="stable")[:max_per_model]]
        if len(warned) == 0:
            out[name] = {"issued": 0, "merged": 0}
            continue
        model = models[name]
        rows = ms.rows[warned]
        X = frame.matrix(list(model.features))[ms.population]
        in_population = np.searchsorted(ms.population, rows)
        explanation = model.explain(X, top=3, rows=in_population)
        batch = IssueBatch(
            model=name,
            model_version=ms.version,
            entity_ids=frame.entity_ids[rows],
            scores=ms.scores[warned],
            levels=[LEVELS[int(v)] for v in ms.levels[warned]],
            reasons=reason_dicts(model, explanation),
            legal_basis=_legal_basis(session, model, explanation),
        )
        out[name] = issue_warnings(session, batch, today=today, calendar=calendar, sla=sla)
    session.commit()
    return out


def training_set(
    session: Session, name: str, *, until: dt.date
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Snapshots stacked with the outcomes recorded after each of them.

    For every feature snapshot taken before ``until`` that is followed by inspections
    which checked the model's domain, the whole snapshot (the model's business types)
    is stacked with label 1/0 for entities inspected before the next snapshot and NaN
    for the rest, so graph and peer features keep their context; ``groups`` tells the
    snapshots apart. Every label comes from a recorded result; every feature row was
    computed before that inspection (no look-ahead).
    """
    from server.risk.features import load_snapshot, locate, snapshot_before

    model_cls = get_model_class(name)
    rows = session.execute(
        select(InspectionResult.entity_id, InspectionResult.inspected_on, InspectionResult.problem_domains,
               InspectionResult.checked_domains)
        .where(InspectionResult.inspected_on < until)
        .order_by(InspectionResult.inspected_on, InspectionResult.id)
    ).all()
    rows = [r for r in rows if name in (r[3] or [])]
    n_features = len(model_cls.features)
    empty = (np.zeros((0, n_features)), np.zeros(0), np.zeros(0, dtype=np.int64), {"n": 0, "from": None, "to": None})
    if not rows:
        return empty
    inspected = np.array([r[1] for r in rows], dtype="datetime64[D]")
    snapshots, which = snapshot_before(session, inspected, until=until)
    if not snapshots:
        return empty
    entity_ids = np.array([r[0] for r in rows], dtype=np.int64)
    labels = np.array([name in (r[2] or []) for r in rows], dtype=np.float64)
    btype_of = _business_type_lookup(session)  # business types do not change: read them once
    X_parts, y_parts, g_parts = [], [], []
    for s in np.unique(which[which >= 0]):
        sel = np.flatnonzero(which == s)
        frame = load_snapshot(session, snapshots[int(s)])
        population = _population_rows(model_cls, btype_of(frame.entity_ids))
        y = np.full(len(frame.entity_ids), np.nan)
        pos, ok = locate(frame.entity_ids, entity_ids[sel])
        # An entity inspected twice in the period counts as a problem if either found one.
        y[pos[ok]] = 0.0
        np.maximum.at(y, pos[ok], labels[sel[ok]])
        X_parts.append(frame.matrix(list(model_cls.features))[population])
        y_parts.append(y[population])
        g_parts.append(np.full(len(population), int(s), dtype=np.int64))
    if not X_parts:
        return empty
    X, y, groups = np.concatenate(X_parts), np.concatenate(y_parts), np.concatenate(g_parts)
    labelled = ~np.isnan(y)
    meta = {"n": int(labelled.sum()), "from": str(inspected[which >= 0].min()), "to": str(inspected[which >= 0].max())}
    return X, y, groups, meta


def train_model(
    session: Session,
    name: str,
    *,
    until: dt.date,
    model_dir: str | Path,
    population: Any = None,
    actor: str = "system",
    params: dict[str, Any] | None = None,
) -> ModelVersion:
    """Fit ``name`` on outcomes recorded before ``until``; save it and make it the active version."""
    X, y, groups, meta = training_set(session, name, until=until)
    model = get_model(name, **(params or {}))
    fit_kwargs: dict[str, Any] = {"groups": groups}
    if population is not None:
        btypes = _business_types(session, population.entity_ids)
        fit_kwargs["population"] = population.matrix(list(model.features))[_population_rows(model, btypes)]
        if len(y) == 0:  # cold start: no recorded outcome yet, the population sets volumes and context
            X = fit_kwargs["population"]
            y = np.full(len(X), np.nan)
            fit_kwargs["groups"] = np.zeros(len(X), dtype=np.int64)
    model.fit(X, y, **fit_kwargs)
    labelled = ~np.isnan(y)
    count = session.scalar(select(func.count()).select_from(ModelVersion).where(ModelVersion.name == name)) or 0
    tag = f"{type(model).version}.{count + 1}"
    model.version_tag_ = tag
    stem = Path(model_dir) / name / f"{name}-{tag}"
    save(model, stem, ModelMetadata(
        name=name, version=type(model).version, features=list(model.features),
        trained_from=meta["from"], trained_to=meta["to"], n_samples=int(labelled.sum()), n_positive=int(np.nansum(y)),
        extra={"tag": tag, "mode": getattr(model, "mode_", None)},
    ))
    session.execute(ModelVersion.__table__.update().where(ModelVersion.name == name).values(active=False))
    version = ModelVersion(
        name=name, version=tag, trained_from=dt.date.fromisoformat(meta["from"]) if meta["from"] else None,
        trained_to=dt.date.fromisoformat(meta["to"]) if meta["to"] else None, n_samples=int(labelled.sum()),
        n_positive=int(np.nansum(y)), thresholds=[float(t) for t in model.thresholds_],
        metrics={"cold_start": bool(getattr(model, "cold_start_", False)), "mode": getattr(model, "mode_", None),
                 "cv_auc": getattr(model, "cv_auc_", None)},
        path=str(stem), active=True,
    )
    session.add(version)
    session.flush()
    record(session, actor, "model.train", "model", name, version=tag, samples=int(labelled.sum()),
           positives=int(np.nansum(y)))
    session.commit()
    return version


def load_models(session: Session, names: Iterable[str] | None = None) -> dict[str, RiskModel]:
    """The active fitted version of each model (refusing files that don't match the code)."""
    out: dict[str, RiskModel] = {}
    for name in names or list_models():
        version = session.scalar(select(ModelVersion).where(ModelVersion.name == name, ModelVersion.active.is_(True)))
        if version is None or not version.path:
            continue
        cls = get_model_class(name)
        try:
            model, _meta = load(version.path, name=name, version=cls.version, features=list(cls.features))
        except (ModelVersionError, FileNotFoundError):
            continue
        out[name] = model
    return out


def model_precision(session: Session, *, by_version: bool = False) -> list[dict[str, Any]]:
    """Precision of each model (and version): problems found ÷ warnings inspected."""
    cols = [Warning.model] + ([Warning.model_version] if by_version else [])
    inspected = func.sum(case((Warning.outcome.in_(("problem_confirmed", "no_problem")), 1), else_=0))
    problems = func.sum(case((Warning.outcome == "problem_confirmed", 1), else_=0))
    rows = session.execute(
        select(*cols, func.count().label("warnings"), inspected.label("inspected"), problems.label("problems"))
        .where(and_(Warning.state != "merged"))
        .group_by(*cols)
        .order_by(*cols)
    ).all()
    out = []
    for row in rows:
        d = row._asdict()
        d["inspected"] = int(d["inspected"] or 0)
        d["problems"] = int(d["problems"] or 0)
        d["precision"] = d["problems"] / d["inspected"] if d["inspected"] else None
        out.append(d)
    return out

