"""Shared marshmallow schemas for the API."""

from __future__ import annotations

from typing import Any

import flask_smorest
from marshmallow import Schema


class ObjectSchema(Schema):
    """A JSON object returned as built by the service (documented as ``type: object``).

    Used for composite read models (an entity profile, a warning with its history) whose
    shape the service defines; dumping returns the object unchanged.
    """

    class Meta:
        ordered = True

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
