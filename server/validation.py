"""Validation of the identifiers a regulator's records carry, with messages people can act on.

* 统一社会信用代码 (unified social credit code, USCC), GB 32100-2015: 18 characters from
  the 31-character set ``0-9 A-H J-N P-R T U W-Y`` (no I, O, S, V, Z) —
  registration authority (1), entity type (1), administrative division (6), organisation
  code (9, itself checked per GB 11714-1997) and a check character (weights 3^i mod 31).
* Administrative division codes (GB/T 2260), six digits.
* Industry codes (GB/T 4754-2017): a section letter and 2–4 digits, e.g. ``H6210``.

Every validator returns the normalised value or raises :class:`ValidationError` naming
the field and saying exactly what is wrong (and, for a bad check character, what it
should be), in Chinese with an English gloss.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)

#: Registration authority code → the entity-type codes it may issue (GB 32100-2015 附录).
AUTHORITY_TYPES: dict[str, str] = {
    "1": "129",  # 机构编制
    "2": "19",  # 外交
    "3": "19",  # 宗教
    "4": "19",  # 工会
    "5": "1239",  # 民政
    "6": "129",  # 旅游
    "7": "19",  # 中央军委改革和编制
    "8": "19",  # 工会
    "9": "123",  # 工商 / 市场监管: 1 企业, 2 个体工商户, 3 农民专业合作社
    "A": "19",  # 中央军委
    "N": "1239",  # 农业
    "Y": "1",  # 其他
}
AUTHORITY_NAMES = {"9": "市场监督管理部门", "1": "机构编制部门", "5": "民政部门", "N": "农业部门"}


@dataclass
class ValidationError(ValueError):
    """A value that failed validation: ``field`` names it, ``message`` says why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _org_check_char(body: str) -> str:
    """GB 11714-1997 check character of an 8-character organisation code body."""
    total = sum(int(c, 36) * w for c, w in zip(body, ORG_WEIGHTS.tolist(), strict=True))
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character of the first 17 characters of a USCC."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS.tolist(), strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def validate_uscc(value: str, field: str = "uscc") -> str:
    """Return the normalised USCC (trimmed, upper case) or raise :class:`ValidationError`."""
    if not isinstance(value, str):
        raise ValidationError(field, "统一社会信用代码应为字符串 (USCC must be a string)")
    code = re.sub(r"\s+", "", value).upper()
    if len(code) != 18:
        raise ValidationError(field, f"统一社会信用代码应为18位，实际{len(code)}位 (USCC must have 18 characters, got {len(code)})")
    bad = sorted({c for c in code if c not in _VALUE})
    if bad:
        hint = "；不使用字母 I、O、S、V、Z" if set(bad) & set("IOSVZ") else ""
        raise ValidationError(
            field, f"统一社会信用代码含非法字符 {''.join(bad)}{hint} (invalid characters {''.join(bad)})"
        )
    authority, kind = code[0], code[1]
    if authority not in AUTHORITY_TYPES:
        raise ValidationError(field, f"第1位登记管理部门代码 {authority} 无效 (unknown registration authority)")
    if kind not in AUTHORITY_TYPES[authority]:
        raise ValidationError(
            field, f"第2位机构类别代码 {kind} 与登记管理部门 {authority} 不符 (entity type not issued by this authority)"
        )
    if not code[2:8].isdigit():
        raise ValidationError(field, f"第3-8位行政区划码 {code[2:8]} 应为6位数字 (division code must be digits)")
    org_body, org_check = code[8:16], code[16]
    expected_org = _org_check_char(org_body)
    if org_check != expected_org:
        raise ValidationError(
            field, f"第9-17位组织机构代码校验码错误，应为 {expected_org} (organisation code check digit wrong)"
        )
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise ValidationError(field, f"第18位校验码错误，应为 {expected} (check character wrong, expected {expected})")
    return code


def make_uscc(region_code: str, org_body: str, kind: str = "91") -> str:
    """Build a valid USCC from a division code and an 8-character organisation code body."""
    body = org_body.upper()
    if len(body) != 8 or any(c not in _VALUE for c in body):
        raise ValueError(f"organisation code body must be 8 characters of the USCC set: {org_body!r}")
    first17 = f"{kind}{region_code}{body}{_org_check_char(body)}"
    return first17 + uscc_check_char(first17)


def make_usccs(region_codes: np.ndarray, serials: np.ndarray, kinds: np.ndarray | None = None) -> np.ndarray:
    """Vectorised :func:`make_uscc`: one valid, distinct USCC per distinct ``serial``.

    ``serials`` (non-negative integers below 31**8) become the organisation code body in
    base 31; ``kinds`` are the two leading characters (default ``"91"``).
    """
    serials = np.asarray(serials, dtype=np.int64)
    n = serials.shape[0]
    digits = np.empty((n, 8), dtype=np.int64)
    v = serials.copy()
    for pos in range(7, -1, -1):
        v, digits[:, pos] = np.divmod(v, 31)
    charset = np.array(list(USCC_CHARSET))
    # GB 11714 values: digits are themselves, letters A=10 … Z=35.
    char_values = np.array([int(c, 36) for c in USCC_CHARSET], dtype=np.int64)
    c9 = 11 - (char_values[digits] @ ORG_WEIGHTS) % 11
    org_check_value = np.where(c9 == 10, _VALUE["X"], np.where(c9 == 11, 0, c9))
    kinds = np.full(n, "91") if kinds is None else np.asarray(kinds, dtype=str)
    regions = np.asarray(region_codes, dtype=str)
    prefix_vals = np.empty((n, 8), dtype=np.int64)
    prefix_chars = np.char.add(kinds, regions).astype("U8").view("U1").reshape(n, 8)
    lookup = np.vectorize(_VALUE.__getitem__, otypes=[np.int64])
    uniq, inverse = np.unique(prefix_chars, return_inverse=True)
    prefix_vals = lookup(uniq)[inverse].reshape(n, 8)
    values17 = np.concatenate([prefix_vals, digits, org_check_value[:, None]], axis=1)
    check = (31 - (values17 @ USCC_WEIGHTS) % 31) % 31
    all_values = np.concatenate([values17, check[:, None]], axis=1)
    chars = charset[all_values]
    return chars.view("U18").ravel()


def validate_region_code(value: str, known: Collection[str] | None = None, field: str = "region_code") -> str:
    """A six-digit GB/T 2260 division code, optionally one of ``known``."""
    code = str(value).strip()
    if not re.fullmatch(r"\d{6}", code):
        raise ValidationError(field, f"行政区划代码应为6位数字 (division code must be 6 digits): {value!r}")
    if known is not None and code not in known:
        raise ValidationError(field, f"未知行政区划代码 (unknown division code): {code}")
    return code


def validate_industry_code(value: str, known: Collection[str] | None = None, field: str = "industry_code") -> str:
    """A GB/T 4754-2017 industry code: section letter + 2–4 digits (e.g. ``H6210``)."""
    code = str(value).strip().upper()
    if not re.fullmatch(r"[A-T]\d{2,4}", code):
        raise ValidationError(
            field, f"国民经济行业代码应为门类字母加2-4位数字，如 H6210 (industry code like H6210): {value!r}"
        )
    if known is not None and code not in known:
        raise ValidationError(field, f"未知行业代码 (unknown industry code): {code}")
    return code
