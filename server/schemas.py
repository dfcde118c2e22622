"""Shared marshmallow schemas for the API."""

from __future__ import annotations

from typing import Any

import flask_smorest
from marshmallow import INCLUDE, Schema, fields


class ErrorSchema(Schema):
    """The error body every refusal carries (server/errors.py), as the OpenAPI document's
    ``Error`` (flask-smorest's own default, ``code/status/message/errors``, is not what the
    server sends).
    """

    class Meta:
        unknown = INCLUDE  # a refusal may add context: ``field``, ``retry_after``…
        ordered = True

    error = fields.String(required=True, metadata={"description": "short code: invalid, not_found, conflict…"})
    message = fields.String(required=True, metadata={"description": "what is wrong and where (Chinese)"})
    items = fields.Dict(keys=fields.String(), values=fields.String(),
                        metadata={"description": "item-level messages: field path → message"})


class ObjectSchema(Schema):
    """A JSON object returned as built by the service (documented as ``type: object``).

    Used for composite read models (an entity profile, a warning with its history) whose
    shape the service defines; dumping returns the object unchanged.
    """

    class Meta:
        ordered = True
        unknown = INCLUDE  # documented as an object with any members (not ``{}`` only)

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:  # noqa: D102
        return obj


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, with each argument schema built once, when the view is declared.

    webargs builds a schema *class* anew on every request (about 0.3 ms for the task list's
    query schema, more for a nested submission); a marshmallow schema instance holds no
    per-load state and is meant to be reused, so the class is instantiated here once.
    """

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: D102
        if isinstance(schema, type) and issubclass(schema, Schema):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)


#: what the server refuses in any text (server/__init__.py: PostgreSQL text cannot hold NUL)
NO_NUL_PATTERN = "^[^\\u0000]*$"


def no_nul_strings(self: Any, field: Any, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Apispec attribute function: a text property without a pattern of its own is documented
    with one excluding NUL, as the server refuses it (a 400) before any view.
    """
    if ret.get("type") == "string" and not {"pattern", "enum", "format"} & set(ret):
        return {"pattern": NO_NUL_PATTERN}
    return {}
