"""Credit scoring of the whole province: indicators → scorecard → grade A/B/C/D with reasons.

Indicators are the credit-dimension columns of the feature frame (:mod:`server.risk.features`,
bulk). The scorecard is :class:`risk_models.credit.CreditModel`, trained on the inspection
outcomes recorded through the system (each joined to the snapshot taken before it);
until enough outcomes exist the published points table
(:class:`risk_models.credit_prior.PriorScorecard`) is used. Scores are written in bulk to
``credit_scores`` (grade history) and denormalised onto ``entities``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from risk_models.credit_prior import PriorScorecard
from risk_models.features import FEATURES
from server.audit.services import record
from server.credit.models import CreditScore
from server.entities.models import Entity
from server.inspections.models import InspectionResult
from server.risk.models import FeatureSnapshot, ModelVersion

CREDIT_DIMENSIONS = ("basic", "operation", "compliance", "supervision", "social")
#: Minimum recorded outcomes (and problems among them) before the scorecard is trained.
MIN_OUTCOMES, MIN_PROBLEMS = 300, 30


def credit_features() -> list[str]:
    try:
        from risk_models.credit import CREDIT_FEATURES

        return list(CREDIT_FEATURES)
    except ImportError:  # pragma: no cover - before the trained scorecard exists
        return [f.name for f in FEATURES if f.dimension in CREDIT_DIMENSIONS and f.kind == "num"]


def labelled_outcomes(session: Session, names: list[str], *, until: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Indicator rows of inspected entities (from the snapshot before each inspection) and outcomes."""
    from server.risk.features import load_snapshot

    rows = session.execute(select(InspectionResult.entity_id, InspectionResult.inspected_on,
                                  InspectionResult.problem_found)
                           .where(InspectionResult.inspected_on < until)).all()
    snaps = session.scalars(select(FeatureSnapshot.as_of).where(FeatureSnapshot.as_of < until)
                            .order_by(FeatureSnapshot.as_of)).all()
    if not rows or not snaps:
        return np.zeros((0, len(names))), np.zeros(0)
    snap_days = np.array(snaps, dtype="datetime64[D]")
    which = np.searchsorted(snap_days, np.array([r[1] for r in rows], dtype="datetime64[D]"), side="left") - 1
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    y = np.array([r[2] for r in rows], dtype=np.float64)
    X_parts, y_parts = [], []
    for s in np.unique(which[which >= 0]):
        sel = np.flatnonzero(which == s)
        frame = load_snapshot(session, snaps[int(s)])
        pos = np.searchsorted(frame.entity_ids, ids[sel])
        pos = np.clip(pos, 0, len(frame.entity_ids) - 1)
        ok = frame.entity_ids[pos] == ids[sel]
        X_parts.append(frame.matrix(names)[pos[ok]])
        y_parts.append(y[sel[ok]])
    if not X_parts:
        return np.zeros((0, len(names))), np.zeros(0)
    return np.concatenate(X_parts), np.concatenate(y_parts)


def train_credit(session: Session, *, until: dt.date, model_dir: str | Path, actor: str = "system") -> Any:
    """Fit the scorecard on recorded outcomes; return the model (``None`` if too few outcomes)."""
    try:
        from risk_models.credit import CreditModel
    except ImportError:  # pragma: no cover
        return None
    names = credit_features()
    X, y = labelled_outcomes(session, names, until=until)
    if len(y) < MIN_OUTCOMES or y.sum() < MIN_PROBLEMS:
        return None
    model = CreditModel().fit(X, y, feature_names=names)
    count = session.scalar(select(func.count()).select_from(ModelVersion).where(ModelVersion.name == "credit")) or 0
    tag = f"credit.{count + 1}"
    path = Path(model_dir) / "credit" / f"credit-{tag}"
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    session.execute(update(ModelVersion).where(ModelVersion.name == "credit").values(active=False))
    session.add(ModelVersion(name="credit", version=tag, trained_from=None, trained_to=until, n_samples=len(y),
                             n_positive=int(y.sum()), thresholds=[], metrics={}, path=str(path), active=True))
    record(session, actor, "credit.train", "model", "credit", version=tag, samples=len(y), positives=int(y.sum()))
    session.commit()
    return model


def active_model(session: Session) -> tuple[Any, str]:
    version = session.scalar(select(ModelVersion).where(ModelVersion.name == "credit", ModelVersion.active.is_(True)))
    if version is not None and version.path:
        try:
            from risk_models.credit import CreditModel

            return CreditModel.load(version.path), version.version
        except Exception:  # noqa: BLE001 - a missing or mismatched file falls back to the published table
            pass
    return PriorScorecard(credit_features()), PriorScorecard.version


def score_credit(session: Session, frame: Any, *, actor: str = "system", chunk: int = 50_000) -> dict[str, int]:
    """Score and grade every entity of ``frame``; store grade history; return grade counts."""
    model, version = active_model(session)
    names = credit_features()
    X = frame.matrix(names)
    serious = frame.column("on_serious_violation_list") > 0
    abnormal = frame.column("on_abnormal_list") > 0
    scores, grades, reasons = model.grade(X, serious_violation=serious, abnormal_list=abnormal)
    no_data = np.all(np.isnan(X) | (X == 0), axis=1) & (frame.column("age_years") < 0.5)
    grades = np.where(no_data & ~serious & ~abnormal, "B", grades)  # documented default for no data
    overrides = np.where(serious, "serious_violation", np.where(abnormal & (grades == "C"), "abnormal_list", ""))
    as_of = frame.as_of
    session.execute(delete(CreditScore).where(CreditScore.as_of == as_of))
    ids = frame.entity_ids
    for start in range(0, len(ids), chunk):
        stop = min(len(ids), start + chunk)
        session.execute(CreditScore.__table__.insert(), [
            {"entity_id": int(ids[i]), "as_of": as_of, "score": float(scores[i]), "grade": str(grades[i]),
             "override": overrides[i] or None,
             "reasons": reasons[i] if not no_data[i] else [{"code": "no_data", "label": "无足够数据，默认B级",
                                                            "points_lost": 0.0}],
             "model_version": version} for i in range(start, stop)])
        session.execute(update(Entity.__table__).where(Entity.__table__.c.id == bindparam("eid"))
                        .values(credit_score=bindparam("s"), credit_grade=bindparam("g"))
                        .execution_options(synchronize_session=False), [
            {"eid": int(ids[i]), "s": float(scores[i]), "g": str(grades[i])} for i in range(start, stop)])
    counts = {g: int((grades == g).sum()) for g in "ABCD"}
    record(session, actor, "credit.score", "credit", None, as_of=as_of.isoformat(), version=version, **counts)
    session.commit()
    return counts
