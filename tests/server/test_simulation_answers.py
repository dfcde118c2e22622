"""The simulator fills forms as an inspector would: a problem exactly where it decided one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from server.inspections.forms import check_answers, check_item_questions, conclude, inspectable_rule
from server.inspections.results import PROBLEM_CATEGORIES
from server.reference.files import load_reference
from server.simulation.answers import conclusion, fill_form

ROOT = Path(__file__).resolve().parents[2]
FORMS = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "data" / "forms").glob("*.json"))}


def test_problems_exactly_when_the_simulator_decided_one():
    ref = load_reference(ROOT / "data")
    catalogue = [{"code": c.code, "item": c.item, "domain": c.domain, "category": c.category, "law": c.law,
                  "article": c.article, "legal_basis": c.legal_basis, "basis_quote": c.basis_quote}
                 for c in ref.check_items]
    rng = np.random.default_rng(7)
    for code, form in FORMS.items():
        for trial in range(12):
            extra = [catalogue[i] for i in rng.choice(len(catalogue), size=int(rng.integers(0, 3)), replace=False)]
            items = form["items"] + check_item_questions(extra, inspectable_rule(form["items"]))
            covered = sorted({i["domain"] for i in items if i.get("domain")})
            decided = {d for d in covered if rng.random() < 0.3} if trial else set()
            answers, attachments = fill_form(items, decided, seed=trial)
            check = check_answers(items, answers, attachments)
            assert check.errors == {}, (code, check.errors)
            category, follow_up = conclusion(items, answers)
            verdict = conclude(items, answers, category, follow_up)
            assert verdict.errors == {}, (code, verdict.errors)
            assert verdict.problem_found == bool(decided), (code, decided)
            assert (category in PROBLEM_CATEGORIES) == bool(decided)
            assert set(check.problem_domains) == decided, (code, decided, check.problem_domains)
            assert answers["premises_open"] == "open"  # the premises were inspected
            assert all(answers.get(i["id"]) != "not_applicable" for i in items)
