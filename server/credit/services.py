"""Credit scoring of the whole province: indicators → scorecard → grade A/B/C/D with reasons.

Indicators are the credit-dimension columns of the feature frame (:mod:`server.risk.features`,
bulk). The scorecard is :class:`risk_models.credit.CreditModel`, trained on the inspection
outcomes recorded through the system (each joined to the snapshot taken before it) and
shrunk toward the published points table (:class:`risk_models.credit_prior.PriorScorecard`):
with few outcomes it stays close to the table, so it is trained as soon as both outcomes
(a problem found, none found) are recorded; before that the table itself grades. Scores are written in bulk to
``credit_scores`` (grade history) and denormalised onto ``entities``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from risk_models.credit import CREDIT_FEATURES, CreditModel
from risk_models.credit_prior import PriorScorecard
from risk_models.persist import ModelVersionError
from server import sqlite_gate
from server.audit.services import record
from server.credit.models import CreditScore
from server.entities.models import Entity
from server.inspections.models import InspectionResult
from server.risk.models import FeatureSnapshot, ModelVersion
from server.tasks import feed

log = logging.getLogger(__name__)
#: Minimum recorded outcomes (and problems among them) before the scorecard is trained. The
#: trained card is blended with the published table (a prior that fades as outcomes
#: accumulate), so no count is needed for stability: only both outcomes, to learn anything.
MIN_OUTCOMES, MIN_PROBLEMS = 2, 1


def credit_features() -> list[str]:
    """The credit indicators: the five dimensions' numeric features of the catalogue."""
    return list(CREDIT_FEATURES)


