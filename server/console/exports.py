"""Every console table as CSV (UTF-8 with BOM, for spreadsheet software) or JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from flask import Response, jsonify

FORMATS = ("csv", "json")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ";".join(str(_cell(v)) for v in value)
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def flatten(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Split ``ci95`` pairs into ``ci95_low``/``ci95_high`` columns."""
    out = []
    for r in rows:
        row = {k: v for k, v in r.items() if k != "ci95"}
        if "ci95" in r:
            ci = r["ci95"] or [None, None]
            row["ci95_low"], row["ci95_high"] = ci[0], ci[1]
        out.append(row)
    return out


def export(rows: Sequence[dict[str, Any]], columns: Sequence[str], name: str, fmt: str) -> Response:
    """``rows`` restricted to ``columns``, as a CSV download or a JSON document."""
    table = [{c: r.get(c) for c in columns} for r in flatten(rows)]
    if fmt == "json":
        return jsonify({"table": name, "columns": list(columns), "rows": _json_value(table)})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    for r in table:
        writer.writerow([_cell(r[c]) for c in columns])
    return Response(
        "\ufeff" + buf.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}.csv"},
    )
