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


def _activate_trained_card(tmp_path: Path) -> object:
    """A CreditModel fitted on arrays (an interaction the one card cannot segment) and
    registered as the active credit model."""
    from risk_models.credit import CREDIT_FEATURE_NAMES, CreditModel
    from server.risk.models import ModelVersion

    rng = np.random.default_rng(3)
    n = 3000
    X = rng.poisson(0.6, size=(n, len(CREDIT_FEATURE_NAMES))).astype(float)
    j = CREDIT_FEATURE_NAMES.index("penalties_3y")
    k = CREDIT_FEATURE_NAMES.index("complaints_365d")
    # an interaction an additive card cannot express: penalties raise the risk of entities
    # with complaints and lower it for the others
    logit = np.where(X[:, k] > 0, -1.0 + 1.5 * X[:, j], -3.0 - 1.0 * X[:, j])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = CreditModel().fit(X, y, feature_names=CREDIT_FEATURE_NAMES, trained_from="2025-01-01",
                              trained_to="2025-12-31")
    path = tmp_path / "credit-test"
    model.save(path)
    db.session.add(ModelVersion(name="credit", version="credit.9", trained_from=dt.date(2025, 1, 1),
                                trained_to=dt.date(2025, 12, 31), n_samples=n, n_positive=int(y.sum()),
                                thresholds=[], metrics={}, path=str(path), active=True))
    db.session.commit()
    return model


