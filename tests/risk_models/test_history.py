"""evaluate-history: leakage-freedom, same-day isolation, the JSON contract, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from risk_models.history import (
    backtest,
    collapse_carryovers,
    history_features,
    load_history,
    run_report,
    top_hits,
    wilson_interval,
)
from server.commands.history import CHART_NAME, REPORT_NAME, evaluate_history

SCHEMA = Path(__file__).resolve().parents[2].parent / "shared" / "contracts" / \
    "evaluate-history.schema.json"


def make_records(n_entities: int = 120, visits: int = 6, seed: int = 1) -> pd.DataFrame:
    """Made-up inspections: a latent propensity per entity drives outcomes and a feature."""
    rng = np.random.default_rng(seed)
    propensity = rng.beta(1.5, 4.0, n_entities)
    district = rng.choice(["north", "south", "east", "west"], n_entities)
    rows = []
    for e in range(n_entities):
        days = np.sort(rng.choice(730, visits, replace=False))
        for d in days:
            rows.append({
                "entity_id": f"E{e:04d}",
                "inspected_on": str(np.datetime64("2020-01-01") + int(d)),
                "violation": int(rng.random() < propensity[e]),
                "size": float(np.round(propensity[e] * 10 + rng.normal(0, 1), 2)),
                "district": district[e],
            })
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    return make_records()


@pytest.fixture
def csv_path(tmp_path: Path, records: pd.DataFrame) -> Path:
    path = tmp_path / "history.csv"
    records.to_csv(path, index=False)
    return path


def invoke(*args: str):
    return CliRunner().invoke(evaluate_history, list(args))


# ---------------------------------------------------------------- leakage-freedom


def perturb_after(frame: pd.DataFrame, cut: str, seed: int = 9) -> pd.DataFrame:
    """Flip outcomes and scramble features of every record after ``cut``; add new ones."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    later = out["inspected_on"] > cut
    out.loc[later, "violation"] = 1 - out.loc[later, "violation"]
    out.loc[later, "size"] = rng.normal(50, 20, int(later.sum()))
    out.loc[later, "district"] = "harbour"
    extra = out[later].head(30).assign(district="airport", violation=1, size=99.0)
    return pd.concat([out, extra], ignore_index=True)


def test_history_features_ignore_the_future(records: pd.DataFrame) -> None:
    cut = "2021-01-01"
    changed = perturb_after(records, cut)
    before = load_history(records)
    after = load_history(changed)
    a = history_features(before.entity, before.day, before.outcome)
    b = history_features(after.entity, after.day, after.outcome).iloc[: len(records)]
    earlier = (records["inspected_on"] <= cut).to_numpy()
    assert not a.equals(b)  # the perturbation does reach later features
    pd.testing.assert_frame_equal(a[earlier], b[earlier])


def test_history_features_count_only_earlier_days() -> None:
    entity = np.array([0, 0, 0, 1, 0])
    day = np.array([10, 12, 15, 12, 20])
    outcome = np.array([1, 0, 1, 1, 0])
    f = history_features(entity, day, outcome)
    assert f["history_inspections"].tolist() == [0, 1, 2, 0, 3]
    assert f["history_problems"].tolist() == [0, 1, 1, 0, 2]
    assert f["history_days_since_last"].tolist()[1:3] == [2, 3]
    assert np.isnan(f["history_last_problem"][0])
    assert f["history_last_problem"].tolist()[1:3] == [1, 0]
    assert f["recent_inspections"].tolist() == [0, 1, 2, 0, 3]


def test_same_day_records_do_not_see_each_other() -> None:
    entity = np.array([7, 7, 7, 7])
    day = np.array([100, 100, 100, 101])
    outcome = np.array([1, 0, 1, 0])
    f = history_features(entity, day, outcome)
    assert f["history_inspections"].tolist() == [0, 0, 0, 3]
    assert f["history_problems"].tolist() == [0, 0, 0, 2]
    assert np.isnan(f["history_last_problem"][:3]).all()
    assert f["history_last_problem"][3] == 1


def test_predictions_ignore_later_records(records: pd.DataFrame) -> None:
    test_from, cut = "2021-07-01", "2021-09-30"
    base = backtest(load_history(records), test_from=test_from, seed=3).predictions
    changed = perturb_after(records, cut)
    new = backtest(load_history(changed), test_from=test_from, seed=3).predictions
    earlier = records["inspected_on"].iloc[base["row"]].le(cut).to_numpy()
    assert 0 < earlier.sum() < len(base)
    new = new.set_index("row").loc[base["row"]]
    np.testing.assert_array_equal(base["model_score"][earlier], new["model_score"][earlier])
    np.testing.assert_array_equal(base["history_score"][earlier], new["history_score"][earlier])
    assert not np.array_equal(base["history_score"][~earlier], new["history_score"][~earlier])


def test_same_day_outcome_does_not_change_own_day_prediction(records: pd.DataFrame) -> None:
    # Two records of one entity on one test day: flipping one outcome leaves both scores.
    row = records[records["inspected_on"] > "2021-08-01"].iloc[0]
    twin = records.copy()
    twin.loc[len(twin)] = row
    flipped = twin.copy()
    flipped.loc[len(flipped) - 1, "violation"] = 1 - row["violation"]
    a = backtest(load_history(twin), test_from="2021-07-01").predictions.set_index("row")
    b = backtest(load_history(flipped), test_from="2021-07-01").predictions.set_index("row")
    same_day = twin.index[(twin["entity_id"] == row["entity_id"])
                          & (twin["inspected_on"] == row["inspected_on"])]
    assert len(same_day) == 2
    np.testing.assert_array_equal(a.loc[same_day, "model_score"], b.loc[same_day, "model_score"])


