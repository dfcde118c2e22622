"""A synthetic province: market entities, their hidden compliance, and the records they leave.

The generator is the simulator's *nature*. Each entity has a hidden latent risk per
warning domain, ``L[e, d] = s_e + u_ed`` (a general factor shared by all of the entity's
domains plus a domain-specific one). The chance that an inspection checking domain ``d``
finds a violation there is ``sigmoid(c_b + a_d + L[e, d])`` times a detection rate; the
intercepts ``c_b`` are calibrated per business type so that a plain random inspection of
any business type finds a problem with probability :attr:`ProvinceConfig.base_rate`
(9.42 % by default, the seed system's figure).

Observable records (registration facts, licences, annual reports, lists, complaints,
sampling tests, equipment, prices, adverts, online-shop metrics, prepaid cards,
instruments, certificates, activity signals, penalties, fraud rings) are generated from
``signal × L`` plus noise. At ``signal = 0`` they are independent of the hidden truth:
no honest model can beat random there.

The hidden arrays live only in this object. Records go to the same tables a real
deployment fills from its data feeds (bulk Core inserts); nothing hidden is written.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit
from sqlalchemy import select
from sqlalchemy.orm import Session

from risk_models.registry import MODEL_NAMES
from server.entities.models import Entity, Licence
from server.feeds.models import (
    ActivitySignal,
    AdRecord,
    AnnualReport,
    Certificate,
    Complaint,
    EntityFlag,
    Equipment,
    Instrument,
    ListEntry,
    OnlineMetric,
    Penalty,
    PrepaidRecord,
    PriceReport,
    SamplingTest,
)
from server.reference.models import BusinessType, Region
from server.risk.features import locate
from server.validation import make_usccs

DOMAINS: tuple[str, ...] = tuple(MODEL_NAMES)
D = {name: i for i, name in enumerate(DOMAINS)}

#: Share of each business type among registered entities.
BUSINESS_MIX: dict[str, float] = {
    "catering": 0.22, "food_retail": 0.15, "food_production": 0.04, "pharmacy": 0.05, "medical_device": 0.02,
    "special_equipment_user": 0.05, "manufacturer": 0.10, "ecommerce": 0.10, "prepaid": 0.08,
    "advertising": 0.03, "fuel_station": 0.02, "general_retail": 0.14,
}
#: Relative size of each city (market entities), for drawing regions.
CITY_WEIGHT = {"3301": 0.22, "3302": 0.16, "3303": 0.15, "3304": 0.08, "3305": 0.05, "3306": 0.09,
               "3307": 0.12, "3308": 0.03, "3309": 0.02, "3310": 0.06, "3311": 0.02}
# ------------------------------------------------------------------ what registers see
# Names follow 企业名称登记管理规定 (2020) 第六条 (行政区划 + 字号 + 行业或经营特点 +
# 组织形式) for companies, and 个体工商户名称登记管理办法 第六、七条 for individual
# businesses: the county (区/县/市) + 字号 + 行业 + 组织形式, where the 组织形式 is
# 店/馆/部/行/厂/坊/中心/工作室… and never 企业/公司 (第十条) — so no 个体工商户 is
# called "…有限公司".
TRADE_NAME_CHARS = list("华兴鑫源恒盛泰达丰瑞祥和顺宏昌隆福康新安通利德美嘉佳乐欣荣信诚远航明辉晨阳光海天云"
                        "金银宝鼎汇聚创博联合众益腾飞悦宜家惠民友邦永正君越锦绣春秋百川万方")
#: Business type → (行业 + 组织形式) endings of an individual business (个体工商户).
INDIVIDUAL_ENDINGS: dict[str, tuple[str, ...]] = {
    "catering": ("小吃店", "面馆", "餐馆", "饭店", "快餐店", "饮品店", "烧烤店"),
    "food_retail": ("便利店", "副食品店", "食品商行", "超市", "水果店", "粮油店"),
    "food_production": ("食品加工坊", "豆制品厂", "糕点坊"),
    "pharmacy": ("药店", "大药房"),
    "medical_device": ("医疗器械商行", "医疗器械经营部"),
    "special_equipment_user": ("宾馆", "旅馆"),
    "manufacturer": ("服装加工厂", "五金加工厂", "塑料制品厂"),
    "ecommerce": ("电子商务商行", "网络商行", "电商服务部"),
    "prepaid": ("美发店", "理发店", "美容工作室", "健身工作室", "培训中心"),
    "advertising": ("图文广告部", "广告工作室"),
    "fuel_station": ("加油站",),
    "general_retail": ("便利店", "百货商店", "日用品店", "五金店", "百货商行"),
}
#: Business type → 行业 (or 经营特点) words of a company's name, before its 组织形式.
COMPANY_TRADES: dict[str, tuple[str, ...]] = {
    "catering": ("餐饮管理", "餐饮", "餐饮服务"),
    "food_retail": ("超市", "食品", "商贸"),
    "food_production": ("食品", "食品科技", "食品工业"),
    "pharmacy": ("大药房", "医药连锁", "医药"),
    "medical_device": ("医疗器械", "医疗科技"),
    "special_equipment_user": ("酒店管理", "物业管理", "商业管理"),
    "manufacturer": ("电器", "服饰", "玩具", "照明科技", "机械制造"),
    "ecommerce": ("电子商务", "网络科技"),
    "prepaid": ("健身服务", "教育科技", "美容美发"),
    "advertising": ("广告传媒", "文化传媒"),
    "fuel_station": ("石油销售", "能源"),
    "general_retail": ("商贸", "百货", "贸易"),
}
#: Entity type → 组织形式 endings of a company name (公司法, 合伙企业法 第十五条).
COMPANY_FORMS: dict[str, tuple[str, ...]] = {
    "company": ("有限公司", "有限责任公司"),
    "joint_stock": ("股份有限公司",),
    "partnership": ("合伙企业（有限合伙）", "合伙企业（普通合伙）"),
    "branch": ("有限公司",),
}
#: Street names (2–4 characters) and the kinds of street they name.
STREET_NAMES = ("文三", "文二", "中山", "解放", "人民", "建设", "东风", "胜利", "和平", "新华", "友谊", "延安",
                "凤起", "庆春", "莫干山", "天目山", "体育场", "环城北", "湖墅南", "古墩", "学院", "教工", "江南",
                "滨盛", "江晖", "钱江", "长江", "黄河", "振兴", "光明", "青年", "府前", "北山", "南山", "湖滨",
                "凤凰", "兴业", "工业", "创业", "科技", "金沙", "望江", "秋涛", "清泰", "平海", "武林", "学士",
                "中河", "东新", "新塘", "世纪", "开元", "文化", "商城", "育才", "沿江", "朝阳", "迎宾", "丰收",
                "解放东", "人民西", "中山北", "建设南", "工业园", "金融港", "高新技术")
STREET_KINDS = (("路", 0.62), ("街", 0.18), ("大道", 0.08), ("巷", 0.12))
#: Allocated mobile number segments (工业和信息化部 号段), by the three operators and 广电.
MOBILE_PREFIXES = (130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157,
                   158, 159, 166, 170, 171, 173, 175, 176, 177, 178, 180, 181, 182, 183, 184, 185, 186, 187,
                   188, 189, 190, 191, 192, 193, 195, 196, 197, 198, 199)
#: City → (long-distance area code, digits of a local number, 浙 licence-plate letter, one-character abbreviation).
CITY_PHONE = {"3301": ("0571", 8, "A", "杭"), "3302": ("0574", 8, "B", "甬"), "3303": ("0577", 8, "C", "温"),
              "3304": ("0573", 8, "F", "嘉"), "3305": ("0572", 7, "E", "湖"), "3306": ("0575", 8, "D", "绍"),
              "3307": ("0579", 8, "G", "金"), "3308": ("0570", 7, "H", "衢"), "3309": ("0580", 7, "L", "舟"),
              "3310": ("0576", 8, "J", "台"), "3311": ("0578", 7, "K", "丽")}
PROVINCE_ABBREVIATION = {"11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙", "21": "辽", "22": "吉",
                         "23": "黑", "31": "沪", "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣",
                         "37": "鲁", "41": "豫", "42": "鄂", "43": "湘", "44": "粤", "45": "桂", "46": "琼",
                         "50": "渝", "51": "川", "52": "贵", "53": "云", "54": "藏", "61": "陕", "62": "甘",
                         "63": "青", "64": "宁", "65": "新"}
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华")
CLEAN_ADS = ("新店开业，欢迎惠顾", "本周特价，满100减10", "品质保证，售后无忧", "新品上市，欢迎选购",
             "会员日全场九折", "诚信经营，明码标价")
BAD_ADS = ("国家级品质，全网第一", "本品可治愈高血压，无效退款", "投资保本，年化收益20%稳赚不赔",
           "最佳选择，销量第一品牌", "治疗失眠，药到病除", "顶级工艺，绝无仅有")
PRICE_ITEMS = {"catering": ("米饭", "红烧肉", "青菜"), "food_retail": ("大米", "食用油", "猪肉"),
               "pharmacy": ("口罩", "感冒灵", "体温计"), "ecommerce": ("手机壳", "充电器"),
               "prepaid": ("理发", "健身月卡"), "fuel_station": ("92号汽油", "0号柴油"),
               "general_retail": ("矿泉水", "纸巾", "洗衣液")}
PRICE_BASE = {"米饭": 2, "红烧肉": 38, "青菜": 12, "大米": 3, "食用油": 15, "猪肉": 14, "口罩": 1, "感冒灵": 18,
              "体温计": 25, "手机壳": 20, "充电器": 45, "理发": 40, "健身月卡": 300, "92号汽油": 7.8,
              "0号柴油": 7.5, "矿泉水": 2, "纸巾": 10, "洗衣液": 30, "面粉": 4}
TEST_KIND = {"catering": "food", "food_retail": "food", "food_production": "food", "pharmacy": "drug",
             "medical_device": "drug", "manufacturer": "product", "general_retail": "authenticity",
             "ecommerce": "authenticity"}
COMPLAINT_OF_DOMAIN = {"food_safety": "food", "drug_device_retail": "drug", "special_equipment": "equipment",
                       "product_quality": "quality", "price_violation": "price", "advertising": "advertising",
                       "online_trade": "online", "prepaid_consumer": "prepaid", "metrology": "metrology",
                       "trademark_ip": "counterfeit"}


@dataclass
class ProvinceConfig:
    entities: int = 20_000
    seed: int = 7
    signal: float = 1.0
    start: dt.date = dt.date(2026, 1, 5)
    history_years: int = 3
    base_rate: float = 0.0942
    detection: float = 0.9
    general_sd: float = 1.0
    domain_sd: float = 0.9


def _pick(rng: np.random.Generator, options: Any, n: int) -> np.ndarray:
    opts = np.asarray(options, dtype=object)
    return opts[rng.integers(0, len(opts), n)]


def _pick_per(rng: np.random.Generator, table: dict[str, tuple[str, ...]], keys: np.ndarray) -> np.ndarray:
    """For each key, one option of ``table[key]`` (uniform), vectorised over the keys."""
    u = rng.random(len(keys))
    out = np.empty(len(keys), dtype=object)
    for key, options in table.items():
        rows = np.flatnonzero(keys == key)
        if len(rows):
            out[rows] = np.asarray(options, dtype=object)[(u[rows] * len(options)).astype(int)]
    return out


def _trade_names(rng: np.random.Generator, n: int, length: np.ndarray) -> np.ndarray:
    chars = np.asarray(TRADE_NAME_CHARS, dtype=object)
    idx = rng.integers(0, len(chars), (n, 3))
    two = chars[idx[:, 0]] + chars[idx[:, 1]]
    return np.where(length == 3, two + chars[idx[:, 2]], two)


def entity_names(rng: np.random.Generator, btypes: np.ndarray, etypes: np.ndarray, regions: np.ndarray,
                 region_names: dict[str, str]) -> np.ndarray:
    """Registered names: 行政区划 + 字号 + 行业 + 组织形式, unique within the province.

    个体工商户: county name + 字号 + an ending of :data:`INDIVIDUAL_ENDINGS` (西湖区鑫源小吃店);
    companies: city name without 市 + 字号 + 行业 + 有限公司 / 有限责任公司 / 股份有限公司
    (杭州恒盛餐饮管理有限公司); a branch adds its county and 分公司.
    """
    n = len(btypes)
    if n == 0:
        return np.empty(0, dtype=object)
    regions = regions.astype(str)
    county = np.array([region_names.get(r, "") for r in regions], dtype=object)
    city = np.array([region_names.get(r[:4] + "00", "").removesuffix("市") for r in regions], dtype=object)
    individual = etypes == "individual"
    ending = _pick_per(rng, INDIVIDUAL_ENDINGS, btypes)
    trade = _pick_per(rng, COMPANY_TRADES, btypes)
    form = _pick_per(rng, COMPANY_FORMS, np.where(individual, "company", etypes))
    # a family-style 字号 (张记, 老王) for some individual businesses
    family = individual & (rng.random(n) < 0.25)
    surname = _pick(rng, SURNAMES, n)
    family_mark = np.where(rng.random(n) < 0.5, surname + "记", "老" + surname)
    branch_of = np.array([c[:-1] if len(c) > 2 and c[-1] in "区县市" else c for c in county],
                         dtype=object)
    names = np.empty(n, dtype=object)
    todo = np.arange(n)
    for attempt in range(8):  # names are unique per registration area: redraw a duplicate's 字号
        length = np.where(rng.random(len(todo)) < 0.2 + 0.1 * attempt, 3, 2)
        word = _trade_names(rng, len(todo), length)
        word = np.where(family[todo] & (attempt == 0), family_mark[todo], word)
        ind = individual[todo]
        company = city[todo] + word + trade[todo] + form[todo]
        company = np.where(etypes[todo] == "branch", company + branch_of[todo] + "分公司", company)
        names[todo] = np.where(ind, county[todo] + word + ending[todo], company)
        dup = pd.Series(names).duplicated(keep="first").to_numpy()
        todo = np.flatnonzero(dup)
        if not len(todo):
            break
    return names


def street_addresses(rng: np.random.Generator, regions: np.ndarray, region_names: dict[str, str]) -> np.ndarray:
    """市 + 区/县 + street (2–4 character name + 路/街/大道/巷) + 号, sometimes 幢/室 or 商铺."""
    n = len(regions)
    if n == 0:
        return np.empty(0, dtype=object)
    regions = regions.astype(str)
    place = np.array([region_names.get(r[:4] + "00", "") + region_names.get(r, "") for r in regions], dtype=object)
    street = _pick(rng, STREET_NAMES, n)
    kinds, weights = zip(*STREET_KINDS, strict=True)
    kind = np.asarray(kinds, dtype=object)[rng.choice(len(kinds), n, p=np.asarray(weights) / sum(weights))]
    lane = kind == "巷"
    number = np.where(lane, rng.integers(1, 80, n), rng.integers(1, 1200, n)).astype(str).astype(object)
    room = rng.random(n)
    floor, unit = rng.integers(1, 25, n), rng.integers(1, 12, n)
    detail = np.where(room < 0.30, rng.integers(1, 12, n).astype(str).astype(object) + "幢"
                      + floor.astype(str).astype(object) + np.char.zfill(unit.astype(str), 2).astype(object) + "室",
                      np.where(room < 0.45, "1层" + rng.integers(101, 120, n).astype(str).astype(object) + "商铺", ""))
    return place + street + kind + number + "号" + detail


def phone_numbers(rng: np.random.Generator, regions: np.ndarray, landline_share: np.ndarray) -> np.ndarray:
    """Mobile numbers on allocated segments, or landlines with the city's area code (0571-8xxxxxxx)."""
    n = len(regions)
    if n == 0:
        return np.empty(0, dtype=object)
    prefix = _pick(rng, [str(p) for p in MOBILE_PREFIXES], n)
    mobile = prefix + np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8).astype(object)
    city = np.array([r[:4] for r in regions.astype(str)], dtype=object)
    area = np.array([CITY_PHONE.get(c, ("0571", 8, "A", "杭"))[0] for c in city], dtype=object)
    digits = np.array([CITY_PHONE.get(c, ("0571", 8, "A", "杭"))[1] for c in city])
    local = rng.integers(2, 9, n) * 10 ** (digits - 1) + rng.integers(0, 10**7, n) % 10 ** (digits - 1)
    landline = area + "-" + local.astype(str).astype(object)
    return np.where(rng.random(n) < landline_share, landline, mobile)


