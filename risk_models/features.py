"""The entity feature catalogue: the contract between the server and the models.

The server computes every feature below for every entity, in bulk, from recorded
data only (registration, licences, annual reports, penalties, lists, complaints,
sampling tests, equipment, prices, adverts, online-shop metrics, prepaid records,
measuring instruments, certificates, and the system's own inspection results and
warnings). A model names the features it reads in its ``features`` class attribute
and receives them as the columns of ``X`` in that order.

Conventions
-----------
* ``kind="num"``: float64; ``NaN`` means "no data" (a missing annual report is a
  ``1`` in ``annual_report_missing``, not a NaN).
* ``kind="id"``: a non-negative integer code (stored as float64) of a shared
  attribute (address, phone, legal representative); equal codes mean the same
  attribute, ``-1`` means unknown. Used by graph features.
* ``kind="text"``: an object array of ``str`` (empty string when there is none).
* Windows are counted back from the scoring date (``as_of``), exclusive of it.

Each feature has a Chinese label: reasons shown to inspectors and supervisors are
built from it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COMPLAINT_CATEGORIES",
    "DIMENSIONS",
    "FEATURES",
    "FEATURE_INDEX",
    "TEST_KINDS",
    "Feature",
    "feature",
    "labels",
]

#: The five credit indicator dimensions, plus ``domain`` for model-specific signals.
DIMENSIONS: dict[str, str] = {
    "basic": "基础登记信息",
    "operation": "经营与年报",
    "compliance": "合规记录",
    "supervision": "监管检查结果",
    "social": "社会评价",
    "domain": "专项监测数据",
}

#: Complaint (12315) categories, each mapped to the warning domain it feeds.
COMPLAINT_CATEGORIES: dict[str, str] = {
    "food": "食品",
    "drug": "药品医疗器械",
    "equipment": "特种设备",
    "quality": "产品质量",
    "price": "价格",
    "advertising": "广告",
    "online": "网络交易",
    "prepaid": "预付式消费",
    "metrology": "计量",
    "counterfeit": "假冒侵权",
}

#: Kinds of sampling test (监督抽检) whose results are recorded.
TEST_KINDS: dict[str, str] = {
    "food": "食品抽检",
    "drug": "药品医疗器械抽检",
    "product": "产品质量抽检",
    "authenticity": "商标真伪鉴定",
}


@dataclass(frozen=True)
class Feature:
    """One entity-level feature.

    Parameters
    ----------
    name : str
        Code name, used as the column name everywhere.
    label : str
        Chinese label shown in reasons.
    dimension : str
        One of :data:`DIMENSIONS`.
    kind : {"num", "id", "text"}
        Storage kind, see the module docstring.
    higher_is_riskier : bool or None
        Expected direction of risk, ``None`` where it is not monotone. Scorecards use
        it to constrain bins.
    """

    name: str
    label: str
    dimension: str
    kind: str = "num"
    higher_is_riskier: bool | None = True


def _f(name: str, label: str, dimension: str, kind: str = "num",
       higher: bool | None = True) -> Feature:
    return Feature(name, label, dimension, kind, higher)


_BASE: list[Feature] = [
    # basic registration facts
    _f("age_years", "成立年限(年)", "basic", higher=False),
    _f("is_individual", "个体工商户", "basic", higher=None),
    _f("capital_log", "注册资本(对数)", "basic", higher=False),
    _f("address_id", "登记住所", "basic", kind="id", higher=None),
    _f("phone_id", "联系电话", "basic", kind="id", higher=None),
    _f("legal_rep_id", "法定代表人", "basic", kind="id", higher=None),
    # operation and annual reporting
    _f("annual_report_missing", "上一年度年报未报送", "operation"),
    _f("annual_report_late_3y", "近三年年报逾期次数", "operation"),
    _f("on_abnormal_list", "列入经营异常名录", "operation"),
    _f("address_unreachable", "通过登记住所无法联系", "operation"),
    _f("closure_signal", "停业或失联迹象", "operation"),
    # compliance
    _f("penalties_3y", "近三年行政处罚次数", "compliance"),
    _f("penalty_amount_log", "近三年罚没金额(对数)", "compliance"),
    _f("on_serious_violation_list", "列入严重违法失信名单", "compliance"),
    # supervision results (the system's own records)
    _f("inspections_3y", "近三年检查次数", "supervision", higher=None),
    _f("inspection_problems_3y", "近三年检查发现问题次数", "supervision"),
    _f("problem_rate_shrunk", "历史检查问题发现率(收缩估计)", "supervision"),
    _f("last_inspection_problem", "上次检查发现问题", "supervision"),
    _f("days_since_inspection", "距上次检查天数", "supervision", higher=None),
    _f("warnings_confirmed_2y", "近两年预警核实有问题次数", "supervision"),
    # social signals
    _f("complaints_90d", "近90天投诉举报件数", "social"),
    _f("complaints_365d", "近一年投诉举报件数", "social"),
    _f("complaints_prior_360d", "90天前的一年内投诉举报件数(基线)", "social", higher=None),
    _f("court_enforcement", "被列为失信被执行人", "social"),
    _f("tax_arrears", "欠缴税款", "social"),
    # licences and activity
    _f("licence_required", "所属行业需持证经营", "domain", higher=None),
    _f("licence_valid", "持有有效许可证", "domain", higher=False),
    _f("licence_expired_days", "许可证过期天数", "domain"),
    _f("activity_signals_90d", "近90天经营活动信号数", "domain", higher=None),
    # special equipment
    _f("equipment_count", "在用特种设备台数", "domain", higher=None),
    _f("equipment_overdue", "超期未检特种设备台数", "domain"),
    _f("equipment_max_age_years", "特种设备最长使用年限", "domain"),
    _f("equipment_incidents_3y", "近三年特种设备事故及故障", "domain"),
    # prices
    _f("price_reports_90d", "近90天价格监测记录数", "domain", higher=None),
    _f("price_deviation_max", "价格高于区域同行中位数的最大幅度", "domain"),
    _f("price_deviation_mean", "价格高于区域同行中位数的平均幅度", "domain"),
    _f("emergency_price_reports", "应急期间价格监测记录数", "domain", higher=None),
    # advertising
    _f("ad_count_90d", "近90天监测广告条数", "domain", higher=None),
    _f("ad_text", "监测广告文本", "domain", kind="text", higher=None),
    # online trade
    _f("online_orders_90d", "近90天网络订单数", "domain", higher=None),
    _f("online_refund_rate", "网络订单退款率", "domain"),
    _f("online_complaint_rate", "每千单投诉数", "domain"),
    _f("licence_displayed", "网店亮照亮证", "domain", higher=False),
    # prepaid consumption
    _f("prepaid_balance_log", "预付卡未兑付余额(对数)", "domain"),
    _f("prepaid_cards_90d", "近90天售卡数", "domain", higher=None),
    # metrology
    _f("instrument_count", "强制检定计量器具台数", "domain", higher=None),
    _f("instrument_overdue", "超期未检定计量器具台数", "domain"),
    # certification
    _f("ccc_products", "强制性认证产品数", "domain", higher=None),
    _f("cert_expired_selling", "证书过期或撤销仍在销售的产品数", "domain"),
    _f("cert_suspended", "被暂停的认证证书数", "domain"),
]

_COMPLAINTS_BY_CATEGORY: list[Feature] = [
    _f(f"complaints_{window}_{cat}", f"{'近90天' if window == '90d' else '近一年'}{label}投诉", "social")
    for cat, label in COMPLAINT_CATEGORIES.items()
    for window in ("90d", "365d")
]

_TESTS_BY_KIND: list[Feature] = [
    f
    for kind, label in TEST_KINDS.items()
    for f in (
        _f(f"tests_3y_{kind}", f"近三年{label}批次", "domain", higher=None),
        _f(f"tests_failed_3y_{kind}", f"近三年{label}不合格批次", "domain"),
    )
]

#: Grouping codes appended after the first 78 features (positions of those unchanged).
_GROUPS: list[Feature] = [
    # peers of the complaint-surge test: same business type within the same county
    # (region_code); the server codes each (business_type, region_code) pair as an
    # integer, -1 if unknown (the model then compares with all rows passed)
    _f("peer_group_id", "同业同区分组(业态×县区)", "basic", kind="id", higher=None),
]

#: Every feature the server computes, in a fixed order.
FEATURES: tuple[Feature, ...] = tuple(_BASE + _COMPLAINTS_BY_CATEGORY + _TESTS_BY_KIND + _GROUPS)

#: Name → position in :data:`FEATURES`.
FEATURE_INDEX: dict[str, int] = {f.name: i for i, f in enumerate(FEATURES)}

if len(FEATURE_INDEX) != len(FEATURES):  # pragma: no cover - guards edits of the catalogue
    raise RuntimeError("duplicate feature name in the catalogue")


def feature(name: str) -> Feature:
    """Return the catalogue entry for ``name``.

    Raises
    ------
    KeyError
        If ``name`` is not in the catalogue; the message lists close names.
    """
    try:
        return FEATURES[FEATURE_INDEX[name]]
    except KeyError:
        close = [f.name for f in FEATURES if name.split("_")[0] in f.name][:5]
        raise KeyError(f"unknown feature {name!r}; similar: {close}") from None


def labels(names: list[str] | tuple[str, ...]) -> list[str]:
    """Return the Chinese labels of ``names``, in order."""
    return [feature(n).label for n in names]
