"""What an inspection concluded, as published (抽查检查结果), and the follow-up taken.

The categories are those market regulators publish for 双随机 results on the national
enterprise credit information publicity system (国家企业信用信息公示系统): one per entity
inspected, never a bare "检查结论". ``problem_found`` is true exactly for the categories
in :data:`PROBLEM_CATEGORIES`.
"""

from __future__ import annotations

#: Published result categories, code → label (the label is what the public reads).
RESULT_CATEGORIES: dict[str, str] = {
    "no_problem": "未发现问题",
    "annual_report_not_published": "未按规定公示年度报告",
    "unreachable": "通过登记的住所（经营场所）无法联系",
    "problem_corrected": "发现问题已责令改正",
    "problem_referred": "发现问题待后续处理（已移送/已立案）",
    "refused": "不配合检查",
    "not_operating": "未开展经营",
}

#: Categories that count as "problem found" for hit rates and the models' labels.
PROBLEM_CATEGORIES: frozenset[str] = frozenset(
    {"annual_report_not_published", "unreachable", "problem_corrected", "problem_referred", "refused"}
)

#: Follow-up taken after a result (后续处置), code → label.
FOLLOW_UPS: dict[str, str] = {
    "none": "无需后续处置",
    "rectification_ordered": "责令限期改正",
    "rectified": "已整改完毕",
    "case_referred": "已移送立案",
    "case_filed": "已立案查处",
    "listed_abnormal": "已列入经营异常名录",
}
