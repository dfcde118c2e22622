# Regenerates data/forms/*.json from the check-item catalogue (run from the repo root).
import json, csv
from pathlib import Path
ci = {r["code"]: r for r in csv.DictReader(open("data/reference/check_items.csv"))}

def q(code, label=None, detail=None):
    c = ci[code]
    item = {"id": code.lower(), "type": "yes_no", "label": label or f"{c['item']}", "required": True,
            "domain": c["domain"], "problem_if": "no",
            "hint": "“是”表示符合规定，“否”表示发现问题",
            "legal_basis": c["legal_basis"], "legal_refs": [{"law": c["law"], "article": int(c["article"])}]}
    out = [item]
    out.append({"id": code.lower() + "_note", "type": "text", "label": detail or "问题描述（现场发现的具体情况）",
                "required": True, "relevant": {"item": code.lower(), "equals": "no"},
                "constraint": {"min_length": 4, "max_length": 500},
                "constraint_message": "请用4至500字描述发现的问题"})
    out.append({"id": code.lower() + "_photo", "type": "photo", "label": "问题照片", "required": False,
                "relevant": {"item": code.lower(), "equals": "no"}})
    return out

HEAD = [
    {"id": "location", "type": "location", "label": "检查地点定位", "required": True,
     "hint": "自动获取GPS定位；无信号时可手工输入经纬度"},
    {"id": "premises_open", "type": "choice", "label": "经营场所状况", "required": True,
     "choices": [{"value": "open", "label": "正常经营"}, {"value": "closed", "label": "停业/关闭"},
                 {"value": "not_found", "label": "通过登记住所无法联系"}],
     "problem_if": ["not_found"], "domain": "abnormal_operation",
     "legal_basis": ci["AO03"]["legal_basis"], "legal_refs": [{"law": "企业信息公示暂行条例", "article": 17}]},
    {"id": "site_photo", "type": "photo", "label": "现场照片（门头及经营场所）", "required": True},
    {"id": "persons_present", "type": "number", "label": "在场从业人员人数", "required": False,
     "constraint": {"min": 0, "max": 5000}, "constraint_message": "人数应在0到5000之间"},
]
TAIL = [
    {"id": "conclusion", "type": "choice", "label": "检查结论", "required": True,
     "choices": [{"value": "ok", "label": "未发现问题"}, {"value": "rectify", "label": "发现问题，责令限期整改"},
                 {"value": "case", "label": "发现问题，移交立案查处"}],
     "problem_if": ["rectify", "case"],
     "legal_basis": "《中华人民共和国行政处罚法》第五十五条（检查应当制作笔录）",
     "legal_refs": [{"law": "行政处罚法", "article": 55}]},
    {"id": "rectify_days", "type": "number", "label": "整改期限（天）", "required": True,
     "relevant": {"item": "conclusion", "equals": "rectify"},
     "constraint": {"min": 1, "max": 90}, "constraint_message": "整改期限应为1至90天"},
    {"id": "remarks", "type": "text", "label": "备注", "required": False, "constraint": {"max_length": 1000}},
    {"id": "inspector_signature", "type": "signature", "label": "执法人员签名", "required": True},
    {"id": "entity_signature", "type": "signature", "label": "被检查单位负责人签名", "required": True},
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
for code, (title, bts, codes) in FORMS.items():
    items = list(HEAD)
    # Every form starts with the basic checks (证照、住所、公示、投诉处理) any visit makes.
    codes = ["AO01", "RF02", "UL02", "CS01"] + [c for c in codes if c not in ("AO01", "RF02", "UL02", "CS01")]
    for c in codes:
        items += q(c)
    items += TAIL
    doc = {"code": code, "version": "2026.1", "title": title, "business_types": bts, "items": items}
    Path(f"data/forms/{code}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(code, len(items))
