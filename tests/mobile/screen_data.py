"""A device store filled as after a sync: three tasks, their form, a profile, all laws."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mobile.core.controller import Handheld

ROOT = Path(__file__).resolve().parents[2]


def _uscc(n: int) -> str:
    from server.validation import make_uscc

    digits = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body, v = "", n + 31**6
    for _ in range(8):
        v, r = divmod(v, 31)
        body = digits[r] + body
    return make_uscc("330106", body)


def _task(
    n: int, name: str, address: str, grade: str, due: str, channel: str, **extra: Any
) -> dict[str, Any]:
    return {
        "id": n,
        "state": "assigned",
        "due_on": due,
        "channel": channel,
        "department_code": "330100-FOOD",
        "round": {"id": 3, "name": "2026年第四季度餐饮服务双随机抽查"}
        if channel != "warning"
        else None,
        "warning": None,
        "entity": {
            "uscc": _uscc(n),
            "name": name,
            "address": address,
            "region_code": "330106",
            "credit_grade": grade,
            "credit_score": 610.0,
            "business_type": "catering",
        },
        "form_code": "catering",
        "domains": ["food_safety"],
        "check_items": [],
        "inspectors": [{"id": 1, "name": "王执法"}, {"id": 2, "name": "赵执法"}],
        "problem_found": None,
        "created_at": "2026-11-20T08:00:00",
        "updated_at": "2026-11-20T08:00:00",
        **extra,
    }


WARNING = {
    "id": 41,
    "model": "food_safety",
    "model_label": "食品安全风险",
    "level": "red",
    "level_label": "红色",
    "score": 0.91,
    "state": "dispatched",
    "issued_on": "2026-11-18",
    "due_on": "2026-11-23",
    "reasons": [
        {
            "code": "complaints_90d",
            "label": "近90天投诉",
            "detail": "近90天投诉 7 起，同类均值 0.8 起",
        },
        {"code": "licence_expiring", "label": "许可证临期", "detail": "食品经营许可证 12 天后到期"},
    ],
    "legal_basis": [{"law": "食品安全法", "article": 35, "label": "第三十五条", "text": None}],
}

CHECK_ITEMS = [
    {
        "code": "SCJG-FOOD-03",
        "question_id": "ci_SCJG-FOOD-03",
        "item": "餐饮服务从业人员健康管理",
        "domain": "food_safety",
        "legal_basis": "《中华人民共和国食品安全法》第四十五条",
        "law": "食品安全法",
        "article": 45,
    }
]


def fill_store(directory: Path, server_url: str = "http://127.0.0.1:9") -> Handheld:
    from server.reference.laws import load_laws

    h = Handheld(directory, server_url)
    user = {
        "id": 1,
        "username": "inspector",
        "display_name": "王执法",
        "roles": ["inspector"],
        "department_code": "330100-FOOD",
        "inspector_id": 1,
    }
    h.store.set_setting("user", user)
    h.store.set_setting("token", "offline-demo")
    h.store.set_setting("last_refresh", "2026-11-25T08:30:00+00:00")
    tasks = [
        _task(
            101,
            "杭州西湖楼外楼餐饮有限公司",
            "杭州市西湖区孤山路30号",
            "C",
            "2099-12-31",
            "warning",
            warning=WARNING,
            check_items=CHECK_ITEMS,
        ),
        _task(102, "杭州知味观食品有限公司", "杭州市上城区仁和路83号", "B", "2099-12-31", "random"),
        _task(
            103,
            "杭州新白鹿餐厅管理有限公司",
            "杭州市拱墅区武林路112号",
            "A",
            "2099-12-20",
            "credit_weighted",
        ),
        _task(104, "杭州外婆家餐饮有限公司", "杭州市西湖区文三路18号", "D", "2026-01-10", "random"),
    ]
    h.store.save_tasks(tasks)
    h.store.save_form(
        json.loads((ROOT / "data" / "forms" / "catering.json").read_text(encoding="utf-8"))
    )
    h.store.save_entity(
        {
            "id": 1,
            "uscc": tasks[0]["entity"]["uscc"],
            "name": tasks[0]["entity"]["name"],
            "address": tasks[0]["entity"]["address"],
            "legal_representative": "陈建国",
            "phone": "0571-87969023",
            "entity_type": "company",
            "entity_type_label": "有限责任公司",
            "business_type": "catering",
            "registered_on": "2009-06-12",
            "registered_capital": 500.0,
            "status": "active",
            "status_label": "存续",
            "region": {"code": "330106", "name": "西湖区"},
            "industry": {"code": "H6210", "name": "正餐服务"},
            "licences": [
                {
                    "kind": "food_business",
                    "kind_label": "食品经营许可证",
                    "number": "JY23301060012345",
                    "valid_from": "2021-12-07",
                    "valid_to": "2026-12-06",
                    "status": "valid",
                }
            ],
            "credit": {
                "score": 588.5,
                "grade": "C",
                "as_of": "2026-11-01",
                "override": None,
                "reasons": [
                    {"label": "近一年行政处罚", "detail": "2026年3月因超范围经营被处罚"},
                    {"label": "投诉", "detail": "近90天投诉 7 起"},
                ],
                "history": [],
            },
            "open_warnings": [WARNING],
            "inspections": [
                {
                    "date": "2025-09-14",
                    "problem_found": True,
                    "channel": "random",
                    "summary": "发现问题：从业人员健康证明",
                    "task_id": 12,
                }
            ],
        }
    )
    for law in load_laws(ROOT / "data" / "laws"):
        h.store.save_law(
            {
                "id": law.short_title,
                "title": law.title,
                "version_date": str(law.version_date),
                "articles": [
                    {"number": a.number, "label": a.label, "chapter": a.chapter, "text": a.text}
                    for a in law.articles
                ],
            }
        )
    return h
