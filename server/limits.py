"""Bounds on what a request may make the server parse, checked once, before any view runs.

Every JSON body is measured here (size, nesting depth, number of values) before webargs,
marshmallow or a view sees it: Python's JSON decoder and marshmallow both recurse, so a
body of a few thousand ``[`` ran them out of stack (a ``RecursionError``: a 500 and a
traceback per request, without logging in). The body is measured without decoding it
(:func:`json_shape`, vectorised), so the check costs little next to the decoding.

Multipart forms are bounded by Flask (``MAX_CONTENT_LENGTH``, ``MAX_FORM_PARTS``,
``MAX_FORM_MEMORY_SIZE``); CSV bodies and CSV files in a form by size, rows and the
longest line (Python's ``csv`` module refuses a field over 128 KiB with ``csv.Error``,
which :mod:`server.errors` answers with a 422).

Refusals are :class:`werkzeug.exceptions.HTTPException` subclasses with a Chinese
description; :mod:`server.errors` renders them as ``{"error", "message"}``.
"""

from __future__ import annotations

import numpy as np
from flask import Flask, current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

#: settings (``app.config``) and their defaults
DEFAULTS: dict[str, int] = {
    "MAX_JSON_BYTES": 8 * 1024 * 1024,
    "MAX_JSON_DEPTH": 32,
    "MAX_JSON_VALUES": 200_000,  # every value: objects, arrays, strings, numbers…
    "MAX_CSV_BYTES": 20 * 1024 * 1024,
    "MAX_CSV_ROWS": 200_000,
    "MAX_CSV_LINE_BYTES": 64 * 1024,
    "MAX_QUERY_BYTES": 8 * 1024,
}

class TooDeep(BadRequest):
    pass


class TooMany(RequestEntityTooLarge):
    pass


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _is_csv(mimetype: str, filename: str | None = None) -> bool:
    return mimetype in ("text/csv", "application/csv") or bool(filename and filename.lower().endswith(".csv"))


def json_shape(data: bytes) -> tuple[int, int]:
    """Nesting depth and number of values of a JSON text, without decoding it.

    Vectorised over the bytes (numpy): quotes preceded by an odd run of backslashes are
    escaped; brackets, commas and colons between real quotes belong to strings and are
    ignored. The count of values is ``commas + 2 × containers + 1``, an upper bound (each
    value but a container's first follows a comma).
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    n = arr.size
    if n == 0:
        return 0, 0
    positions = np.arange(n)
    quote = arr == 0x22
    if quote.any():
        last_plain = np.maximum.accumulate(np.where(arr != 0x5C, positions, -1))
        before = np.concatenate(([-1], last_plain[:-1]))  # last non-backslash before i
        run = positions - 1 - before  # backslashes right before i
        real = quote & (run % 2 == 0)
        inside = (np.cumsum(real) - real) % 2 == 1  # between an opening and a closing quote
        outside = ~inside & ~real
    else:
        outside = np.ones(n, dtype=bool)
    opening = ((arr == 0x5B) | (arr == 0x7B)) & outside
    closing = ((arr == 0x5D) | (arr == 0x7D)) & outside
    step = opening.astype(np.int32) - closing.astype(np.int32)
    depth = int(np.cumsum(step).max(initial=0))
    values = int(np.count_nonzero((arr == 0x2C) & outside)) + 2 * int(np.count_nonzero(opening)) + 1
    return depth, values


def check_json_bytes(data: bytes, *, max_depth: int, max_values: int) -> None:
    """Refuse a JSON body nested deeper than ``max_depth`` or holding more than ``max_values``."""
    brackets = data.count(b"[") + data.count(b"{")
    if brackets <= max_depth and data.count(b",") + 2 * brackets < max_values:
        return  # cannot be past either bound: no need to look closer
    depth, values = json_shape(data)
    if depth > max_depth:
        raise TooDeep(f"JSON 嵌套层数过深（上限 {max_depth} 层）(JSON nested too deeply)")
    if values > max_values:
        raise TooMany(f"JSON 请求体的值过多（上限 {max_values} 个）(too many values in the JSON body)")


def _check_csv(data: bytes) -> None:
    cfg = current_app.config
    if len(data) > cfg["MAX_CSV_BYTES"]:
        raise RequestEntityTooLarge(
            f"CSV 文件过大（上限 {cfg['MAX_CSV_BYTES'] // (1024 * 1024)} MB）(CSV too large)")
    rows = data.count(b"\n")
    if rows > cfg["MAX_CSV_ROWS"]:
        raise TooMany(f"CSV 行数过多（上限 {cfg['MAX_CSV_ROWS']} 行）(too many CSV rows)")
    longest = max((len(line) for line in data.split(b"\n")), default=0) if len(data) > cfg["MAX_CSV_LINE_BYTES"] else len(data)
    if longest > cfg["MAX_CSV_LINE_BYTES"]:
        raise TooMany(f"CSV 单行过长（上限 {cfg['MAX_CSV_LINE_BYTES'] // 1024} KB）(CSV line too long)")


def check_request() -> None:
    """The ``before_request`` hook: measure the body of this request."""
    cfg = current_app.config
    if len(request.query_string) > cfg["MAX_QUERY_BYTES"]:
        raise TooMany(f"查询字符串过长（上限 {cfg['MAX_QUERY_BYTES']} 字节）(query string too long)")
    mimetype = request.mimetype
    if _is_json(mimetype):
        if (request.content_length or 0) > cfg["MAX_JSON_BYTES"]:
            raise RequestEntityTooLarge(
                f"JSON 请求体过大（上限 {cfg['MAX_JSON_BYTES'] // (1024 * 1024)} MB）(JSON body too large)")
        data = request.get_data(cache=True)
        if len(data) > cfg["MAX_JSON_BYTES"]:
            raise RequestEntityTooLarge(
                f"JSON 请求体过大（上限 {cfg['MAX_JSON_BYTES'] // (1024 * 1024)} MB）(JSON body too large)")
        check_json_bytes(data, max_depth=cfg["MAX_JSON_DEPTH"], max_values=cfg["MAX_JSON_VALUES"])
    elif _is_csv(mimetype):
        _check_csv(request.get_data(cache=True))
    elif mimetype == "multipart/form-data":
        try:
            files = request.files
        except RequestEntityTooLarge as exc:
            # over MAX_CONTENT_LENGTH: the view may say what its user should do instead
            # (the attachment upload: re-take or compress the photo; the result is kept)
            view = getattr(current_app.view_functions.get(request.endpoint or ""), "view_class", None)
            raise RequestEntityTooLarge(getattr(view, "too_large_message", None) or exc.description) from None
        for upload in files.values():
            if _is_csv(upload.mimetype, upload.filename):
                position = upload.stream.tell()
                _check_csv(upload.stream.read())
                upload.stream.seek(position)


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.before_request(check_request)
