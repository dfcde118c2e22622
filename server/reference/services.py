"""Loading the reference files under ``data/`` into the database (idempotent).

Parsing and validation of the files live in :mod:`server.reference.files` (no database
code there); this module upserts the parsed objects: running ``load-reference`` twice
leaves the database as after once, and an edited file updates its rows — except a form
version, which never changes once loaded (see :func:`load_form`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.services import record
from server.reference.models import (
    BusinessType,
    CheckItem,
    Department,
    FormTemplate,
    Industry,
    Law,
    LegalReference,
    LicenceKind,
    Region,
)


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if hasattr(obj, name):
            return getattr(obj, name)
        if isinstance(obj, dict) and name in obj:
            return obj[name]
    return default


def _upsert(session: Session, model: type, key: dict[str, Any], values: dict[str, Any]) -> None:
    row = session.get(model, tuple(key.values()) if len(key) > 1 else next(iter(key.values())))
    if row is None:
        session.add(model(**key, **values))
    else:
        for attr, value in values.items():
            if getattr(row, attr) != value:
                setattr(row, attr, value)


def load_parsed_reference(session: Session, ref: Any, *, actor: str = "system") -> dict[str, int]:
    """Upsert parsed reference data; return counts per kind."""
    counts: dict[str, int] = {}
    for r in ref.regions:
        _upsert(session, Region, {"code": r.code}, {"name": r.name, "level": r.level,
                                                    "parent_code": _get(r, "parent_code") or None})
    counts["regions"] = len(ref.regions)
    for i in ref.industries:
        _upsert(session, Industry, {"code": i.code}, {"name": i.name, "level": i.level,
                                                      "parent_code": _get(i, "parent_code") or None})
    counts["industries"] = len(ref.industries)
    for k in ref.licence_kinds:
        _upsert(session, LicenceKind, {"code": k.code}, {"name": k.name,
                                                         "validity_years": _get(k, "validity_years"),
                                                         "number_format": _get(k, "number_format")})
    counts["licence_kinds"] = len(ref.licence_kinds)
    for b in ref.business_types:
        _upsert(session, BusinessType, {"code": b.code}, {
            "name": b.name,
            "industries": list(_get(b, "industries", "industry_prefixes", default=[])),
            "required_licence": _get(b, "required_licence") or None,
            "form_code": _get(b, "form", "form_code"),
        })
    counts["business_types"] = len(ref.business_types)
    for d in ref.departments:
        _upsert(session, Department, {"code": d.code}, {"name": d.name, "kind": d.kind,
                                                        "region_code": d.region_code, "domains": list(d.domains)})
    counts["departments"] = len(ref.departments)
    session.flush()

    articles = 0
    existing = {(r.law_id, r.article): r for r in session.scalars(select(LegalReference))}
    for law in ref.laws:
        law_id = _get(law, "short_title", "id")
        _upsert(session, Law, {"id": law_id}, {"title": law.title, "version_date": _get(law, "version_date")})
        for a in law.articles:
            number = int(_get(a, "number"))
            values = {"label": _get(a, "label") or f"第{number}条", "chapter": _get(a, "chapter"), "text": a.text}
            row = existing.get((law_id, number))
            if row is None:
                row = LegalReference(law_id=law_id, article=number, **values)
                session.add(row)
                existing[(law_id, number)] = row
            else:
                for attr, value in values.items():
                    setattr(row, attr, value)
            articles += 1
    counts["laws"] = len(ref.laws)
    counts["articles"] = articles
    session.flush()

    for c in ref.check_items:
        law, article = _get(c, "law"), _get(c, "article")
        legal = existing.get((law, int(article))) if law and article else None
        _upsert(session, CheckItem, {"code": c.code}, {
            "department_kind": c.department_kind,
            "domain": c.domain,
            "category": c.category,
            "item": c.item,
            "object": _get(c, "object", "target"),
            "item_class": _get(c, "item_class", "klass", "cls", "class_", "importance"),
            "method": c.method,
            "legal_basis": c.legal_basis,
            "basis_quote": _get(c, "basis_quote"),
            "legal_reference_id": legal.id if legal else None,
        })
    counts["check_items"] = len(ref.check_items)

    for f in ref.forms:
        load_form(session, f)
    counts["forms"] = len(ref.forms)
    record(session, actor, "reference.load", "reference", None, **counts)
    session.commit()
    return counts


def form_content_hash(title: str, business_types: list[str], items: list[dict[str, Any]]) -> str:
    """SHA-256 of what a form version shows and checks (key order does not matter)."""
    canonical = json.dumps({"title": title, "business_types": business_types, "items": items},
                           ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_form(session: Session, f: Any) -> FormTemplate:
    """Load one form version; the loaded version becomes the current one.

    A version is immutable once loaded: results keep the version they were filled in (by
    their submission's ``form_code``/``form_version``) and render against it, so loading a
    file whose content changed under the same version is refused — a changed form needs a
    new ``version``. Loading a new version keeps every earlier one; if the file says
    ``older_versions: "refuse"`` (their answers cannot be read under the new rules), the
    earlier versions stop accepting submissions and a handheld still holding one is told
    why (``changes``) and to refresh.
    """
    from server.reference.files import ReferenceDataError

    version = str(_get(f, "version"))
    items = [dict(i) if isinstance(i, dict) else _as_dict(i) for i in f.items]
    business_types = list(_get(f, "business_types", default=[]))
    digest = form_content_hash(f.title, business_types, items)
    versions = list(session.scalars(select(FormTemplate).where(FormTemplate.code == f.code)))
    row = next((v for v in versions if v.version == version), None)
    if row is None:
        row = FormTemplate(code=f.code, version=version, title=f.title, business_types=business_types, items=items,
                           current=True, content_hash=digest, accepts_submissions=True)
        session.add(row)
    else:
        stored = row.content_hash or form_content_hash(row.title, list(row.business_types), list(row.items))
        if stored != digest:
            raise ReferenceDataError(
                f"forms/{f.code}.json: 第 {version} 版的内容与已载入的不同；修改后的检查表须使用新的版本号 "
                f"(form {f.code} version {version} changed: give it a new version)")
        row.content_hash = digest
    refuse = _get(f, "older_versions", default="accept") == "refuse"
    for other in versions:
        if other is row:
            continue
        other.current = False
        if refuse and other.accepts_submissions:
            other.accepts_submissions = False
            other.retired_reason = (_get(f, "changes") or f"已由第 {version} 版取代")[:300]
    row.current = True
    return row


def _as_dict(obj: Any) -> dict[str, Any]:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(obj):
        return asdict(obj)  # type: ignore[arg-type]
    return dict(vars(obj))


def load_reference_into_db(session: Session, data_dir: str | Path, *, actor: str = "system") -> dict[str, int]:
    """Parse the files under ``data_dir`` and upsert them."""
    from server.reference.files import load_reference

    return load_parsed_reference(session, load_reference(Path(data_dir)), actor=actor)
