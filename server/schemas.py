"""Shared marshmallow schemas for the API."""

from __future__ import annotations

from typing import Any

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
