"""Advertising: text rules over monitored advert text, citing the article broken.

Each rule is a compiled regular-expression alternation of terms the 广告法 forbids,
matched in bulk with pandas' vectorised ``str.contains``; the explanation names the
rule, the article, and the term matched (``Explanation.details``). The score is a
hand-set logistic score over the rules that fire (plus complaints and history),
recalibrated on outcomes when they exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from risk_models.models._framework import Columns, DomainModel, Terms, TermsBuilder
from risk_models.registry import register

__all__ = ["AD_RULES", "AdRule", "Advertising", "match_rules"]


@dataclass(frozen=True)
class AdRule:
    """A forbidden-terms rule: code, Chinese label, article, prior weight, pattern."""

    code: str
    label: str
    article: tuple[str, int]
    weight: float
    pattern: str

    @property
    def regex(self) -> re.Pattern[str]:
        """The compiled pattern (case-insensitive)."""
        return _compiled(self.pattern)


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    if pattern not in _CACHE:
        _CACHE[pattern] = re.compile(pattern, re.IGNORECASE)
    return _CACHE[pattern]


#: The rules, in explanation order.
AD_RULES: tuple[AdRule, ...] = (
    AdRule(
        "ad_absolute_terms",
        "使用“国家级”“最高级”“最佳”等绝对化用语",
        ("广告法", 9),
        2.6,
        r"国家级|最高级|最(?:佳|好|优|强|大|高|低|新|先进|便宜|全|美|棒|专业|受欢迎)"
        r"|(?:全国|全球|世界|全网|行业|销量|排名|国内|中国)第一|第一品牌|NO\.?\s?1\b|TOP\s?1\b"
        r"|顶级|极品|极致|独一无二|史无前例|绝无仅有|万能|首选|唯一|顶尖|至尊|王牌",
    ),
    AdRule(
        "ad_state_organ",
        "使用国家机关或其工作人员的名义、形象",
        ("广告法", 9),
        2.6,
        r"(?:国家机关|政府|国务院|卫健委|卫生部|市场监管局)(?:推荐|指定|认证|监制)|国家领导人",
    ),
    AdRule(
        "ad_medical_claims",
        "非医疗、药品、医疗器械广告涉及疾病治疗功能或使用医疗用语",
        ("广告法", 17),
        3.0,
        r"治愈|根治|疗效|药到病除|包治|治疗|消炎|抗癌|防癌|降血压|降血糖|降血脂|祛病|除病根"
        r"|康复|特效药|痊愈|医治|活血化瘀|妙手回春|一针见效",
    ),
    AdRule(
        "ad_efficacy_assurance",
        "表示功效、安全性的断言或保证，说明治愈率、有效率",
        ("广告法", 16),
        2.8,
        r"治愈率|有效率|痊愈率|无(?:任何|毒)?副作用|保证(?:治愈|有效|见效)|百分之百有效|100%有效"
        r"|无效退款|立竿见影|一次见效",
    ),
    AdRule(
        "ad_investment_guarantee",
        "对投资收益作保证性承诺，明示或暗示保本、无风险、保收益",
        ("广告法", 25),
        3.0,
        r"保本|保收益|保底收益|稳赚|零风险|无风险|高额回报|躺赚|只赚不赔|包赚|收益保障",
    ),
)


def match_rules(texts: np.ndarray, rules: tuple[AdRule, ...] = AD_RULES) -> np.ndarray:
    """Return a boolean matrix (n, len(rules)): which rules each text breaks.

    Parameters
    ----------
    texts : ndarray of str, shape (n,)
        Advert texts (``""`` when none).
    rules : tuple of AdRule
        Rules to apply.

    Returns
    -------
    ndarray of bool, shape (n, len(rules))

    Examples
    --------
    >>> import numpy as np
    >>> match_rules(np.array(["本店最佳口味", "新鲜蔬菜", "根治脱发，无效退款"], dtype=object))[:, :4]
    array([[ True, False, False, False],
           [False, False, False, False],
           [False, False,  True,  True]])
    """
    out = np.zeros((len(texts), len(rules)), dtype=bool)
    some = np.flatnonzero(texts != "")
    if len(some) and rules:
        # one pass with the union of all rules, then each rule on the texts that hit
        union = _compiled("|".join(f"(?:{rule.pattern})" for rule in rules))
        hit = pd.Series(texts[some], dtype=object).str.contains(union, regex=True)
        some = some[hit.to_numpy(dtype=bool)]
    if len(some):
        s = pd.Series(texts[some], dtype=object)
        for j, rule in enumerate(rules):
            out[some, j] = s.str.contains(rule.regex, regex=True).to_numpy(dtype=bool)
    return out


def first_matches(texts: np.ndarray, rule: AdRule) -> np.ndarray:
    """Return the first term of ``rule`` matched in each text (``""`` if none)."""
    out = np.full(len(texts), "", dtype=object)
    some = np.flatnonzero(texts != "")
    if len(some):
        found = pd.Series(texts[some], dtype=object).str.extract(
            f"({rule.regex.pattern})", flags=re.IGNORECASE, expand=False)
        out[some] = found.fillna("").to_numpy(dtype=object)
    return out


class Advertising(DomainModel):
    """Illegal advertising claims in monitored advert text (广告法)."""

    name = "advertising"
    description = "违法广告风险预警"
    domain = "advertising"
    kind = "rules"
    features = (
        "ad_count_90d",
        "ad_text",
        "complaints_90d_advertising",
        "complaints_365d_advertising",
        "penalties_3y",
        "last_inspection_problem",
    )
    business_types = None
    legal_basis = (("广告法", 9), ("广告法", 17), ("广告法", 16), ("广告法", 25))
    rule_articles: ClassVar[dict[str, tuple[str, int]]] = {r.code: r.article for r in AD_RULES}
    reason_labels: ClassVar[dict[str, str]] = {r.code: r.label for r in AD_RULES}
    default_volume = (0.012, 0.004, 0.0012)

    def _applicable_cols(self, C: Columns) -> np.ndarray:
        return (C.count("ad_count_90d") > 0) | (C.text("ad_text") != "")

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        hits = match_rules(C.text("ad_text"))
        b = TermsBuilder(len(C), bias=-4.0)
        for j, rule in enumerate(AD_RULES):
            b.add(rule.code, hits[:, j].astype(np.float64), rule.weight)
        b.feature(C, "complaints_90d_advertising", 0.6)
        b.feature(C, "penalties_3y", 0.3)
        b.feature(C, "last_inspection_problem", 0.5, how="flag")
        b.feature(C, "ad_count_90d", 0.15)
        return b.build()

    def _details(self, C: Columns, ctx: dict[str, np.ndarray], terms: Terms,
                 codes: list[str]) -> dict[str, np.ndarray]:
        texts = C.text("ad_text")
        return {rule.code: first_matches(texts, rule) for rule in AD_RULES}


register(Advertising)
