"""Find a font with Chinese glyphs and make it Kivy's default (no tofu boxes).

Kivy's bundled Roboto has no CJK glyphs, so every Chinese label would render as empty
boxes. Looked for, in order: ``SHUANGSUI_CJK_FONT``, a font bundled in
``mobile/assets/fonts/``, the usual system locations (Debian's ``fonts-noto-cjk``
installed by ``make system-deps``, Android, macOS, Windows), ``fc-list :lang=zh``, and
finally any font file whose name suggests CJK coverage.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["KNOWN_FONTS", "find_cjk_font", "register_cjk_font"]

HERE = Path(__file__).resolve().parent
KNOWN_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/system/fonts/NotoSansCJK-Regular.ttc",
    "/system/fonts/NotoSansSC-Regular.otf",
    "/system/fonts/DroidSansFallback.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    str(Path.home() / ".fonts"),
    str(Path.home() / ".local/share/fonts"),
    "/system/fonts",
)
_HINTS = ("cjk", "sc-", "sc.", "wqy", "fallback", "hei", "song", "kai", "ming", "pingfang", "msyh")
_EXTS = (".ttf", ".otf", ".ttc")


def _fc_list() -> list[str]:
    if not shutil.which("fc-list"):
        return []
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = [line.split(":")[0].strip() for line in out.splitlines() if line.strip()]
    # prefer sans regular faces over serif or bold ones
    return sorted(files, key=lambda f: ("Serif" in f, "Bold" in f, f))


def find_cjk_font() -> str | None:
    """Path of a font file with Chinese glyphs, or None if the system has none."""
    env = os.environ.get("SHUANGSUI_CJK_FONT")
    if env and Path(env).is_file():
        return env
    bundled = sorted(p for p in (HERE / "assets" / "fonts").glob("*") if p.suffix.lower() in _EXTS)
    if bundled:
        return str(bundled[0])
    for path in KNOWN_FONTS:
        if Path(path).is_file():
            return path
    for path in _fc_list():
        if path.lower().endswith(_EXTS) and Path(path).is_file():
            return path
    for directory in _FONT_DIRS:
        root = Path(directory)
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            name = path.name.lower()
            if name.endswith(_EXTS) and any(h in name for h in _HINTS):
                return str(path)
    return None


def _bold_sibling(path: str) -> str | None:
    candidate = Path(path.replace("Regular", "Bold"))
    return str(candidate) if candidate != Path(path) and candidate.is_file() else None


def register_cjk_font() -> str | None:
    """Register the CJK font under Kivy's default font name; return its path.

    Every Label, Button and TextInput then renders Chinese without naming a font.
    """
    from kivy.core.text import DEFAULT_FONT, LabelBase
    from kivy.logger import Logger

    path = find_cjk_font()
    if path is not None and path.lower().endswith(".ttc"):
        path = simplified_face(path)
    if path is None:
        Logger.warning(
            "Shuangsui: no CJK font found; Chinese will render as boxes. "
            "Install fonts-noto-cjk (make system-deps) or set SHUANGSUI_CJK_FONT."
        )
        return None
    bold = _bold_sibling(path)
    if bold and bold.lower().endswith(".ttc"):
        bold = simplified_face(bold)
    LabelBase.register(DEFAULT_FONT, fn_regular=path, fn_bold=bold or path)
    Logger.info(f"Shuangsui: CJK font {path}")
    return path


def simplified_face(collection: str, cache_dir: Path | None = None) -> str:
    """The Simplified Chinese face of a font collection (``.ttc``) as a file of its own.

    Kivy loads only the first face of a collection, which for Noto Sans CJK is the
    Japanese one: some characters (e.g. 将, 具, 直) would take Japanese shapes. The SC face
    is extracted once (fontTools, under the user's cache directory) and used instead; on any
    failure the collection itself is returned.
    """
    try:
        from fontTools.ttLib import TTCollection, TTLibError
    except ImportError:
        return collection
    cache = cache_dir or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "shuangsui" / "fonts"
    src = Path(collection)
    try:
        target = cache / f"{src.stem}-SC-{int(src.stat().st_mtime)}.otf"
        if target.is_file():
            return str(target)
        fonts = TTCollection(str(src), lazy=True).fonts
        names = [f["name"].getDebugName(1) or "" for f in fonts]
        index = next((i for i, n in enumerate(names) if n.endswith(" SC") and "Mono" not in n), None)
        if index is None:
            return collection
        cache.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        fonts[index].save(str(partial))
        partial.replace(target)
        return str(target)
    except (OSError, KeyError, ValueError, AssertionError, TTLibError):
        return collection
