"""主体档案: licences, credit score and its reasons, open warnings, past inspections."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mobile.screens.base import BaseScreen, load_kv
from mobile.screens.widgets import Card, WrapLabel

load_kv(__file__)

_STATUS = {"valid": "有效", "expired": "已过期", "revoked": "已吊销", "suspended": "暂停", "cancelled": "已注销"}


def licence_state(lic: dict[str, Any], today: dt.date | None = None) -> str:
    """The licence's state today: a profile read offline days ago may say 有效 for a
    licence whose validity has since ended — the dates decide, as on the server.
    """
    status = str(lic.get("status") or "")
    valid_to = lic.get("valid_to")
    if status == "valid" and valid_to:
        try:
            if dt.date.fromisoformat(str(valid_to)) < (today or dt.date.today()):
                return _STATUS["expired"]
        except ValueError:
            pass
    return str(lic.get("status_label") or _STATUS.get(status, status))


def profile_sections(p: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Return the profile as (heading, lines) in the inspector's words."""
    basic = [
        f"[b]{p['name']}[/b]",
        f"统一社会信用代码：{p['uscc']}",
        f"类型：{p.get('entity_type_label') or p.get('entity_type')}　状态：{p.get('status_label') or p.get('status')}",
        f"住所：{p.get('address') or ''}",
        f"法定代表人：{p.get('legal_representative') or ''}　电话：{p.get('phone') or '—'}",
        f"行业：{(p.get('industry') or {}).get('name') or ''}　辖区：{(p.get('region') or {}).get('name') or ''}",
        f"成立日期：{p.get('registered_on') or ''}",
    ]
    licences = [
        f"{lic.get('kind_label')} {lic.get('number')}（{lic.get('valid_from')} 至 {lic.get('valid_to') or '长期'}，"
        f"{licence_state(lic)}）"
        for lic in p.get("licences") or []
    ] or ["无许可证记录"]
    credit = p.get("credit")
    if credit:
        credit_lines = [
            f"信用分 [b]{credit['score']}[/b]　等级 [b]{credit['grade']}[/b]（{credit['as_of']}）"
        ]
        for r in credit.get("reasons") or []:
            if isinstance(r, dict):
                credit_lines.append("· " + str(r.get("detail") or r.get("label") or r.get("code")))
            else:
                credit_lines.append(f"· {r}")
    else:
        credit_lines = ["尚无信用评分"]
    warnings = []
    for w in p.get("open_warnings") or []:
        reasons = "；".join(
            str(r.get("detail") or r.get("label"))
            for r in w.get("reasons") or []
            if isinstance(r, dict)
        )
        warnings.append(
            f"[color=c62828]{w.get('level_label')}[/color] {w.get('model_label')}（{w.get('issued_on')}，"
            f"得分 {w.get('score')}）" + (f"\n原因：{reasons}" if reasons else "")
        )
    inspections = [
        f"{r['date']}　{'[color=c62828]发现问题[/color]' if r.get('problem_found') else '未发现问题'}"
        f"　{r.get('summary') or ''}"
        for r in p.get("inspections") or []
    ]
    return [
        ("基本信息", basic),
        ("许可证", licences),
        ("信用", credit_lines),
        ("未办结预警", warnings or ["无"]),
        ("历次检查", inspections or ["无检查记录"]),
    ]


class EntityScreen(BaseScreen):
    def refresh(self, uscc: str = "", *args: Any) -> None:
        box = self.ids.list
        box.clear_widgets()
        profile = self.handheld.entity_profile(uscc) if uscc else None
        if profile is None:
            box.add_widget(WrapLabel(text="本机没有该主体的档案，请联网同步后查看。"))
            return
        for heading, lines in profile_sections(profile):
            card = Card()
            card.add_widget(
                WrapLabel(text=f"[b]{heading}[/b]", font_size="16sp", color=(0.09, 0.29, 0.55, 1))
            )
            for line in lines:
                card.add_widget(WrapLabel(text=line, font_size="14sp"))
            box.add_widget(card)