def iso7064_mod11_10(digits: str) -> str:
    """Check digit of GB/T 17710-2008 (ISO 7064) MOD 11,10 over ``digits``."""
    p = 10
    for d in digits:
        s = (p + int(d)) % 10 or 10
        p = (2 * s) % 11
    return str((11 - p) % 10)


def licence_numbers(rng: np.random.Generator, kinds: np.ndarray, regions: np.ndarray, btypes: np.ndarray,
                    etypes: np.ndarray, issued: np.ndarray) -> np.ndarray:
    """Licence numbers in each kind's issuing format (data/reference/licence_kinds.csv ``format``).

    - 食品经营许可证 (食品经营许可和备案管理办法): JY + 主体业态 (1 食品销售, 2 餐饮服务) +
      6-digit county code + 6-digit sequence + check digit;
    - 食品生产许可证 (食品生产许可管理办法): SC + 3-digit food category (1 + 类别 01–31) +
      6-digit county code + 4-digit sequence + check digit;
    - 药品经营许可证: 省份简称 + 分类代码 (C 零售; A 法人 / B 非法人) + 4-digit area code
      + 5-digit sequence (浙CA5710…);
    - 第三类医疗器械经营许可证: 省 + 市简称 + 药监械经营许 + year + 4-digit sequence + 号;
    - 全国工业产品生产许可证: XK + 行业 (2) - 产品 (3) - 企业 (5);
    - 特种设备使用登记证 (TSG 08-2017): 设备类别简称 + 品种代码 + 省 + 市代号 + 5-digit
      sequence + (2-digit year).
    The check digit (GB/T 17710 MOD 11,10) is this system's choice: the rules do not
    publish theirs. Sequences count up per kind and county in order of issue.
    """
    n = len(kinds)
    if n == 0:
        return np.empty(0, dtype=object)
    regions = regions.astype(str)
    year = pd.to_datetime(issued).year.to_numpy()
    province = np.array([PROVINCE_ABBREVIATION.get(r[:2], "浙") for r in regions], dtype=object)
    city = [CITY_PHONE.get(r[:4], ("0571", 8, "A", "杭")) for r in regions]
    category = rng.integers(1, 32, n)
    # the part before the sequence number (what the issuing authority numbers within)
    prefix = np.empty(n, dtype=object)
    width = np.zeros(n, dtype=np.int64)
    for i in range(n):
        k, r = kinds[i], regions[i]
        if k == "food_business":
            prefix[i], width[i] = "JY" + ("2" if btypes[i] == "catering" else "1") + r, 6
        elif k == "food_production":
            prefix[i], width[i] = f"SC1{int(category[i]):02d}{r}", 4
        elif k == "drug_retail":
            prefix[i], width[i] = (f"{province[i]}C{'B' if etypes[i] == 'branch' else 'A'}"
                                   f"{city[i][0][1:]}{int(r[-2:]) % 10}"), 5
        elif k == "device_business":
            prefix[i], width[i] = f"{province[i]}{city[i][3]}药监械经营许{year[i]}", 4
        elif k == "industrial_product":
            prefix[i], width[i] = f"XK{int(category[i]) % 30 + 1:02d}-{100 + int(category[i]) * 7:03d}-", 5
        elif k == "special_equipment_use":
            prefix[i], width[i] = f"梯11{province[i]}{city[i][2]}", 5
        else:  # a kind without a known format: authority, kind, county
            prefix[i], width[i] = f"{province[i]}{k[:2].upper()}{r}", 6
    # sequences count up in order of issue within each prefix, from where the authority stood
    frame = pd.DataFrame({"prefix": prefix, "issued": issued})
    group = frame.groupby("prefix", sort=True)
    seq = frame.sort_values("issued", kind="stable").groupby("prefix").cumcount().sort_index().to_numpy()
    base = rng.integers(1, 400, group.ngroups)[group.ngroup().to_numpy()]
    seq = seq + base
    out = np.empty(n, dtype=object)
    for i in range(n):
        k, w = kinds[i], int(width[i])
        number = f"{prefix[i]}{int(seq[i]) % 10**w:0{w}d}"
        if k in ("food_business", "food_production"):
            out[i] = number + iso7064_mod11_10(number[2:])
        elif k == "device_business":
            out[i] = number + "号"
        elif k == "special_equipment_use":
            out[i] = f"{number}({year[i] % 100:02d})"
        else:
            out[i] = number
    return out


