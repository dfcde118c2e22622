"""Reading and cross-checking the reference files shipped under ``data/``.

``data/reference/*.csv`` (regions, industries, licence kinds, business types, department
kinds, the check-item catalogue 抽查事项清单), ``data/forms/*.json`` (inspection forms by
business type) and ``data/laws/*.md`` (law texts). No database code here: this module
parses, validates every cross-reference (an item citing an article that does not exist,
a business type naming a missing form …) and raises :class:`ReferenceDataError` naming the
file and line; :mod:`server.reference.services` writes the result to the database.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.inspections.results import RESULT_CATEGORIES
from server.reference.laws import ParsedLaw, load_laws

ITEM_TYPES = ("compliance", "yes_no", "choice", "multi_choice", "number", "text", "photo", "signature", "location")
#: how ``basis_quote`` joins fragments of one article it quotes (the usual Chinese elision)
QUOTE_GAP = "……"
#: ids the handheld uses for the conclusion (检查结论), sent beside the answers
RESERVED_IDS = ("result_category", "follow_up")


class ReferenceDataError(ValueError):
    """A reference file is malformed or refers to something that does not exist."""


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str
    parent_code: str | None


@dataclass(frozen=True)
class Industry:
    code: str
    name: str
    level: str
    parent_code: str | None


@dataclass(frozen=True)
class LicenceKind:
    code: str
    name: str
    validity_years: int | None
    #: Regular expression every number of this kind matches (its issuing rules' format).
    number_format: str | None = None


@dataclass(frozen=True)
class BusinessType:
    code: str
    name: str
    industries: tuple[str, ...]
    required_licence: str | None
    form: str


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    kind: str
    region_code: str
    domains: tuple[str, ...]


@dataclass(frozen=True)
class CheckItem:
    code: str
    department_kind: str
    domain: str
    category: str
    item: str
    object: str
    item_class: str
    method: str
    law: str
    article: int
    legal_basis: str
    basis_quote: str


@dataclass
class Form:
    code: str
    version: str
    title: str
    business_types: list[str]
    items: list[dict[str, Any]]
    #: what changed from the previous version (shown when an older version is refused)
    changes: str | None = None
    #: "refuse": submissions filled in on an earlier version are no longer accepted
    older_versions: str = "accept"


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", text)


def quote_in_article(quote: str, article_text: str) -> bool:
    """Whether each fragment of ``quote`` (joined by "……") occurs, in order, in the article
    (whitespace ignored, nothing else).
    """
    text, pos = _normalise(article_text), 0
    for fragment in quote.split(QUOTE_GAP):
        fragment = _normalise(fragment)
        if not fragment:
            return False
        found = text.find(fragment, pos)
        if found < 0:
            return False
        pos = found + len(fragment)
    return True


@dataclass
class ReferenceData:
    regions: list[Region] = field(default_factory=list)
    industries: list[Industry] = field(default_factory=list)
    licence_kinds: list[LicenceKind] = field(default_factory=list)
    business_types: list[BusinessType] = field(default_factory=list)
    #: kind → (enforcement unit, with ``{region}`` for the region's name; division; domains)
    department_kinds: dict[str, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)
    departments: list[Department] = field(default_factory=list)
    laws: list[ParsedLaw] = field(default_factory=list)
    check_items: list[CheckItem] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)

    def law(self, short_title: str) -> ParsedLaw | None:
        return next((law for law in self.laws if law.short_title == short_title), None)

    def form_for(self, business_type: str) -> Form | None:
        bt = next((b for b in self.business_types if b.code == business_type), None)
        return next((f for f in self.forms if bt and f.code == bt.form), None)

    @property
    def domains(self) -> list[str]:
        return sorted({c.domain for c in self.check_items})


def _rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    if not path.exists():
        raise ReferenceDataError(f"{path}: file missing")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise ReferenceDataError(f"{path.name}: missing columns {', '.join(missing)}")
        out = []
        for line, row in enumerate(reader, start=2):
            if None in row or any(row.get(c) is None for c in columns):
                raise ReferenceDataError(f"{path.name}:{line}: wrong number of fields")
            out.append((line, {k: (v or "").strip() for k, v in row.items()}))
    return out


def _unique(kind: str, codes: list[str]) -> set[str]:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise ReferenceDataError(f"{kind}: duplicate code {code}")
        seen.add(code)
    return seen


def _check_refs(where: str, refs: Any, laws: dict[str, ParsedLaw]) -> None:
    for ref in refs or []:
        law = laws.get(ref.get("law"))
        if law is None:
            raise ReferenceDataError(f"{where}: cites unknown law {ref.get('law')!r}")
        if law.article(int(ref.get("article", 0))) is None:
            raise ReferenceDataError(f"{where}: {law.short_title} has no article {ref.get('article')}")


def validate_form(doc: dict[str, Any], where: str, laws: dict[str, ParsedLaw], domains: set[str]) -> Form:
    """Check a form document's structure and references; return it as a :class:`Form`."""
    for key in ("code", "version", "title", "business_types", "items"):
        if key not in doc:
            raise ReferenceDataError(f"{where}: missing {key!r}")
    ids: set[str] = set()
    for n, item in enumerate(doc["items"], start=1):
        at = f"{where} item {n} ({item.get('id')})"
        if not item.get("id") or not item.get("label"):
            raise ReferenceDataError(f"{at}: each item needs id and label")
        if item["id"] in ids:
            raise ReferenceDataError(f"{at}: duplicate item id")
        if item.get("type") not in ITEM_TYPES:
            raise ReferenceDataError(f"{at}: type must be one of {', '.join(ITEM_TYPES)}")
        if item["id"] in RESERVED_IDS:
            raise ReferenceDataError(f"{at}: {item['id']!r} is reserved for the conclusion")
        if item["type"] == "yes_no" and item.get("problem_if") is not None:
            # 是/否 reads differently with each wording: a judged item answers 符合/不符合/不适用
            raise ReferenceDataError(f"{at}: a judged item must be of type compliance, not yes_no")
        tags = [item.get("result_category")] + [c.get("result_category") for c in item.get("choices") or []]
        bad_tags = [t for t in tags if t is not None and t not in RESULT_CATEGORIES]
        if bad_tags:
            raise ReferenceDataError(f"{at}: unknown result category {bad_tags[0]!r}")
        if item["type"] in ("choice", "multi_choice") and not item.get("choices"):
            raise ReferenceDataError(f"{at}: a choice item needs choices")
        rule = item.get("relevant")
        if rule and rule.get("item") not in ids:
            raise ReferenceDataError(f"{at}: relevant refers to {rule.get('item')!r}, not an earlier item")
        if item.get("domain") and item["domain"] not in domains:
            raise ReferenceDataError(f"{at}: unknown domain {item['domain']!r}")
        _check_refs(at, item.get("legal_refs"), laws)
        ids.add(item["id"])
    older = doc.get("older_versions", "accept")
    if older not in ("accept", "refuse"):
        raise ReferenceDataError(f"{where}: older_versions must be accept or refuse")
    return Form(doc["code"], str(doc["version"]), doc["title"], list(doc["business_types"]), doc["items"],
                doc.get("changes"), older)