def labelled_outcomes(session: Session, names: list[str], *, until: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Indicator rows of inspected entities (from the snapshot before each inspection) and outcomes."""
    from server.risk.features import load_snapshot, locate, snapshot_before

    rows = session.execute(select(InspectionResult.entity_id, InspectionResult.inspected_on,
                                  InspectionResult.problem_found)
                           .where(InspectionResult.inspected_on < until)).all()
    snaps, which = snapshot_before(session, [r[1] for r in rows], until=until)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    y = np.array([r[2] for r in rows], dtype=np.float64)
    X_parts, y_parts = [], []
    for s in np.unique(which[which >= 0]):
        sel = np.flatnonzero(which == s)
        frame = load_snapshot(session, snaps[int(s)])
        pos, ok = locate(frame.entity_ids, ids[sel])
        X_parts.append(frame.matrix(names)[pos[ok]])
        y_parts.append(y[sel[ok]])
    if not X_parts:
        return np.zeros((0, len(names))), np.zeros(0)
    return np.concatenate(X_parts), np.concatenate(y_parts)


def train_credit(session: Session, *, until: dt.date, model_dir: str | Path, actor: str = "system") -> Any:
    """Fit the scorecard on recorded outcomes; return the model (``None`` if too few outcomes)."""
    names = credit_features()
    X, y = labelled_outcomes(session, names, until=until)
    if len(y) < MIN_OUTCOMES or y.sum() < MIN_PROBLEMS or y.sum() == len(y):
        return None
    from server.risk.features import load_snapshot

    latest = session.scalar(select(FeatureSnapshot.as_of).where(FeatureSnapshot.as_of <= until)
                            .order_by(FeatureSnapshot.as_of.desc()).limit(1))
    population = load_snapshot(session, latest).matrix(names) if latest else None
    first = session.scalar(select(func.min(InspectionResult.inspected_on)))
    model = CreditModel().fit(X, y, feature_names=names, population=population,
                              trained_from=first.isoformat() if first else None, trained_to=until.isoformat())
    count = session.scalar(select(func.count()).select_from(ModelVersion).where(ModelVersion.name == "credit")) or 0
    tag = f"credit.{count + 1}"
    # one file per version (a dot in the stem would be taken for a suffix: every version
    # overwrote "credit-credit.joblib", and an older version row pointed at a newer card)
    path = Path(model_dir) / "credit" / f"credit-v{count + 1}"
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    session.execute(update(ModelVersion).where(ModelVersion.name == "credit").values(active=False))
    session.add(ModelVersion(name="credit", version=tag, trained_from=first, trained_to=until, n_samples=len(y),
                             n_positive=int(y.sum()), thresholds=[], metrics={}, path=str(path), active=True))
    record(session, actor, "credit.train", "model", "credit", version=tag, samples=len(y), positives=int(y.sum()))
    session.commit()
    return model


def _active_version(session: Session) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.name == "credit", ModelVersion.active.is_(True)))


def active_model(session: Session, version: ModelVersion | None = None) -> tuple[Any, str]:
    """The credit model to grade with, and its version (``version``: the active row, if read already)."""
    version = version if version is not None else _active_version(session)
    if version is not None and version.path:
        try:
            return CreditModel.load(version.path, feature_names=credit_features()), version.version
        except (ModelVersionError, FileNotFoundError) as exc:
            # refused (another code version or indicator list): say so, keep grading with the table
            log.warning("credit model %s refused: %s; grading with the published points table", version.version, exc)
    return PriorScorecard(credit_features()), PriorScorecard.version


def scorecard_rows(model: Any) -> list[dict[str, Any]]:
    """The points table of ``model``: a trained card's bins (with segments), or the
    published points table the cold start grades with.
    """
    if hasattr(model, "table"):
        return list(model.table())
    from risk_models.credit_prior import BASE_POINTS, LABELS, POINTS

    rows: list[dict[str, Any]] = [{"feature": "base", "label": "基础分", "bin": "", "points": BASE_POINTS, "cap": None,
                                   "direction": ""}]
    rows += [{"feature": k, "label": LABELS.get(k, k), "bin": "每次/每项", "points": -per, "cap": -cap,
              "direction": "不利"}
             for k, (per, cap) in POINTS.items()]
    return rows


def scorecard_summary(session: Session) -> dict[str, Any]:
    """The credit model in use, as a supervisor reads it: version, training data, grade
    cut-offs, segments and the points table.
    """
    row = _active_version(session)
    model, version = active_model(session, row)
    trained = hasattr(model, "table")
    meta = row if trained else None  # a refused file grades with the table: its row says nothing
    return {
        "version": version,
        "trained": trained,
        **{key: getattr(meta, key, None) for key in ("trained_from", "trained_to", "n_samples", "n_positive")},
        "cutoffs": [float(c) for c in model.cutoffs_] if trained else None,
        "segments": model.segment_labels() if trained else ["全部"],
        "rows": scorecard_rows(model),
    }


@dataclass
class CreditGrades:
    """Credit scores of a frame's rows (arrays only), ready to be stored."""

    scores: np.ndarray
    grades: np.ndarray
    reasons: list[Any]
    overrides: np.ndarray
    no_data: np.ndarray


def grade_frame(model: Any, frame: Any) -> CreditGrades:
    """Score and grade every row of ``frame`` with ``model`` (no database: runs on any worker)."""
    names = credit_features()
    X = frame.matrix(names)
    serious = frame.column("on_serious_violation_list") > 0
    abnormal = frame.column("on_abnormal_list") > 0
    scores, grades, reasons = model.grade(X, serious_violation=serious, abnormal_list=abnormal)
    scores = np.asarray(scores, dtype=np.float64)
    if np.isnan(scores).any():  # no data at all: default grade B, the median score
        scores = np.where(np.isnan(scores), float(np.nanmedian(scores)) if (~np.isnan(scores)).any() else 500.0,
                          scores)
    no_data = np.all(np.isnan(X) | (X == 0), axis=1) & (frame.column("age_years") < 0.5)
    grades = np.where(no_data & ~serious & ~abnormal, "B", grades)  # documented default for no data
    overrides = np.where(serious, "serious_violation", np.where(abnormal & (grades == "C"), "abnormal_list", ""))
    return CreditGrades(scores, np.asarray(grades), list(reasons), overrides, no_data)


NO_DATA_REASONS = [{"code": "no_data", "label": "无足够数据，默认B级", "points_lost": 0.0}]


def store_credit(session: Session, entity_ids: np.ndarray, as_of: dt.date, result: CreditGrades, version: str,
                 *, actor: str = "system") -> dict[str, int]:
    """Store grade history and the entities' current grade in bulk; return grade counts.

    On a SQLite file the history rows and the grades are written column-wise through
    ADBC, in one transaction (:mod:`server.arrow_writes`); the log's compaction and the
    audit event follow in the session's. Elsewhere everything is one session transaction.
    """
    from server.arrow_writes import arrow_transaction
    from server.risk.features import bulk_insert

    scores, grades = result.scores, result.grades
    replace = delete(CreditScore).where(CreditScore.as_of == as_of)
    n = len(entity_ids)
    grades = grades.astype(str)
    history = {
        "entity_id": entity_ids, "as_of": as_of, "score": scores, "grade": grades,
        "override": np.where(result.overrides == "", None, result.overrides),
        "reasons": [NO_DATA_REASONS if nd else r for r, nd in zip(result.reasons, result.no_data.tolist(),
                                                                   strict=True)],
        "model_version": version,
    }
    with arrow_transaction(session) as writer:
        if writer is not None:
            writer.execute(replace)
            writer.insert(CreditScore.__table__, history, n)
            writer.temporary("credit_now", {"id": entity_ids.astype(np.int64), "s": scores.astype(np.float64),
                                            "g": grades})
            writer.execute("UPDATE entities SET credit_score = c.s, credit_grade = c.g "
                           "FROM temp.credit_now AS c WHERE entities.id = c.id")
            writer.execute("DROP TABLE temp.credit_now")
    if writer is None:
        session.execute(replace)
        bulk_insert(session, CreditScore.__table__, history, n)
        _update_entities(session, entity_ids, scores.tolist(), grades.tolist())
    feed.compact(session)  # the grades just written are the task lists' largest change
    counts = {g: int((grades == g).sum()) for g in "ABCD"}
    record(session, actor, "credit.score", "credit", None, as_of=as_of.isoformat(), version=version, **counts)
    session.commit()
    return counts


def _update_entities(session: Session, entity_ids: np.ndarray, scores: list[float], grades: list[str]) -> None:
    """Denormalise the current grade onto ``entities`` (PostgreSQL: COPY to a temp table + one UPDATE)."""
    conn = session.connection()
    table = Entity.__table__
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()
        with cursor:
            cursor.execute("CREATE TEMP TABLE IF NOT EXISTS credit_now (id integer, s double precision, g text) "
                           "ON COMMIT DELETE ROWS")
            cursor.execute("DELETE FROM credit_now")
            with cursor.copy("COPY credit_now (id, s, g) FROM STDIN") as copy:
                for row in zip(entity_ids.tolist(), scores, grades, strict=True):
                    copy.write_row(row)
            cursor.execute("UPDATE entities SET credit_score = c.s, credit_grade = c.g FROM credit_now c "
                           "WHERE entities.id = c.id")
        return
    if conn.dialect.name == "sqlite":
        sqlite_gate.enter(conn)  # a raw cursor: SQLAlchemy's hooks do not see it
        conn.connection.dbapi_connection.cursor().executemany(
            "UPDATE entities SET credit_score = ?, credit_grade = ? WHERE id = ?",
            zip(scores, grades, entity_ids.tolist(), strict=True))
        return
    session.execute(update(table).where(table.c.id == bindparam("eid"))  # pragma: no cover - other databases
                    .values(credit_score=bindparam("s"), credit_grade=bindparam("g"))
                    .execution_options(synchronize_session=False),
                    [{"eid": e, "s": s_, "g": g} for e, s_, g in zip(entity_ids.tolist(), scores, grades,
                                                                      strict=True)])


def score_credit(session: Session, frame: Any, *, actor: str = "system") -> dict[str, int]:
    """Score and grade every entity of ``frame``; store grade history; return grade counts.

    Rows are stored in one bulk statement (COPY on PostgreSQL).
    """
    model, version = active_model(session)
    return store_credit(session, frame.entity_ids, frame.as_of, grade_frame(model, frame), version, actor=actor)
