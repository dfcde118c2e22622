"""The reviewed legal basis: every judged item states its requirement positively, answered
符合/不符合/不适用, and the sentence it quotes is in the shipped text of the cited article."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from server.reference.files import ReferenceDataError, load_reference
from server.reference.laws import load_laws

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
ROWS = list(csv.DictReader((DATA / "reference" / "check_items.csv").open(encoding="utf-8")))
LAWS = {law.short_title: law for law in load_laws(DATA / "laws")}
FORMS = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((DATA / "forms").glob("*.json"))}


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)  # whitespace only: nothing else is normalised


@pytest.mark.parametrize("row", ROWS, ids=[r["code"] for r in ROWS])
def test_quoted_sentence_is_in_the_shipped_text_of_the_cited_article(row):
    article = LAWS[row["law"]].article(int(row["article"]))
    assert article is not None
    text = _squash(article.text)
    assert row["basis_quote"].strip(), row["code"]
    at = 0
    for fragment in row["basis_quote"].split("……"):  # fragments of one article, in order
        found = text.find(_squash(fragment), at)
        assert found >= 0, f"{row['code']}: {fragment!r} not in {row['law']} {article.label}"
        at = found + len(_squash(fragment))


def test_known_wrong_citations_are_corrected():
    by_code = {r["code"]: r for r in ROWS}
    rf02 = by_code["RF02"]
    assert (rf02["law"], rf02["article"]) != ("市场主体登记管理条例", "27")
    assert "显著位置" not in by_code["FS01"]["item"]  # not in 食品安全法 第三十五条
    assert "显著位置" not in LAWS["食品安全法"].article(35).text


def test_requirements_are_stated_positively():
    for row in ROWS:
        assert "是否" not in row["item"] and "能否" not in row["item"], row["code"]
    assert next(r for r in ROWS if r["code"] == "FS03")["item"].startswith("未经营超过保质期")


def test_every_judged_item_of_every_form_is_a_compliance_item_of_the_catalogue():
    by_code = {r["code"]: r for r in ROWS}
    for code, form in FORMS.items():
        judged = [i for i in form["items"] if i.get("domain") and i["id"] != "premises_open"]
        assert judged, code
        for item in form["items"]:
            assert item["type"] != "yes_no", (code, item["id"])  # no bare 是/否 left anywhere
            assert "是否" not in item["label"], (code, item["id"])
        for item in judged:
            row = by_code[item["check_item"]]
            assert item["type"] == "compliance", (code, item["id"])
            assert item["label"] == row["item"]
            assert item["legal_refs"] == [{"law": row["law"], "article": int(row["article"])}]
            assert item["basis_quote"] == row["basis_quote"]
            notes = [i for i in form["items"] if i.get("relevant") == {"item": item["id"], "equals": "non_compliant"}]
            assert [n["type"] for n in notes] == ["text", "photo"] and notes[0]["required"], (code, item["id"])


def test_the_document_is_the_rendered_table():
    from server.reference.legal_basis import render

    doc = (ROOT / "docs" / "check-items-legal-basis.md").read_text(encoding="utf-8")
    assert doc == render(DATA), "run python -m server.reference.legal_basis"
    for row in ROWS:
        assert f"| {row['code']} | {row['item']} |" in doc


def test_a_quote_not_in_the_article_is_refused_at_load(tmp_path):
    shutil.copytree(DATA, tmp_path / "data")
    path = tmp_path / "data" / "reference" / "check_items.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("食品生产经营者应当按照食品安全国家标准使用食品添加剂。",
                                 "食品生产经营者可以自行决定使用食品添加剂。"), encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="basis_quote of FS09"):
        load_reference(tmp_path / "data")


def test_a_yes_no_judged_item_is_refused_at_load(tmp_path):
    shutil.copytree(DATA, tmp_path / "data")
    path = tmp_path / "data" / "forms" / "food_retail.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    fs03 = next(i for i in doc["items"] if i["id"] == "fs03")
    fs03.update(type="yes_no", problem_if="no", label="是否经营超过保质期、腐败变质等禁止经营的食品")
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="must be of type compliance"):
        load_reference(tmp_path / "data")
