from __future__ import annotations

from marshmallow import Schema, fields, validate


class TokenRequestSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class UserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())
    department_code = fields.String(allow_none=True)
    inspector_id = fields.Integer(allow_none=True)


class MeSchema(UserSchema):
    unread_tasks = fields.Integer()


class TokenSchema(Schema):
    token = fields.String()
    expires_at = fields.DateTime()
    user = fields.Nested(UserSchema)


class ThrottleSchema(Schema):
    kind = fields.String(metadata={"description": "address 或 account"})
    key = fields.String(allow_none=True)
    failures = fields.Integer()
    last_failure_at = fields.DateTime()
    delay_seconds = fields.Integer()
    throttled_until = fields.DateTime(allow_none=True)


class ThrottleClearSchema(Schema):
    username = fields.String(validate=validate.Length(min=1, max=64))
    address = fields.String(validate=validate.Length(min=1, max=64))


class ThrottleClearedSchema(Schema):
    cleared = fields.Integer()