def test_console_scorecard_page_cold_start_and_trained(graded, client, users, tmp_path):
    from markupsafe import escape
    from test_console_seed import login

    from risk_models.credit_prior import POINTS

    login(client, "supervisor")
    page = client.get("/analytics/credit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "公布的扣分表" in html and "prior-1" in html
    assert all(f">{name}<" in html for name in POINTS)  # every published item is listed
    assert "信用等级分布与检查命中率" in html

    model = _activate_trained_card(tmp_path)
    html = client.get("/analytics/credit").get_data(as_text=True)
    assert "credit.9" in html and "2025-01-01" in html
    assert f"A ≥ {model.cutoffs_[0]:.1f} 分" in html
    segments = model.segment_labels()
    assert segments == ["全部"], "one card: segments could let an adverse record raise a score"
    for label in segments:
        assert str(escape(label)) in html
    assert html.count('id="table-points-') == len(segments)
    row = model.table()[0]
    assert row["label"] in html and f"{row['points']:.1f}" in html
    # bins are shown as ranges people read, missing values as their own bin
    assert "缺失" in html and "(-inf" not in html and "≥ " in html
    assert "nan" not in html.lower()  # empty bins' rates show as —
    csv_text = client.get("/api/v1/credit/scorecard?format=csv").get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("feature") and "segment" in csv_text.splitlines()[0]

    login(client, "inspector")
    assert client.get("/analytics/credit").status_code in (302, 403)


@pytest.mark.parametrize(("label", "shown"), [
    ("(-inf, 3.58658)", "< 3.587"), ("[3.58658, 11.8877)", "3.587 ≤ x < 11.89"),
    ("[18.7296, inf)", "≥ 18.73"), ("Missing", "缺失"), ("(-inf, inf)", "全部"),
    ("[2400.5, 26000.1234)", "2,400 ≤ x < 26,000"), ("每次/每项", "每次/每项"),
])
def test_bin_labels_read_as_ranges(label, shown):
    from server.console.common import bin_range

    assert bin_range(label) == shown


# -- issue 19 §2: a confirmed problem never raises an entity's credit ----------------------
def _rectifying_card(tmp_path: Path, frame) -> object:
    """The trap of the demo card: in the outcomes, inspected entities (and those whose last
    inspection found a problem, since rectified) have *fewer* problems later. Registered as
    the active credit model, trained on the province's own indicator rows."""
    from risk_models.credit import CREDIT_FEATURE_NAMES, CreditModel
    from server.risk.models import ModelVersion

    rng = np.random.default_rng(5)
    X = frame.matrix(list(CREDIT_FEATURE_NAMES)).copy()
    X = np.concatenate([X] * 3)
    n = len(X)
    j = CREDIT_FEATURE_NAMES.index
    inspected = rng.random(n) < 0.5
    X[:, j("inspections_3y")] = np.where(inspected, rng.integers(1, 4, n), 0)
    last = (rng.random(n) < 0.3).astype(float)
    X[:, j("last_inspection_problem")] = np.where(inspected, last, np.nan)
    X[:, j("inspection_problems_3y")] = np.where(inspected, last + (rng.random(n) < 0.2), 0)
    X[:, j("days_since_inspection")] = np.where(inspected, rng.integers(30, 900, n), np.nan)
    X[:, j("problem_rate_shrunk")] = np.where(inspected, 0.05 + 0.3 * last, 0.1)
    logit = -1.6 - 0.9 * inspected - 0.8 * np.nan_to_num(X[:, j("last_inspection_problem")]) \
        + 0.7 * X[:, j("penalties_3y")]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = CreditModel().fit(X[:313], y[:313], feature_names=CREDIT_FEATURE_NAMES, population=X)
    path = tmp_path / "credit-rectifying"
    model.save(path)
    db.session.add(ModelVersion(name="credit", version="credit.7", trained_from=dt.date(2025, 1, 1),
                                trained_to=dt.date(2025, 12, 31), n_samples=313, n_positive=int(y[:313].sum()),
                                thresholds=[], metrics={}, path=str(path), active=True))
    db.session.commit()
    return model


def _scores(ids: list[int], as_of: dt.date) -> dict[int, tuple[float, str, list]]:
    rows = db.session.execute(select(CreditScore.entity_id, CreditScore.score, CreditScore.grade, CreditScore.reasons)
                              .where(CreditScore.as_of == as_of, CreditScore.entity_id.in_(ids))).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


@pytest.mark.parametrize("card", ["published_table", "trained_on_313_outcomes"])
def test_a_confirmed_problem_never_raises_the_score(graded, client, auth, users, runner, tmp_path, card):
    """After a submission with a confirmed problem, ``shuangsui credit score`` lowers (never
    raises) the entity's score: on the main branch it rose by 24.9 points."""
    from factories import task
    from flask import current_app

    from server.auth.models import User
    from server.inspections.services import form_items_for_task, receive_submission
    from server.reference.models import FormTemplate
    from server.simulation.answers import attachment_bytes, fill_form, submission_body
    from server.tasks.models import Inspector

    as_of = dt.date(2026, 11, 25)
    if card == "trained_on_313_outcomes":
        _rectifying_card(tmp_path, build_features(db.session, as_of))
    companies = db.session.scalars(select(Entity).where(Entity.entity_type != "individual")
                                   .order_by(Entity.id).offset(10).limit(2)).all()
    ids = [e.id for e in companies]
    result = runner.invoke(args=["credit", "score", "--as-of", as_of.isoformat()])
    assert result.exit_code == 0, result.output
    before = _scores(ids, as_of)
    inspectors = [db.session.get(Inspector, users["inspector"].inspector_id),
                  db.session.get(Inspector, users["inspector2"].inspector_id)]
    user = db.session.get(User, users["inspector"].id)
    rng = np.random.default_rng(0)
    for e in companies:
        t = task(inspectors, the_entity=e)
        form = db.session.scalar(select(FormTemplate).where(FormTemplate.code == t.form_code,
                                                            FormTemplate.current.is_(True)))
        answers, attachments = fill_form(form_items_for_task(db.session, t, form), {"food_safety"}, seed=t.id)
        sent = submission_body(t, form, answers, attachments, rng=rng, day=dt.date(2026, 11, 20), minutes=40,
                               device_id="device-1", items=form_items_for_task(db.session, t, form))
        # the handheld's service, with its photos and signature, on the day of the visit
        files = {a["checksum"]: attachment_bytes(a["kind"], a["item_id"], t.id) for a in attachments}
        outcome = receive_submission(db.session, user, sent, files=files,
                                     directory=current_app.config["ATTACHMENT_DIR"],
                                     now=dt.datetime(2026, 11, 20, 18, tzinfo=dt.timezone(dt.timedelta(hours=8))))
        assert outcome.result is not None and outcome.result.problem_found
    result = runner.invoke(args=["credit", "score", "--as-of", as_of.isoformat()])
    assert result.exit_code == 0, result.output
    after = _scores(ids, as_of)
    for eid in ids:
        assert after[eid][0] < before[eid][0], (card, before[eid], after[eid])
        assert "ABCD".index(after[eid][1]) >= "ABCD".index(before[eid][1])
        said = [r["label"] for r in after[eid][2]]
        assert any(s in ("近3年检查发现问题 1 次", "上次检查发现问题") for s in said), said
        assert any(r.get("detail", "").endswith("分") for r in after[eid][2]), after[eid][2]


def test_reasons_name_only_what_applies(graded, tmp_path):
    """Never "个体工商户" for a company, never "上次检查发现问题" for an entity that never had
    one (on the main branch: 1,018 and 757 entities of the demo)."""
    as_of = TODAY
    frame = build_features(db.session, as_of)
    _rectifying_card(tmp_path, frame)
    score_credit(db.session, frame)
    individual = dict(db.session.execute(select(Entity.id, Entity.entity_type)).all())
    rows = db.session.execute(select(CreditScore.entity_id, CreditScore.reasons)
                              .where(CreditScore.as_of == as_of)).all()
    assert len(rows) == 600
    col = {n: frame.column(n) for n in ("last_inspection_problem", "is_individual")}
    pos = {int(e): i for i, e in enumerate(frame.entity_ids)}
    shown = 0
    for eid, reasons in rows:
        for r in reasons:
            assert r["code"] not in ("is_individual", "inspections_3y", "days_since_inspection"), r
            if r["code"] == "last_inspection_problem":
                assert col["last_inspection_problem"][pos[eid]] == 1.0
            if "points_lost" in r and r.get("detail"):
                shown += 1
                assert r["detail"].startswith(r["label"] + " −")
        assert individual[eid] == "individual" or not any("个体工商户" in r["label"] for r in reasons)
    assert shown > 100


def test_every_trained_version_keeps_its_own_file(app, reference, tmp_path, monkeypatch):
    """``credit.1`` and ``credit.2`` were both saved as ``credit-credit.joblib`` (the dot of
    the tag read as a suffix): the older version row loaded the newer card."""
    from risk_models.credit import CREDIT_FEATURE_NAMES, CreditModel
    from server.credit import services
    from server.risk.models import ModelVersion

    rng = np.random.default_rng(1)

    def outcomes(n):
        X = rng.poisson(0.3, size=(n, len(CREDIT_FEATURE_NAMES))).astype(float)
        y = (rng.random(n) < 0.15).astype(float)
        return X, y

    for n in (40, 90):
        monkeypatch.setattr(services, "labelled_outcomes", lambda *a, n=n, **k: outcomes(n))
        assert services.train_credit(db.session, until=TODAY, model_dir=tmp_path) is not None
    rows = db.session.scalars(select(ModelVersion).where(ModelVersion.name == "credit")
                              .order_by(ModelVersion.id)).all()
    assert [r.n_samples for r in rows] == [40, 90]
    assert len({r.path for r in rows}) == 2
    for r in rows:
        assert CreditModel.load(r.path).n_samples_ == r.n_samples
