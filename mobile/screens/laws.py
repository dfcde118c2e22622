"""法规库: the laws kept on the device, by law and article, with search (offline)."""

from __future__ import annotations

from typing import Any

from kivy.properties import StringProperty
from kivy.utils import escape_markup

from mobile.screens.base import BaseScreen, load_kv
from mobile.screens.widgets import ArticlePopup, Card, WrapLabel

load_kv(__file__)


def _factory(name: str, **kwargs: Any) -> Any:
    from kivy.factory import Factory

    return getattr(Factory, name)(**kwargs)


class LawsScreen(BaseScreen):
    title = StringProperty("法规库")
    status = StringProperty("")

    def refresh(self, *args: Any) -> None:
        if self.ids.query.text.strip():
            self.search(self.ids.query.text)
        else:
            self.show_laws()

    def show_laws(self) -> None:
        self.title = "法规库"
        self.ids.query.text = ""
        box = self.ids.list
        box.clear_widgets()
        laws = self.handheld.laws.laws()
        self.status = (
            f"本机共 {len(laws)} 部法律法规，离线可查" if laws else "本机尚无法规，请联网同步"
        )
        for law in laws:
            title = self.handheld.laws.title(law["id"])
            b = _factory(
                "FlatButton",
                text=f"{title}（{law['articles']} 条）",
                background_color=(1, 1, 1, 1),
                color=(0.13, 0.13, 0.15, 1),
                halign="left",
            )
            b.bind(size=lambda w, s: setattr(w, "text_size", (s[0] - 20, None)))
            b.bind(on_release=lambda _b, lid=law["id"]: self.show_law(lid))
            box.add_widget(b)
        self.ids.scroll.scroll_y = 1

    def show_law(self, law_id: str) -> None:
        self.title = self.handheld.laws.title(law_id)
        box = self.ids.list
        box.clear_widgets()
        articles = self.handheld.laws.articles(law_id)
        self.status = f"{len(articles)} 条 · 点击条文查看全文"
        chapter = None
        for a in articles:
            if a.get("chapter") and a["chapter"] != chapter:
                chapter = a["chapter"]
                box.add_widget(
                    WrapLabel(text=f"[b]{escape_markup(chapter)}[/b]", color=(0.09, 0.29, 0.55, 1))
                )
            box.add_widget(
                self._article_card(
                    law_id, a["number"], a["text"][:80] + ("…" if len(a["text"]) > 80 else "")
                )
            )
        self.ids.scroll.scroll_y = 1

    def _article_card(
        self, law_id: str, number: int, text: str, heading: str | None = None
    ) -> Card:
        card = Card()
        if heading:
            card.add_widget(
                WrapLabel(
                    text=f"[b]{escape_markup(heading)}[/b]",
                    font_size="14sp",
                    color=(0.09, 0.29, 0.55, 1),
                )
            )
        card.add_widget(WrapLabel(text=escape_markup(text), font_size="14sp"))
        link = _factory("LinkButton", text="查看全文")
        link.bind(on_release=lambda _b: self.open_article(law_id, number))
        card.add_widget(link)
        return card

    def search(self, query: str) -> None:
        query = query.strip()
        if not query:
            self.show_laws()
            return
        self.title = "法规库 · 搜索"
        hits = self.handheld.laws.search(query)
        self.status = f"“{query}” 共 {len(hits)} 条结果" + (
            "（仅显示前 50 条）" if len(hits) >= 50 else ""
        )
        box = self.ids.list
        box.clear_widgets()
        for hit in hits:
            box.add_widget(
                self._article_card(
                    hit.law, hit.number, hit.snippet, f"《{hit.law_title}》{hit.label}"
                )
            )
        self.ids.scroll.scroll_y = 1

    def open_article(self, law_id: str, number: int) -> ArticlePopup:
        title, text = self.handheld.article_text(law_id, number)
        popup = ArticlePopup(title=title, body=escape_markup(text))
        popup.open()
        return popup
