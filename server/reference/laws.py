"""Parsing the shipped law texts (``data/laws/*.md``) into laws, chapters and articles.

File format (see ``data/laws/SOURCE.md``): ``<short title>(<YYYY-MM-DD>).md``; a ``#``
title line, an adoption/amendment header ending with ``<!-- INFO END -->``, then
``## 第N章`` (and ``### 第N节``) headings and paragraphs; an article starts with a
paragraph ``第N条`` (Chinese numerals) and runs until the next article or heading.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_ARTICLE = re.compile(r"^第([零〇一二两三四五六七八九十百千]+)条(?:\s+|　|$)(.*)$", re.S)
_FILENAME = re.compile(r"^(?P<short>.+)\((?P<date>\d{4}-\d{2}-\d{2})\)$")


def chinese_number(text: str) -> int:
    """``"一百二十三"`` → 123, ``"十五"`` → 15, ``"一百零五"`` → 105."""
    if not text or any(c not in _DIGITS and c not in _UNITS for c in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    total, digit = 0, None
    for c in text:
        if c in _DIGITS:
            digit = _DIGITS[c]
        else:
            total += (1 if digit is None else digit) * _UNITS[c]
            digit = None
    return total + (digit or 0)


def article_label(number: int) -> str:
    """123 → ``"第一百二十三条"`` (the way the law itself writes it)."""
    return f"第{to_chinese(number)}条"


def to_chinese(number: int) -> str:
    if not 0 < number < 10000:
        raise ValueError(number)
    names = "零一二三四五六七八九"
    out, zero = "", False
    for unit, label in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = number // unit % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("" if (unit == 10 and d == 1 and not out) else names[d]) + label
    return out


@dataclass
class Article:
    number: int
    label: str
    chapter: str | None
    text: str


@dataclass
class ParsedLaw:
    short_title: str
    title: str
    version_date: dt.date | None
    history: list[str] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)

    def article(self, number: int) -> Article | None:
        return next((a for a in self.articles if a.number == number), None)


def parse_law(path: Path) -> ParsedLaw:
    """Parse one law file; raise ``ValueError`` naming the file if it has no articles."""
    m = _FILENAME.match(path.stem)
    short = m.group("short") if m else path.stem
    version = dt.date.fromisoformat(m.group("date")) if m else None
    text = path.read_text(encoding="utf-8")
    head, sep, body = text.partition("<!-- INFO END -->")
    if not sep:
        head, body = "", text
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    title = next((line.lstrip("# ").strip() for line in lines if line.startswith("# ")), short)
    law = ParsedLaw(short, title, version, [line for line in lines if not line.startswith("#")])
    chapter: str | None = None
    current: list[str] | None = None
    number = 0

    def flush() -> None:
        if current is not None:
            law.articles.append(Article(number, article_label(number), chapter, "\n".join(current).strip()))

    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            flush()
            current = None
            heading = line.lstrip("#").strip()
            if line.startswith("## ") or not chapter:
                chapter = heading
            else:
                chapter = f"{chapter.split(' · ')[0]} · {heading}"
            continue
        am = _ARTICLE.match(line)
        if am:
            flush()
            number = chinese_number(am.group(1))
            current = [line]
            continue
        if current is not None:
            current.append(line)
    flush()
    if not law.articles:
        raise ValueError(f"{path.name}: no articles (第N条) found")
    return law


def load_laws(directory: Path) -> list[ParsedLaw]:
    return [parse_law(p) for p in sorted(directory.glob("*.md")) if p.name != "SOURCE.md"]
