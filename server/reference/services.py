"""Loading the reference files under ``data/`` into the database (idempotent).

Parsing and validation of the files live in :mod:`server.reference.files` (no database
code there); this module upserts the parsed objects: running ``load-reference`` twice
leaves the database as after once, and an edited file updates its rows.
"""

from __future__ import annotations

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
            "legal_reference_id": legal.id if legal else None,
        })
    counts["check_items"] = len(ref.check_items)

    for f in ref.forms:
        version = str(_get(f, "version"))
        row = session.scalar(select(FormTemplate).where(FormTemplate.code == f.code, FormTemplate.version == version))
        items = [dict(i) if isinstance(i, dict) else _as_dict(i) for i in f.items]
        if row is None:
            for old in session.scalars(select(FormTemplate).where(FormTemplate.code == f.code)):
                old.current = False
            session.add(FormTemplate(code=f.code, version=version, title=f.title,
                                     business_types=list(_get(f, "business_types", default=[])), items=items,
                                     current=True))
        else:
            row.title, row.items, row.current = f.title, items, True
            row.business_types = list(_get(f, "business_types", default=[]))
    counts["forms"] = len(ref.forms)
    record(session, actor, "reference.load", "reference", None, **counts)
    session.commit()
    return counts


def _as_dict(obj: Any) -> dict[str, Any]:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(obj):
        return asdict(obj)  # type: ignore[arg-type]
    return dict(vars(obj))


def load_reference_into_db(session: Session, data_dir: str | Path, *, actor: str = "system") -> dict[str, int]:
    """Parse the files under ``data_dir`` and upsert them."""
    from server.reference.files import load_reference

    return load_parsed_reference(session, load_reference(Path(data_dir)), actor=actor)
