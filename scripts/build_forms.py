"""Regenerate data/forms/*.json from the check-item catalogue (run from the repo root).

Every judged item is a ``compliance`` item (符合 / 不符合 / 不适用) stating the requirement
positively, as the check-item catalogue words it; 不符合 opens a required finding note
(问题描述) and an optional photo. The judged items apply only when the premises could be
inspected (现场情况 = 正常经营): an entity that cannot be found, is closed or refuses the
inspection has nothing to judge, and its result category follows from that answer.

A form whose content changes gets a new ``version``; ``older_versions: "refuse"`` tells the
server that submissions filled in on an earlier version can no longer be accepted (their
answers cannot be read under the new rules), with ``changes`` as the reason shown.
"""

import csv
import json
from pathlib import Path

VERSION = "2026.2"
CHANGES = ("判定项改为“符合/不符合/不适用”并以正面表述列明要求；检查结论改为公示结果类别；"
           "修正部分法律依据。旧版“是/否”答案含义取决于题目措辞，无法按新规则判定")

ci = {r["code"]: r for r in csv.DictReader(open("data/reference/check_items.csv", encoding="utf-8"))}
INSPECTABLE = {"item": "premises_open", "equals": "open"}


def judged(code):
    c = ci[code]
    item_id = code.lower()
    item = {"id": item_id, "type": "compliance", "label": c["item"], "required": True,
            "domain": c["domain"], "check_item": code, "topic": c["category"],
            "relevant": INSPECTABLE,
            "hint": "不适用＝该单位不涉及此事项（合理缺项）；选“不符合”须写明问题",
            "legal_basis": c["legal_basis"], "legal_refs": [{"law": c["law"], "article": int(c["article"])}],
            "basis_quote": c["basis_quote"]}
    if code == "AO01":
        # non-compliance here is published as 未按规定公示年度报告 (企业信息公示暂行条例 第八条、第十七条)
        item["result_category"] = "annual_report_not_published"
    return [
        item,
        {"id": item_id + "_note", "type": "text", "label": "问题描述（不符合的具体情况）", "required": True,
         "relevant": {"item": item_id, "equals": "non_compliant"},
         "constraint": {"min_length": 4, "max_length": 500}, "constraint_message": "请用4至500字描述发现的问题"},
        {"id": item_id + "_photo", "type": "photo", "label": "问题照片", "required": False,
         "relevant": {"item": item_id, "equals": "non_compliant"}},
    ]


AO03 = ci["AO03"]
HEAD = [
    {"id": "location", "type": "location", "label": "检查地点定位", "required": True,
     "hint": "自动获取GPS定位；无信号时可手工输入经纬度"},
    {"id": "premises_open", "type": "choice", "label": "现场情况", "required": True,
     "choices": [
         {"value": "open", "label": "正常经营，接受检查"},
         {"value": "closed", "label": "停业/关闭（未开展经营）", "result_category": "not_operating"},
         {"value": "not_found", "label": "通过登记的住所（经营场所）无法联系", "result_category": "unreachable"},
         {"value": "refused", "label": "拒绝、阻挠检查", "result_category": "refused"},
     ],
     "inspectable_if": "open",
     "problem_if": ["not_found"], "domain": "abnormal_operation", "check_item": "AO03", "topic": AO03["category"],
     "hint": "无法联系或拒绝检查时，其余检查项不再填写，检查结论按现场情况选择",
     "legal_basis": AO03["legal_basis"] + "；《中华人民共和国行政处罚法》第五十五条（不得拒绝或者阻挠检查）",
     "legal_refs": [{"law": AO03["law"], "article": int(AO03["article"])}, {"law": "行政处罚法", "article": 55}],
     "basis_quote": AO03["basis_quote"]},
    {"id": "site_photo", "type": "photo", "label": "现场照片（门头及经营场所）", "required": True},
    {"id": "persons_present", "type": "number", "label": "在场从业人员人数", "required": False,
     "relevant": INSPECTABLE,
     "constraint": {"min": 0, "max": 5000}, "constraint_message": "人数应在0到5000之间"},
]
TAIL = [
    {"id": "remarks", "type": "text", "label": "备注", "required": False, "constraint": {"max_length": 1000}},
    {"id": "inspector_signature", "type": "signature", "label": "执法人员签名", "required": True},
    {"id": "entity_signature", "type": "signature", "label": "被检查单位负责人签名", "required": True,
     "relevant": INSPECTABLE},
]

FORMS = {
    "catering": ("餐饮服务经营者监督检查表", ["catering"],
                 ["FS01", "FS02", "FS03", "FS04", "FS05", "FS07", "FS08", "PR01", "UL03"]),
    "food_production": ("食品生产企业监督检查表", ["food_production"],
                        ["FS01", "FS02", "FS03", "FS09", "FS10", "FS11", "FS12", "PQ05", "CE01"]),
    "food_retail": ("食品销售经营者监督检查表", ["food_retail"],
                    ["FS01", "FS03", "FS05", "FS06", "FS10", "PR01", "PR03", "ME01", "TM01"]),
    "pharmacy": ("药品零售和医疗器械经营企业监督检查表", ["pharmacy", "medical_device"],
                 ["DR01", "DR02", "DR03", "DR04", "DR05", "DR06", "DR07", "DR08", "PR01"]),
    "special_equipment": ("特种设备使用单位监督检查表", ["special_equipment_user"],
                          ["SE01", "SE02", "SE03", "SE04", "SE05", "SE06"]),
    "manufacturer": ("工业产品生产企业监督检查表", ["manufacturer"],
                     ["PQ01", "PQ02", "PQ03", "PQ04", "PQ05", "CE01", "CE02", "TM01", "TM02"]),
    "ecommerce": ("网络交易经营者监督检查表", ["ecommerce"],
                  ["OT01", "OT02", "OT03", "OT04", "OT05", "AD01", "PR03", "TM01"]),
    "prepaid": ("预付式消费经营者监督检查表", ["prepaid"],
                ["PP01", "PP02", "PP03", "CS02", "CS03", "PR01", "AD02"]),
    "metrology": ("加油站计量监督检查表", ["fuel_station"],
                  ["ME01", "ME02", "ME03", "PR01", "SE02"]),
    "general": ("市场主体通用监督检查表", ["general_retail", "advertising"],
                ["AO01", "AO04", "RF02", "UL01", "UL02", "PR01", "AD01", "AD02", "CS01", "TM01", "CE01"]),
}
BASIC = ["AO01", "RF02", "UL02", "CS01"]

if __name__ == "__main__":
    for code, (title, bts, codes) in FORMS.items():
        items = list(HEAD)
        # Every form starts with the basic checks (证照、住所、公示、投诉处理) any visit makes.
        for c in BASIC + [c for c in codes if c not in BASIC]:
            items += judged(c)
        items += TAIL
        doc = {"code": code, "version": VERSION, "title": title, "business_types": bts,
               "changes": CHANGES, "older_versions": "refuse", "items": items}
        Path(f"data/forms/{code}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n",
                                                   encoding="utf-8")
        print(code, len(items))
