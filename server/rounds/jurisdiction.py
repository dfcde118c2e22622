"""Jurisdiction (属地管辖) of departments, from the region tree of GB/T 2260 codes.

A department's region is its jurisdiction: a city's division inspects in its city, a
county bureau in its county, a provincial department in the whole province. A round's
pool is the union of its departments' jurisdictions, narrowed by the round's scope; a
drawn entity is inspected by the round's departments whose jurisdiction holds it, the
most local first (县级 before 市级 before 省级), as 属地管理 requires.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.reference.models import Department, Region


@dataclass(frozen=True)
class DepartmentInfo:
    code: str
    name: str
    kind: str
    region_code: str
    domains: frozenset[str]
    depth: int  # 0 province, 1 city, 2 county: larger is more local
    regions: frozenset[str]  # every region code in the jurisdiction (the region and its descendants)


def region_tree(session: Session) -> dict[str, str | None]:
    """Region code → parent code."""
    return dict(session.execute(select(Region.code, Region.parent_code)).all())


def descendants(tree: dict[str, str | None], code: str) -> frozenset[str]:
    """``code`` and every region under it in the tree."""
    children: dict[str, list[str]] = {}
    for child, parent in tree.items():
        if parent:
            children.setdefault(parent, []).append(child)
    out, stack = {code}, [code]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in out:
                out.add(child)
                stack.append(child)
    return frozenset(out)


def _depth(tree: dict[str, str | None], code: str) -> int:
    depth, parent = 0, tree.get(code)
    while parent:
        depth, parent = depth + 1, tree.get(parent)
    return depth


def departments(session: Session, codes: Iterable[str]) -> dict[str, DepartmentInfo]:
    """The named departments with their jurisdictions, in the order given."""
    codes = list(dict.fromkeys(codes))
    tree = region_tree(session)
    rows = {d.code: d for d in session.scalars(select(Department).where(Department.code.in_(codes)))}
    return {c: DepartmentInfo(c, rows[c].name, rows[c].kind, rows[c].region_code, frozenset(rows[c].domains or []),
                              _depth(tree, rows[c].region_code), descendants(tree, rows[c].region_code))
            for c in codes if c in rows}


def pool_regions(session: Session, codes: Iterable[str]) -> frozenset[str]:
    """Every region code in the union of the departments' jurisdictions."""
    out: set[str] = set()
    for info in departments(session, codes).values():
        out |= info.regions
    return frozenset(out)


def covering(depts: dict[str, DepartmentInfo], region_code: str) -> list[DepartmentInfo]:
    """The departments whose jurisdiction holds ``region_code``, most local first (then in
    the round's order).
    """
    order = {c: k for k, c in enumerate(depts)}
    return sorted((d for d in depts.values() if region_code in d.regions), key=lambda d: (-d.depth, order[d.code]))
