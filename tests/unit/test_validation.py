from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.validation import (
    USCC_CHARSET,
    ValidationError,
    make_uscc,
    make_usccs,
    validate_industry_code,
    validate_region_code,
    validate_uscc,
)

# The worked example of GB 32100-2015 itself.
STANDARD_EXAMPLE = "91350100M000100Y43"


def test_standard_example_is_valid_and_normalised():
    assert validate_uscc(STANDARD_EXAMPLE) == STANDARD_EXAMPLE
    assert validate_uscc(" 91350100m000100y43 ") == STANDARD_EXAMPLE


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("9135010M000100Y43", "应为18位"),
        ("91350100M0001O0Y43", "非法字符 O"),
        ("Z1350100M000100Y43", "非法字符 Z"),
        ("B1350100M000100Y43", "登记管理部门代码 B"),
        ("94350100M000100Y43", "机构类别代码 4"),
        ("9135A100M000100Y43", "行政区划码"),
        ("91350100M000100X43", "组织机构代码校验码错误，应为 6"),
        ("91350100M000100Y44", "第18位校验码错误，应为 3"),
    ],
)
def test_each_mistake_gets_its_own_message(code, fragment):
    with pytest.raises(ValidationError) as info:
        validate_uscc(code)
    assert fragment in info.value.message
    assert info.value.field == "uscc"


@given(st.text(alphabet=USCC_CHARSET, min_size=8, max_size=8), st.sampled_from(["330106", "331082"]))
def test_built_codes_validate_and_any_single_change_is_caught(body, region):
    code = make_uscc(region, body)
    assert validate_uscc(code) == code
    # changing the check character alone always breaks the code
    other = USCC_CHARSET[(USCC_CHARSET.index(code[-1]) + 1) % 31]
    with pytest.raises(ValidationError):
        validate_uscc(code[:-1] + other)


def test_vectorised_builder_matches_the_scalar_one():
    serials = np.array([0, 1, 30, 31, 123_456_789, 31**8 - 1])
    regions = np.array(["330106", "330212", "330302", "331181", "330782", "330100"])
    codes = make_usccs(regions, serials)
    assert len(set(codes.tolist())) == len(serials)
    for code, region in zip(codes.tolist(), regions.tolist(), strict=True):
        assert validate_uscc(code) == code
        assert code[2:8] == region
        assert make_uscc(region, code[8:16]) == code


def test_region_and_industry_codes():
    assert validate_region_code(" 330106 ", {"330106"}) == "330106"
    with pytest.raises(ValidationError, match="6位数字"):
        validate_region_code("33010")
    with pytest.raises(ValidationError, match="未知行政区划"):
        validate_region_code("110101", {"330106"})
    assert validate_industry_code("h6210") == "H6210"
    with pytest.raises(ValidationError, match="H6210"):
        validate_industry_code("6210")