# ------------------------------------------------------------------------ metrics


def test_top_hits_counts_ties_at_their_expectation() -> None:
    score = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    outcome = np.array([1, 1, 0, 0, 1])
    assert top_hits(score, outcome, 1) == 1.0
    assert top_hits(score, outcome, 2) == pytest.approx(1 + 1 / 3)
    assert top_hits(score, outcome, 5) == 3.0


def test_wilson_interval_matches_the_formula() -> None:
    lo, hi = wilson_interval(38, 100)
    assert (round(lo, 4), round(hi, 4)) == (0.291, 0.4779)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_collapse_carryovers_drops_copies_within_horizon() -> None:
    frame = pd.DataFrame({
        "id": ["a", "a", "a", "a", "b"],
        "date": ["2020-01-01", "2020-01-20", "2020-03-30", "2020-04-05", "2020-01-21"],
        "n": [2, 2, 2, 1, 2],
    })
    kept = collapse_carryovers(frame, entity_col="id", date_col="date", count_cols=["n"])
    # 01-20 repeats 01-01 within 30 days; 03-30 is 70 days later; b is another entity.
    assert kept["date"].tolist() == ["2020-01-01", "2020-03-30", "2020-04-05", "2020-01-21"]


# ------------------------------------------------------------------------ CLI / JSON


def test_json_output_matches_the_contract(csv_path: Path) -> None:
    result = invoke(str(csv_path), "--json", "--seed", "1")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert "fold 1/4" in result.stderr
    assert summary["rows"] == 720
    assert summary["entities"] == 120
    assert len(summary["folds"]) == 4
    assert summary["top_fraction"] == 0.1
    assert summary["random"]["hit_rate"] == pytest.approx(summary["base_rate"], abs=0.02)
    lo, hi = summary["model"]["ci95"]
    assert lo <= summary["model"]["hit_rate"] <= hi
    assert summary["model"]["lift"] == pytest.approx(
        summary["model"]["hit_rate"] / summary["base_rate"], rel=1e-4)
    # The made-up outcomes follow a persistent propensity: history must beat random.
    assert summary["history_baseline"]["hit_rate"] > summary["base_rate"]
    assert "district" in summary["categorical"]
    if not SCHEMA.is_file():
        pytest.skip("shared/contracts/evaluate-history.schema.json not present")
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(summary, json.loads(SCHEMA.read_text()),
                        format_checker=jsonschema.FormatChecker())


def test_same_seed_gives_the_same_report(csv_path: Path) -> None:
    first = invoke(str(csv_path), "--json", "--seed", "5", "--windows", "2")
    second = invoke(str(csv_path), "--json", "--seed", "5", "--windows", "2")
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout


def test_readable_report_saves_chart_and_text(csv_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(str(csv_path), "--out", str(out), "--test-from", "2021-07-01",
                    "--exclude-col", "district", "--top", "0.2")
    assert result.exit_code == 0, result.output
    assert "命中率 hit rate" in result.stdout
    assert "2021-07-01" in result.stdout
    assert (out / CHART_NAME).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "历史基线 history" in (out / REPORT_NAME).read_text(encoding="utf-8")


def test_run_report_accepts_csv_text(records: pd.DataFrame) -> None:
    text = records.rename(columns={"violation": "found"}).to_csv(index=False)
    summary, png = run_report(text, outcome_col="found", feature_cols=["size"],
                              test_from="2021-07-01")
    assert summary["features"][-1] == "size"
    assert "district" not in summary["features"]
    assert png.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("change", "args", "message"),
    [
        (None, ["--entity-col", "shop"], "unknown entity column 'shop'"),
        (None, ["--feature-col", "colour"], "unknown column 'colour'"),
        (None, ["--exclude-col", "colour"], "unknown column 'colour'"),
        (("inspected_on", 4, "31/02/2021x"), [], "column 'inspected_on', row 5 (line 6): "
                                                 "cannot parse date '31/02/2021x'"),
        (("violation", 2, "2"), [], "column 'violation', row 3 (line 4): outcome must be 0/1"),
        (("violation", 7, "maybe"), [], "column 'violation', row 8 (line 9)"),
        (("entity_id", 0, ""), [], "column 'entity_id', row 1 (line 2): missing entity id"),
        (None, ["--test-from", "2020-12-01"], "fewer than two windows of history"),
        (None, ["--test-from", "2030-01-01"], "no inspections on or after"),
    ],
)
def test_bad_input_is_a_clear_error(
    tmp_path: Path, records: pd.DataFrame, change: tuple[str, int, str] | None,
    args: list[str], message: str,
) -> None:
    frame = records.astype({"violation": str, "inspected_on": str, "entity_id": str})
    if change is not None:
        column, row, value = change
        frame.loc[row, column] = value
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    result = invoke(str(path), "--json", *args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert result.stdout == ""


def test_too_few_distinct_days_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "two_days.csv"
    path.write_text("entity_id,inspected_on,violation\n"
                    "a,2021-01-01,1\nb,2021-01-01,0\nc,2021-01-02,1\nd,2021-01-02,0\n")
    result = invoke(str(path), "--json")
    assert result.exit_code != 0
    assert "fewer than two windows of history" in result.stderr


def test_true_false_outcomes_are_accepted(tmp_path: Path, records: pd.DataFrame) -> None:
    path = tmp_path / "tf.csv"
    records.assign(violation=records["violation"].map({1: "True", 0: "false"})).to_csv(
        path, index=False)
    result = invoke(str(path), "--json", "--windows", "2")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == len(records)
