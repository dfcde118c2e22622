"""JSON responses serialised by orjson (the task list and sync endpoints are polled by every
handheld; the standard library encoder was a tenth of each request's time).

Only :meth:`response` changes: keys stay sorted as Flask sorts them, dates and times come
out as ISO 8601 (RFC 3339) rather than Flask's HTTP dates, text is UTF-8 rather than
``\\uXXXX`` escapes, and other types fall back to Flask's ``default`` (``Decimal``,
``__html__``…). ``dumps``/``loads`` (sessions, templates' ``tojson``) keep Flask's encoder.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


class OrjsonProvider(DefaultJSONProvider):
    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        option = _OPTIONS
        if (self.compact is None and self._app.debug) or self.compact is False:
            option |= orjson.OPT_INDENT_2
        body = orjson.dumps(obj, default=self.default, option=option | orjson.OPT_APPEND_NEWLINE)
        return self._app.response_class(body, mimetype=self.mimetype)
