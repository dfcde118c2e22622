"""Reference data tables, loaded from the files under ``data/`` by ``load-reference``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, bool_true, intpk, name_t


class Region(Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[name_t]
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(6))


class Industry(Base):
    __tablename__ = "industries"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[name_t]
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(8))


class BusinessType(Base):
    __tablename__ = "business_types"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[name_t]
    industries: Mapped[list[Any]]
    required_licence: Mapped[str | None] = mapped_column(String(32))
    form_code: Mapped[str] = mapped_column(String(32))


class LicenceKind(Base):
    __tablename__ = "licence_kinds"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[name_t]
    validity_years: Mapped[int | None]
    # Pattern every number of this kind matches (data/reference/licence_kinds.csv ``format``).
    number_format: Mapped[str | None] = mapped_column(String(200))


class Department(Base):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[name_t]
    kind: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    domains: Mapped[list[Any]]


class Law(Base):
    __tablename__ = "laws"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # short title
    title: Mapped[name_t]
    version_date: Mapped[dt.date | None]
    articles: Mapped[list[LegalReference]] = relationship(
        back_populates="law", order_by="LegalReference.article"
    )


class LegalReference(Base):
    """One article of a law: the legal basis an item or warning cites."""

    __tablename__ = "legal_references"
    __table_args__ = (UniqueConstraint("law_id", "article"),)

    id: Mapped[intpk]
    law_id: Mapped[str] = mapped_column(ForeignKey("laws.id"))
    article: Mapped[int]
    label: Mapped[str] = mapped_column(String(32))
    chapter: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)

    law: Mapped[Law] = relationship(back_populates="articles")


class CheckItem(Base):
    """An entry of the 抽查事项清单 (一单两库一细则)."""

    __tablename__ = "check_items"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    department_kind: Mapped[str] = mapped_column(String(32))
    domain: Mapped[str] = mapped_column(String(32), index=True)
    category: Mapped[name_t]
    item: Mapped[str] = mapped_column(String(300))
    object: Mapped[str] = mapped_column(String(300))
    item_class: Mapped[str] = mapped_column(String(8))  # 一般 / 重点
    method: Mapped[str] = mapped_column(String(64))
    legal_basis: Mapped[str] = mapped_column(String(300))
    #: the sentence(s) of the cited article that impose the requirement ("……" joins fragments)
    basis_quote: Mapped[str | None] = mapped_column(Text)
    legal_reference_id: Mapped[int | None] = mapped_column(ForeignKey("legal_references.id"))

    legal_reference: Mapped[LegalReference | None] = relationship()


class FormTemplate(Base):
    """One version of an inspection form. A version never changes once loaded (results
    keep the version they were filled in, through their submission); a changed form is
    loaded as a new version, and the old one stays for the results filled in on it.
    """

    __tablename__ = "form_templates"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[str] = mapped_column(String(16))
    title: Mapped[name_t]
    business_types: Mapped[list[Any]]
    items: Mapped[list[Any]]
    current: Mapped[bool] = mapped_column(default=True)
    #: SHA-256 of the version's content as loaded (title, business types, items)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    #: False once a newer version refused it: a handheld still holding it gets 409 form_outdated
    accepts_submissions: Mapped[bool_true]
    #: why it is no longer accepted (the newer version's change note), shown to the inspector
    retired_reason: Mapped[str | None] = mapped_column(String(300))
