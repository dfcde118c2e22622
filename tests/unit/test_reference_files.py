from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from server.reference.files import ReferenceDataError, load_reference
from server.reference.laws import chinese_number, parse_law, to_chinese

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.mark.parametrize(("text", "n"), [("一", 1), ("十", 10), ("十五", 15), ("二十", 20), ("一百零五", 105),
                                         ("一百二十六", 126), ("一百五十四", 154)])
def test_chinese_numerals_both_ways(text, n):
    assert chinese_number(text) == n
    assert to_chinese(n) == text


def test_every_shipped_law_parses_with_consecutive_articles():
    ref = load_reference(DATA)
    assert len(ref.laws) == 39  # 24 for market regulation, 15 for the agencies of joint inspections
    for law in ref.laws:
        assert [a.number for a in law.articles] == list(range(1, len(law.articles) + 1)), law.short_title
    food = ref.law("食品安全法")
    assert food.title == "中华人民共和国食品安全法"
    assert food.article(34).text.startswith("第三十四条 禁止生产经营下列食品")
    assert "（一）" in food.article(34).text  # items stay with their article
    assert food.article(34).chapter.startswith("第四章")


def test_catalogue_covers_every_warning_domain_with_real_articles():
    from risk_models.registry import MODEL_NAMES

    ref = load_reference(DATA)
    market = {c.domain for c in ref.check_items if ref.department_kinds[c.department_kind][0] == "{region}市场监督管理局"}
    assert market == set(MODEL_NAMES)
    assert len(ref.check_items) >= 60
    for item in ref.check_items:
        article = ref.law(item.law).article(item.article)
        assert article is not None and item.legal_basis.endswith(article.label)
    assert {b.code: b.form for b in ref.business_types}["catering"] == "catering"
    assert len(ref.departments) == 11 * len(ref.department_kinds)


def test_joint_inspection_agencies_have_their_own_items_and_departments():
    """联合抽查: the usual agencies besides market regulation, each with its own domain and
    check items citing a shipped law, and one department per city."""
    ref = load_reference(DATA)
    names = {d.code: d.name for d in ref.departments}
    assert names["330100-FOOD"] == "杭州市市场监督管理局食品安全监督管理处"
    assert names["330100-HEALTH"] == "杭州市卫生健康委员会卫生健康综合监督执法队"
    assert names["330200-TAX"] == "国家税务总局宁波市税务局稽查局"
    assert names["330100-FIRE"] == "杭州市消防救援支队防火监督处"
    agencies = {"HEALTH", "ECO", "SAFETY", "TAX", "FIRE", "CULTURE", "TRANSPORT", "AGRI", "COMMERCE", "HRSS"}
    assert agencies <= set(ref.department_kinds)
    for kind in agencies:
        _unit, _name, domains = ref.department_kinds[kind]
        items = [c for c in ref.check_items if c.department_kind == kind]
        assert len(items) >= 2, kind
        assert {c.domain for c in items} == set(domains), kind


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(DATA / "reference", tmp_path / "reference")
    shutil.copytree(DATA / "forms", tmp_path / "forms")
    (tmp_path / "laws").mkdir()
    for name in ("食品安全法(2021-04-29).md", "行政处罚法(2021-01-22).md"):
        shutil.copy(DATA / "laws" / name, tmp_path / "laws" / name)
    return tmp_path


def test_a_citation_of_a_missing_article_names_file_and_line(tmp_path):
    root = _copy(tmp_path)
    path = root / "reference" / "check_items.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    food = [i for i, line in enumerate(lines) if ",食品安全法," in line]
    lines = [lines[0]] + [lines[i] for i in food]
    lines[1] = lines[1].replace(",食品安全法,35,", ",食品安全法,999,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=r"check_items.csv:2: 食品安全法 has no article 999"):
        load_reference(root)


def test_a_form_with_a_dangling_relevance_rule_is_refused():
    doc = json.loads((DATA / "forms" / "catering.json").read_text(encoding="utf-8"))
    doc["items"][0]["relevant"] = {"item": "nowhere", "equals": "yes"}
    with pytest.raises(ReferenceDataError, match="not an earlier item"):
        from server.reference.files import validate_form

        validate_form(doc, "catering.json", {}, {"food_safety"})


def test_law_file_without_articles_is_refused(tmp_path):
    path = tmp_path / "空法(2020-01-01).md"
    path.write_text("# 空法\n\n<!-- INFO END -->\n\n## 第一章\n\n没有条文。\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no articles"):
        parse_law(path)
