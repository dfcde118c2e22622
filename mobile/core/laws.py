"""The offline law library: the laws last downloaded, by law and article, with search.

Search is a plain scan (the shipped library is a few thousand articles, well under
a tenth of a second on a phone): every whitespace-separated term must occur in the
law's title or the article's text; a term like ``35``, ``第35条`` or ``第三十五条``
matches the article number instead, and a term naming a law exactly restricts the
search to that law. Results are ranked by how often the terms occur.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mobile.core.store import Store

__all__ = ["Hit", "LawLibrary", "article_number", "format_ref"]

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_ARTICLE_TERM = re.compile(r"^(?:第)?([0-9]+|[零〇一二两三四五六七八九十百千]+)(?:条)?$")


def _chinese_number(text: str) -> int:
    total, digit = 0, None
    for c in text:
        if c in _DIGITS:
            digit = _DIGITS[c]
        else:
            total += (1 if digit is None else digit) * _UNITS[c]
            digit = None
    return total + (digit or 0)


def article_number(term: str) -> int | None:
    """``"35"``, ``"第35条"``, ``"第三十五条"`` → 35; anything else → None."""
    m = _ARTICLE_TERM.match(term.strip())
    if not m:
        return None
    raw = m.group(1)
    if raw.isdigit():
        return int(raw)
    if not term.startswith("第") and not term.endswith("条"):
        return None  # a bare "三" is more likely a word than an article number
    return _chinese_number(raw)


def format_ref(ref: dict[str, Any], label: str | None = None) -> str:
    """``{"law": "食品安全法", "article": 35}`` → ``《食品安全法》第35条`` (or the article's label)."""
    return f"《{ref['law']}》{label or '第%s条' % ref['article']}"


@dataclass
class Hit:
    law: str
    law_title: str
    number: int
    label: str
    chapter: str | None
    snippet: str
    score: int


class LawLibrary:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._articles: list[dict[str, Any]] | None = None
        self._titles: dict[str, str] = {}

    def invalidate(self) -> None:
        self._articles = None

    def _load(self) -> list[dict[str, Any]]:
        if self._articles is None:
            self._titles = {law["id"]: law["title"] for law in self.store.laws()}
            self._articles = self.store.articles()
        return self._articles

    def laws(self) -> list[dict[str, Any]]:
        return self.store.laws()

    def articles(self, law_id: str) -> list[dict[str, Any]]:
        return self.store.articles(law_id)

    def article(self, law_id: str, number: int) -> dict[str, Any] | None:
        return self.store.article(law_id, number)

    def title(self, law_id: str) -> str:
        self._load()
        return self._titles.get(law_id, law_id)

    def search(self, query: str, *, law_id: str | None = None, limit: int = 50) -> list[Hit]:
        terms = [t for t in query.split() if t]
        if not terms:
            return []
        articles = self._load()
        numbers = [n for t in terms if (n := article_number(t)) is not None]
        # a term naming a law exactly ("食品安全法") selects that law rather than every law
        # whose title merely contains it ("食品安全法实施条例")
        by_name = {name: law for law, title in self._titles.items() for name in (law, title)}
        named = {by_name[t] for t in terms if t in by_name}
        words = [t for t in terms if article_number(t) is None and t not in by_name]
        hits: list[Hit] = []
        for a in articles:
            if (law_id and a["law"] != law_id) or (named and a["law"] not in named):
                continue
            if numbers and a["number"] not in numbers:
                continue
            title = self._titles.get(a["law"], a["law"])
            haystack = a["text"]
            score = 0
            for w in words:
                in_text = haystack.count(w)
                in_title = w in a["law"] or w in title
                if not in_text and not in_title:
                    break
                score += in_text + (5 if in_title else 0)
            else:
                hits.append(
                    Hit(
                        a["law"],
                        title,
                        a["number"],
                        a["label"] or f"第{a['number']}条",
                        a["chapter"],
                        _snippet(haystack, words),
                        score,
                    )
                )
        hits.sort(key=lambda h: (-h.score, h.law, h.number))
        return hits[:limit]


def _snippet(text: str, words: list[str], width: int = 60) -> str:
    flat = "\u3000".join(text.split())  # an ideographic space: Kivy would wrap at an ASCII one
    positions = [flat.find(w) for w in words if w in flat]
    start = max(0, min(positions) - width // 3) if positions else 0
    out = flat[start : start + width]
    return ("…" if start else "") + out + ("…" if start + width < len(flat) else "")
