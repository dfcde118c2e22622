from __future__ import annotations

from pathlib import Path

import pytest

from mobile.fonts import KNOWN_FONTS, simplified_face

NOTO = next((p for p in KNOWN_FONTS if p.endswith("NotoSansCJK-Regular.ttc") and Path(p).is_file()), None)


@pytest.mark.skipif(NOTO is None, reason="fonts-noto-cjk not installed")
def test_the_simplified_chinese_face_is_extracted_once(tmp_path):
    from fontTools.ttLib import TTFont

    out = simplified_face(NOTO, cache_dir=tmp_path)
    assert out != NOTO and Path(out).is_file()
    assert TTFont(out)["name"].getDebugName(1) == "Noto Sans CJK SC"
    stamp = Path(out).stat().st_mtime_ns
    assert simplified_face(NOTO, cache_dir=tmp_path) == out  # cached, not rewritten
    assert Path(out).stat().st_mtime_ns == stamp


def test_a_file_that_is_not_a_collection_is_used_as_it_is(tmp_path):
    bogus = tmp_path / "broken.ttc"
    bogus.write_bytes(b"not a font")
    assert simplified_face(str(bogus), cache_dir=tmp_path / "cache") == str(bogus)