def _weighted_choice(rng: np.random.Generator, options: list[str], weights: Iterable[float], n: int) -> np.ndarray:
    w = np.asarray(list(weights), dtype=np.float64)
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=w / w.sum())]


def _date(day: np.datetime64 | Any) -> dt.date:
    return pd.Timestamp(day).date()


class Province:
    """Nature: generates the entities and their records; decides what inspections find."""

    def __init__(self, config: ProvinceConfig, form_domains: dict[str, list[str]]) -> None:
        self.config = config
        self.rng = np.random.default_rng([config.seed, 1])
        self.form_domains = form_domains  # business type -> domains its inspection form checks
        self.entity_ids = np.zeros(0, dtype=np.int64)

    # ------------------------------------------------------------------ hidden truth
    def _hidden(self, btypes: np.ndarray) -> None:
        cfg, rng = self.config, self.rng
        n, k = len(btypes), len(DOMAINS)
        self.general = rng.normal(0, cfg.general_sd, n)
        self.specific = rng.normal(0, cfg.domain_sd, (n, k))
        self.applicable = np.zeros((n, k), dtype=bool)
        for b, domains in self.form_domains.items():
            rows = btypes == b
            for d in domains:
                self.applicable[rows, D[d]] = True
        # Domain intercepts: cross-cutting domains are rarer than the business's own ones.
        self.domain_intercept = np.array([-1.2 if d in ("abnormal_operation", "registration_fraud",
                                                        "unlicensed_operation", "complaint_surge") else 0.0
                                          for d in DOMAINS])
        self.type_intercept = np.zeros(n)
        for b in np.unique(btypes):
            rows = np.flatnonzero(btypes == b)

            def gap(c: float, rows: np.ndarray = rows) -> float:
                return float(self._p_any(rows, c).mean() - cfg.base_rate)

            self.type_intercept[rows] = brentq(gap, -15.0, 5.0)

    def latent(self) -> np.ndarray:
        return self.general[:, None] + self.specific

    def _p_domain(self, rows: np.ndarray, type_intercept: Any = None) -> np.ndarray:
        c = self.type_intercept[rows] if type_intercept is None else np.full(len(rows), float(type_intercept))
        logit = c[:, None] + self.domain_intercept + self.general[rows, None] + self.specific[rows]
        return np.where(self.applicable[rows], expit(logit) * self.config.detection, 0.0)

    def _p_any(self, rows: np.ndarray, type_intercept: Any = None) -> np.ndarray:
        return 1.0 - np.prod(1.0 - self._p_domain(rows, type_intercept), axis=1)

    def propensity(self) -> np.ndarray:
        """P(an inspection checking the entity's usual domains finds a problem) — hidden."""
        return self._p_any(np.arange(len(self.entity_ids)))

    def _z(self) -> np.ndarray:
        """What observables see: signal × standardised latent, per entity and domain."""
        sd = np.sqrt(self.config.general_sd**2 + self.config.domain_sd**2)
        return self.config.signal * self.latent() / sd

    def _zg(self) -> np.ndarray:
        return self.config.signal * self.general / self.config.general_sd

    def position(self, entity_ids: np.ndarray) -> np.ndarray:
        pos, found = locate(self.entity_ids, entity_ids)
        if not found.all():
            raise KeyError("entity not in the province")
        return pos

    def inspect(self, entity_ids: np.ndarray, checked: list[list[str]], *, on: dt.date,
                rng: np.random.Generator) -> list[list[str]]:
        """What each inspection finds: the checked domains with a violation present today.

        A found violation is rectified (the entity's risk in that domain drops).
        """
        rows = self.position(np.asarray(entity_ids, dtype=np.int64))
        p = self._p_domain(rows)
        draws = rng.random(p.shape) < p
        out = []
        for i, domains in enumerate(checked):
            found = [d for d in domains if d in D and draws[i, D[d]]]
            for d in found:
                self.specific[rows[i], D[d]] -= 0.8
            out.append(found)
        return out

    def oracle_rate(self, n: int, rng: np.random.Generator) -> tuple[int, int]:
        """``n`` inspections of the entities with the highest hidden propensity: (n, problems)."""
        prop = self.propensity()
        top = np.argsort(-prop, kind="stable")[:n]
        return len(top), int((rng.random(len(top)) < prop[top]).sum())

    # ------------------------------------------------------------------ registration
    def populate(self, session: Session) -> np.ndarray:
        """Register the entities (and their static records); return their ids."""
        cfg, rng = self.config, self.rng
        n = cfg.entities
        btype_rows = {b.code: b for b in session.scalars(select(BusinessType))}
        mix = {b: w for b, w in BUSINESS_MIX.items() if b in btype_rows and b in self.form_domains}
        btypes = _weighted_choice(rng, list(mix), mix.values(), n)
        self._hidden(btypes)
        z, zg = self._z(), self._zg()
        counties = session.execute(select(Region.code, Region.name, Region.parent_code)
                                   .where(Region.level == "county")).all()
        names = {r.code: r.name for r in session.scalars(select(Region))}
        cw = np.array([CITY_WEIGHT.get(c[0][:4], 0.02) / sum(1 for x in counties if x[0][:4] == c[0][:4])
                       for c in counties])
        region = np.array([c[0] for c in counties], dtype=object)[rng.choice(len(counties), n, p=cw / cw.sum())]
        industry = np.array([rng.choice(btype_rows[b].industries) for b in btypes], dtype=object)
        individual = rng.random(n) < np.where(np.isin(btypes, ["catering", "food_retail", "general_retail",
                                                               "prepaid", "ecommerce"]), 0.55, 0.1)
        etype = np.where(individual, "individual", _weighted_choice(rng, ["company", "joint_stock", "partnership",
                                                                         "branch"], [0.85, 0.03, 0.04, 0.08], n))
        # Younger businesses are riskier (through the observable channel only).
        age_days = np.clip(rng.exponential(7 * 365, n) * np.exp(-0.35 * zg), 60, 40 * 365).astype(int)
        registered = np.datetime64(cfg.start, "D") - age_days.astype("timedelta64[D]")
        capital = np.where(individual, np.nan, np.round(np.exp(rng.normal(4.5, 1.3, n)), 1))
        # Fraud rings: groups registered on a shared address / phone / legal representative.
        ring_p = 0.015 * np.exp(1.4 * z[:, D["registration_fraud"]] - 0.98)
        in_ring = rng.random(n) < np.clip(ring_p, 0, 0.5)
        ring_members = np.flatnonzero(in_ring)
        ring_id = np.full(n, -1)
        if len(ring_members):
            rng.shuffle(ring_members)
            sizes = np.cumsum(rng.integers(4, 12, size=len(ring_members)))
            ring_id[ring_members] = np.searchsorted(sizes, np.arange(len(ring_members)), side="right")
        # What registration shows (names, addresses, phones) comes from a stream of its own:
        # changing how it looks never changes nature's draws.
        looks = np.random.default_rng([cfg.seed, 2])
        address = street_addresses(looks, region, names)
        phone = phone_numbers(looks, region, np.where(individual, 0.1, 0.5))
        rep = np.array([a + b + c for a, b, c in zip(rng.choice(SURNAMES, n), rng.choice(GIVEN, n),
                                                     rng.choice(GIVEN + [""], n), strict=True)], dtype=object)
        if len(ring_members):
            first = pd.Series(np.arange(n)[ring_id >= 0]).groupby(ring_id[ring_id >= 0]).transform("first").to_numpy()
            members = np.flatnonzero(ring_id >= 0)
            share = rng.random(len(members))
            address[members[share < 0.8]] = address[first[share < 0.8]]
            phone[members[share < 0.6]] = phone[first[share < 0.6]]
            rep[members[share < 0.5]] = rep[first[share < 0.5]]
            region[members] = region[first]
            own = members[share >= 0.8]  # an address of their own, in the ring's county
            address[own] = street_addresses(looks, region[own], names)
            own = members[share >= 0.6]  # a phone of their own, with the ring's area code
            phone[own] = phone_numbers(looks, region[own], np.where(individual[own], 0.1, 0.5))
        name = entity_names(looks, btypes, etype, region, names)
        serial = rng.choice(31**8 - 1, size=n, replace=False) if n < 5_000_000 else np.arange(n) * 7 + 1
        kind = np.where(individual, "92", "91")
        uscc = make_usccs(region.astype(str), serial, kind)
        frame = pd.DataFrame({
            "uscc": uscc, "name": name, "region_code": region, "industry_code": industry, "business_type": btypes,
            "entity_type": etype, "registered_on": pd.to_datetime(registered).date, "status": "active",
            "address": address, "legal_representative": rep, "phone": phone, "registered_capital": capital,
        })
        frame["registered_capital"] = frame["registered_capital"].astype(object).where(
            frame["registered_capital"].notna(), None)
        _bulk(session, Entity.__table__, frame.to_dict("records"))
        ids = pd.DataFrame(session.execute(select(Entity.uscc, Entity.id)).all(), columns=["uscc", "id"])
        order = frame[["uscc"]].merge(ids, on="uscc", how="left")["id"].to_numpy(dtype=np.int64)
        # keep every hidden array aligned with entity ids sorted ascending
        sort = np.argsort(order, kind="stable")
        self.entity_ids = order[sort]
        for attr in ("general", "specific", "applicable", "type_intercept"):
            setattr(self, attr, getattr(self, attr)[sort])
        self.btypes = btypes[sort]
        self.registered = registered[sort]
        self.ring_id = ring_id[sort]
        self.region = region[sort].astype(str)
        self.etype = etype[sort].astype(str)
        self._static_records(session, {b.code: b.required_licence for b in btype_rows.values()})
        session.commit()
        return self.entity_ids

    def _static_records(self, session: Session, required: dict[str, str | None]) -> None:
        cfg, rng = self.config, self.rng
        z, zg = self._z(), self._zg()
        n, ids, start = len(self.entity_ids), self.entity_ids, np.datetime64(cfg.start, "D")
        # Licences: lapsed or missing more often where the hidden unlicensed risk is high.
        need = np.array([required.get(b) for b in self.btypes], dtype=object)
        has_need = need != None  # noqa: E711 - elementwise
        p_bad = expit(-2.6 + 1.4 * z[:, D["unlicensed_operation"]])
        bad = has_need & (rng.random(n) < p_bad)
        missing = bad & (rng.random(n) < 0.35)
        valid_from = np.maximum(self.registered, start - 4 * 365)
        valid_to = np.where(bad, start - rng.integers(10, 400, n), start + rng.integers(30, 5 * 365, n))
        missing |= bad & (valid_to <= valid_from)  # lapsed before it was issued: never held one
        held = np.flatnonzero(has_need & ~missing)
        numbers = licence_numbers(np.random.default_rng([cfg.seed, 3]), need[held].astype(str), self.region[held],
                                  self.btypes[held], self.etype[held], valid_from[held])
        # ``status`` is the authority's decision; whether a licence has lapsed follows from
        # ``valid_to`` wherever it is read (server.entities.models.licence_status).
        rows = [{"entity_id": int(ids[i]), "kind": need[i], "number": numbers[j],
                 "valid_from": _date(valid_from[i]), "valid_to": _date(valid_to[i]), "status": "valid"}
                for j, i in enumerate(held)]
        _bulk(session, Licence.__table__, rows)
        # Special equipment and measuring instruments.
        eq_units = np.where(self.btypes == "special_equipment_user", rng.integers(1, 16, n),
                            np.where(self.btypes == "fuel_station", rng.integers(1, 4, n), 0))
        owner = np.repeat(np.arange(n), eq_units)
        overdue = rng.random(len(owner)) < expit(-2.4 + 1.5 * z[owner, D["special_equipment"]])
        installed = start - rng.integers(200, 25 * 365, len(owner)).astype("timedelta64[D]")
        due = np.where(overdue, start - rng.integers(5, 300, len(owner)), start + rng.integers(1, 365, len(owner)))
        incidents = rng.poisson(0.05 * np.exp(1.0 * z[owner, D["special_equipment"]]))
        kinds = np.where(self.btypes[owner] == "fuel_station", "pressure_vessel", "elevator")
        _bulk(session, Equipment.__table__, [
            {"entity_id": int(ids[o]), "kind": kinds[j], "registration_no": f"TS{ids[o]:08d}{j:05d}",
             "installed_on": _date(installed[j]), "next_inspection_due": _date(due[j]),
             "incidents_3y": int(incidents[j])} for j, o in enumerate(owner)])
        inst_units = np.where(self.btypes == "fuel_station", rng.integers(4, 13, n),
                              np.where(self.btypes == "food_retail", rng.integers(1, 4, n), 0))
        owner = np.repeat(np.arange(n), inst_units)
        overdue = rng.random(len(owner)) < expit(-2.3 + 1.5 * z[owner, D["metrology"]])
        due = np.where(overdue, start - rng.integers(5, 300, len(owner)), start + rng.integers(1, 365, len(owner)))
        kinds = np.where(self.btypes[owner] == "fuel_station", "fuel_dispenser", "scale")
        _bulk(session, Instrument.__table__, [
            {"entity_id": int(ids[o]), "kind": kinds[j], "calibration_due": _date(due[j])}
            for j, o in enumerate(owner)])
        # Compulsory-certification products.
        certs = np.where(np.isin(self.btypes, ["manufacturer", "general_retail", "food_production"]),
                         rng.integers(0, 6, n), 0)
        owner = np.repeat(np.arange(n), certs)
        lapsed = rng.random(len(owner)) < expit(-2.8 + 1.5 * z[owner, D["certification"]])
        status = np.where(lapsed, np.where(rng.random(len(owner)) < 0.3, "revoked", "valid"),
                          np.where(rng.random(len(owner)) < 0.02, "suspended", "valid"))
        valid_to = np.where(lapsed & (status == "valid"), start - rng.integers(10, 500, len(owner)),
                            start + rng.integers(60, 5 * 365, len(owner)))
        _bulk(session, Certificate.__table__, [
            {"entity_id": int(ids[o]), "product": "电器产品", "number": f"CCC{ids[o]:08d}{j:04d}",
             "valid_to": _date(valid_to[j]), "status": status[j], "selling": bool(lapsed[j] or rng.random() < 0.9)}
            for j, o in enumerate(owner)])
        # History: annual reports, penalties, lists and flags of the past years.
        reports = []
        late_p = expit(-2.3 + 1.1 * z[:, D["abnormal_operation"]])
        for year in range(cfg.start.year - cfg.history_years, cfg.start.year):
            due_on = dt.date(year + 1, 6, 30)
            if due_on >= cfg.start:
                continue
            due_np = np.datetime64(due_on, "D")
            alive = self.registered < np.datetime64(dt.date(year, 1, 1), "D")
            late = rng.random(n) < late_p
            never = late & (rng.random(n) < 0.5)
            sub = np.where(late, due_np + rng.integers(1, 200, n), due_np - rng.integers(1, 170, n))
            for i in np.flatnonzero(alive):
                reports.append({"entity_id": int(ids[i]), "year": year, "due_on": due_on,
                                "submitted_on": None if never[i] else _date(sub[i])})
        _bulk(session, AnnualReport.__table__, reports)
        last_year = cfg.start.year - 2
        missing_last = {r["entity_id"] for r in reports if r["year"] == last_year and r["submitted_on"] is None}
        lists = [{"entity_id": e, "list_kind": "abnormal_operation", "listed_on": dt.date(last_year + 1, 7, 15),
                  "removed_on": None, "reason": "未按规定报送年度报告"} for e in sorted(missing_last)]
        serious = rng.random(n) < expit(-6.0 + 1.6 * zg)
        lists += [{"entity_id": int(ids[i]), "list_kind": "serious_violation",
                   "listed_on": _date(start - rng.integers(30, 900)), "removed_on": None,
                   "reason": "因严重违法行为被列入严重违法失信名单"} for i in np.flatnonzero(serious)]
        _bulk(session, ListEntry.__table__, lists)
        flags = []
        for kind, prob in (("unreachable", expit(-4.0 + 1.5 * z[:, D["abnormal_operation"]])),
                           ("closure", expit(-4.5 + 1.0 * z[:, D["abnormal_operation"]])),
                           ("court_enforcement", expit(-4.2 + 1.0 * zg)), ("tax_arrears", expit(-4.0 + 0.9 * zg))):
            for i in np.flatnonzero(rng.random(n) < prob):
                flags.append({"entity_id": int(ids[i]), "kind": kind,
                              "flagged_on": _date(start - rng.integers(10, 700)), "cleared_on": None})
        _bulk(session, EntityFlag.__table__, flags)
        n_pen = rng.poisson(0.12 * np.exp(0.9 * zg - 0.4))
        owner = np.repeat(np.arange(n), n_pen)
        dom = np.array(DOMAINS, dtype=object)[np.argmax(z[owner] + rng.gumbel(size=(len(owner), len(DOMAINS)))
                                                        + np.where(self.applicable[owner], 0, -50), axis=1)]
        _bulk(session, Penalty.__table__, [
            {"entity_id": int(ids[o]), "decided_on": _date(start - rng.integers(10, cfg.history_years * 365)),
             "domain": dom[j], "amount": float(np.round(np.exp(rng.normal(8.5, 1.2)), -1)), "serious": False}
            for j, o in enumerate(owner)])

    # ------------------------------------------------------------------ feeds over time
    def advance(self, session: Session, start: dt.date, end: dt.date, *, emergency: bool = False) -> dict[str, int]:
        """Generate the records observed in ``[start, end)`` (complaints, tests, prices …)."""
        cfg, rng = self.config, self.rng
        z, ids, n = self._z(), self.entity_ids, len(self.entity_ids)
        days = (end - start).days
        years = days / 365.0
        d0 = np.datetime64(start, "D")

        def when(count: int) -> list[dt.date]:
            return [_date(x) for x in d0 + rng.integers(0, days, count).astype("timedelta64[D]")]

        counts: dict[str, int] = {}
        # Complaints per category (12315): rate grows with the hidden risk of the category's domain.
        # Complaint surges are episodes: each simulated period some entities (more often those
        # with a high complaint-surge latent) see their complaints multiply for that period.
        surge: Any = 1.0
        if start >= cfg.start:
            zc = z[:, D["complaint_surge"]]
            episode = rng.random(n) < expit(-3.0 + 1.5 * zc)
            surge = np.where(episode, 3.0 + 2.0 * np.clip(zc, 0, None), 1.0)
        rows = []
        for domain, cat in COMPLAINT_OF_DOMAIN.items():
            j = D[domain]
            lam = np.where(self.applicable[:, j], 0.25 * np.exp(0.9 * z[:, j] - 0.4) * surge * years, 0.0)
            c = rng.poisson(lam)
            for i in np.repeat(np.arange(n), c):
                rows.append((int(ids[i]), cat))
        dates = when(len(rows))
        _bulk(session, Complaint.__table__, [{"entity_id": e, "received_on": d, "category": c, "channel": "12315"}
                                             for (e, c), d in zip(rows, dates, strict=True)])
        counts["complaints"] = len(rows)
        # Supervisory sampling tests (监督抽检).
        kind = np.array([TEST_KIND.get(b) for b in self.btypes], dtype=object)
        test_domain = {"food": "food_safety", "drug": "drug_device_retail", "product": "product_quality",
                       "authenticity": "trademark_ip"}
        tests = []
        for k, domain in test_domain.items():
            rows_k = np.flatnonzero(kind == k)
            m = rng.poisson(0.6 * years, len(rows_k))
            owner = np.repeat(rows_k, m)
            fail = rng.random(len(owner)) < expit(-2.9 + 1.3 * z[owner, D[domain]])
            for o, f, d in zip(owner, fail, when(len(owner)), strict=True):
                tests.append({"entity_id": int(ids[o]), "tested_on": d, "kind": k, "product": "抽检样品",
                              "passed": not bool(f)})
        _bulk(session, SamplingTest.__table__, tests)
        counts["sampling_tests"] = len(tests)
        # Prices against regional peers, monthly.
        prices = []
        j = D["price_violation"]
        for b, items in PRICE_ITEMS.items():
            rows_b = np.flatnonzero(self.btypes == b)
            if not len(rows_b):
                continue
            gouge = rng.random(len(rows_b)) < expit(-2.6 + 1.4 * z[rows_b, j])
            # price monitoring keeps the last quarter of any window (monthly observations)
            for month in range(min(3, max(1, days // 30))):
                day = end - dt.timedelta(days=30 * (month + 1) - int(rng.integers(0, 28)))
                for item in items:
                    markup = np.where(gouge, rng.uniform(0.25, 0.9, len(rows_b)), 0.0)
                    price = PRICE_BASE[item] * np.exp(rng.normal(0, 0.07, len(rows_b))) * (1 + markup)
                    for i, p in zip(rows_b, price, strict=True):
                        prices.append({"entity_id": int(ids[i]), "reported_on": day, "item": item,
                                       "price": float(round(p, 2)), "emergency": emergency})
        _bulk(session, PriceReport.__table__, prices)
        counts["price_reports"] = len(prices)
        # Monitored advertising.
        advertisers = np.flatnonzero(np.isin(self.btypes, ["ecommerce", "advertising", "prepaid", "general_retail"]))
        m = rng.poisson(1.5 * years * 4, len(advertisers))
        owner = np.repeat(advertisers, m)
        bad = rng.random(len(owner)) < expit(-2.7 + 1.6 * z[owner, D["advertising"]])
        texts = np.where(bad, rng.choice(BAD_ADS, len(owner)), rng.choice(CLEAN_ADS, len(owner)))
        _bulk(session, AdRecord.__table__, [
            {"entity_id": int(ids[o]), "captured_on": d, "medium": "互联网", "text": str(t)}
            for o, t, d in zip(owner, texts, when(len(owner)), strict=True)])
        counts["ads"] = len(owner)
        # Online shops: monthly orders, refunds, complaints, licence display.
        shops = np.flatnonzero(self.btypes == "ecommerce")
        online = []
        zo = z[shops, D["online_trade"]]
        for month in range(max(1, days // 30)):
            orders = np.maximum(1, rng.lognormal(6, 1, len(shops))).astype(int)
            refunds = rng.binomial(orders, np.clip(0.04 * np.exp(0.6 * zo), 0, 0.9))
            complaints = rng.poisson(orders * 0.002 * np.exp(0.9 * zo))
            displayed = rng.random(len(shops)) > expit(-2.6 + 1.5 * zo)
            for i, o, r, c, dsp in zip(shops, orders, refunds, complaints, displayed, strict=True):
                online.append({"entity_id": int(ids[i]), "period_start": start + dt.timedelta(days=30 * month),
                               "orders": int(o), "refunds": int(r), "complaints": int(c),
                               "licence_displayed": bool(dsp)})
        _bulk(session, OnlineMetric.__table__, online)
        # Prepaid cards: risky businesses sell aggressively and pile up balances.
        shops = np.flatnonzero(self.btypes == "prepaid")
        zp = z[shops, D["prepaid_consumer"]]
        prepaid = []
        for month in range(max(1, days // 30)):
            cards = rng.poisson(20 * np.exp(0.8 * zp))
            balance = cards * rng.uniform(500, 3000, len(shops)) * np.exp(0.5 * zp)
            for i, c, bal in zip(shops, cards, balance, strict=True):
                prepaid.append({"entity_id": int(ids[i]), "period_start": start + dt.timedelta(days=30 * month),
                                "cards_sold": int(c), "balance_outstanding": float(round(bal, 2))})
        _bulk(session, PrepaidRecord.__table__, prepaid)
        # Trading evidence (invoices, listings): everyone trading leaves some.
        m = rng.poisson(3 * years, n)
        owner = np.repeat(np.arange(n), m)
        _bulk(session, ActivitySignal.__table__, [
            {"entity_id": int(ids[o]), "observed_on": d, "kind": "invoice"}
            for o, d in zip(owner, when(len(owner)), strict=True)])
        # Annual reports falling due in the window; a missing one puts the entity on the abnormal list.
        late_p = expit(-2.3 + 1.1 * z[:, D["abnormal_operation"]])
        for year in range(start.year - 1, end.year):
            due_on = dt.date(year + 1, 6, 30)
            if not start <= due_on < end:
                continue
            due_np = np.datetime64(due_on, "D")
            alive = np.flatnonzero(self.registered < np.datetime64(dt.date(year, 1, 1), "D"))
            late = rng.random(len(alive)) < late_p[alive]
            never = late & (rng.random(len(alive)) < 0.5)
            sub = np.where(late, due_np + rng.integers(1, 200, len(alive)), due_np - rng.integers(1, 170, len(alive)))
            _bulk(session, AnnualReport.__table__, [
                {"entity_id": int(ids[i]), "year": year, "due_on": due_on,
                 "submitted_on": None if nv else _date(s_)} for i, nv, s_ in zip(alive, never, sub, strict=True)])
            listed_on = due_on + dt.timedelta(days=15)
            if listed_on < end:
                _bulk(session, ListEntry.__table__, [
                    {"entity_id": int(ids[i]), "list_kind": "abnormal_operation", "listed_on": listed_on,
                     "removed_on": None, "reason": "未按规定报送年度报告"} for i in alive[never]])
        # Equipment and instruments falling due are renewed, unless the operator is negligent.
        for table, due_col, domain in ((Equipment.__table__, "next_inspection_due", "special_equipment"),
                                       (Instrument.__table__, "calibration_due", "metrology")):
            falling = session.execute(select(table.c.id, table.c.entity_id).where(
                (table.c[due_col] >= start) & (table.c[due_col] < end))).all()
            if falling:
                rows_f = self.position(np.array([f[1] for f in falling], dtype=np.int64))
                renew = rng.random(len(falling)) > expit(-2.4 + 1.5 * z[rows_f, D[domain]])
                ok_ids = [f[0] for f, r in zip(falling, renew, strict=True) if r]
                if ok_ids:
                    session.execute(table.update().where(table.c.id.in_(ok_ids))
                                    .values({due_col: end + dt.timedelta(days=300)}))
        session.commit()
        return counts


def _bulk(session: Session, table: Any, rows: list[dict[str, Any]], chunk: int = 20_000) -> None:
    for i in range(0, len(rows), chunk):
        session.execute(table.insert(), rows[i:i + chunk])


def form_domains(data_dir: Path) -> dict[str, list[str]]:
    """Business type → the warning domains its inspection form checks (from data/forms)."""
    out: dict[str, list[str]] = {}
    for path in sorted((Path(data_dir) / "forms").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        domains = sorted({i["domain"] for i in doc["items"] if i.get("domain")})
        for b in doc["business_types"]:
            out[b] = domains
    return out