def load_reference(data_dir: Path) -> ReferenceData:
    """Parse and cross-check everything under ``data_dir``."""
    data_dir = Path(data_dir)
    ref_dir = data_dir / "reference"
    out = ReferenceData()
    out.regions = [Region(r["code"], r["name"], r["level"], r["parent_code"] or None)
                   for _, r in _rows(ref_dir / "regions.csv", ("code", "name", "level", "parent_code"))]
    region_codes = _unique("regions.csv", [r.code for r in out.regions])
    for r in out.regions:
        if r.parent_code and r.parent_code not in region_codes:
            raise ReferenceDataError(f"regions.csv: {r.code} has unknown parent {r.parent_code}")
    out.industries = [Industry(r["code"], r["name"], r["level"], r["parent_code"] or None)
                      for _, r in _rows(ref_dir / "industries.csv", ("code", "name", "level", "parent_code"))]
    industry_codes = _unique("industries.csv", [i.code for i in out.industries])
    out.licence_kinds = []
    for line, r in _rows(ref_dir / "licence_kinds.csv", ("code", "name", "validity_years", "format")):
        try:
            re.compile(r["format"])
        except re.error as exc:
            raise ReferenceDataError(f"licence_kinds.csv:{line}: format is not a valid pattern ({exc})") from None
        out.licence_kinds.append(LicenceKind(r["code"], r["name"],
                                             int(r["validity_years"]) if r["validity_years"] else None,
                                             r["format"] or None))
    licence_codes = _unique("licence_kinds.csv", [k.code for k in out.licence_kinds])
    for line, r in _rows(ref_dir / "business_types.csv", ("code", "name", "industries", "required_licence", "form")):
        industries = tuple(i for i in r["industries"].split("|") if i)
        bad = [i for i in industries if i not in industry_codes]
        if bad:
            raise ReferenceDataError(f"business_types.csv:{line}: unknown industries {', '.join(bad)}")
        if r["required_licence"] and r["required_licence"] not in licence_codes:
            raise ReferenceDataError(f"business_types.csv:{line}: unknown licence {r['required_licence']}")
        out.business_types.append(BusinessType(r["code"], r["name"], industries, r["required_licence"] or None,
                                               r["form"]))
    _unique("business_types.csv", [b.code for b in out.business_types])

    out.laws = load_laws(data_dir / "laws")
    laws = {law.short_title: law for law in out.laws}

    for line, r in _rows(ref_dir / "check_items.csv", tuple(CheckItem.__dataclass_fields__)):
        try:
            article = int(r["article"])
        except ValueError:
            raise ReferenceDataError(f"check_items.csv:{line}: article must be a number") from None
        _check_refs(f"check_items.csv:{line}", [{"law": r["law"], "article": article}], laws)
        cited = laws[r["law"]].article(article)
        if cited is None or not quote_in_article(r["basis_quote"], cited.text):
            raise ReferenceDataError(
                f"check_items.csv:{line}: basis_quote of {r['code']} is not in {r['law']} 第{article}条")
        if r["item_class"] not in ("一般", "重点"):
            raise ReferenceDataError(f"check_items.csv:{line}: item_class must be 一般 or 重点")
        out.check_items.append(CheckItem(**{**r, "article": article}))
    _unique("check_items.csv", [c.code for c in out.check_items])
    domains = {c.domain for c in out.check_items}

    for line, r in _rows(ref_dir / "department_kinds.csv", ("kind", "unit", "name", "domains")):
        kind_domains = tuple(d for d in r["domains"].split("|") if d)
        bad = [d for d in kind_domains if d not in domains]
        if bad:
            raise ReferenceDataError(f"department_kinds.csv:{line}: unknown domains {', '.join(bad)}")
        if "{region}" not in r["unit"]:
            raise ReferenceDataError(f"department_kinds.csv:{line}: unit must contain {{region}}")
        out.department_kinds[r["kind"]] = (r["unit"], r["name"], kind_domains)
    for c in out.check_items:
        if c.department_kind not in out.department_kinds:
            raise ReferenceDataError(f"check_items.csv: {c.code} has unknown department kind {c.department_kind}")
    # One department of each kind in every city: the market regulator's divisions
    # (设区的市市场监督管理局的业务处室) and the other agencies joining joint inspections.
    for region in out.regions:
        if region.level != "city":
            continue
        for kind, (unit, name, kind_domains) in out.department_kinds.items():
            out.departments.append(Department(f"{region.code}-{kind}", unit.replace("{region}", region.name) + name,
                                              kind, region.code, kind_domains))

    form_dir = data_dir / "forms"
    for path in sorted(form_dir.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ReferenceDataError(f"{path.name}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        out.forms.append(validate_form(doc, path.name, laws, domains))
    form_codes = _unique("forms", [f.code for f in out.forms])
    for b in out.business_types:
        if b.form not in form_codes:
            raise ReferenceDataError(f"business_types.csv: {b.code} uses missing form {b.form}")
    return out
