"""One schema for a round definition, shared by the API (JSON) and the console (its form).

The API takes sampling ratios as fractions (0.05); the console's form asks for percent
(5 or 5%): :class:`ConsoleRoundSchema` reads the flat form, checks the ratios in the
units the form shows, and converts them to fractions, so both reach
:func:`server.rounds.services.create_round` in one shape. Rules on reference data
(known departments and items, jurisdiction) stay in the service, which every caller,
the simulator included, goes through.
"""

from __future__ import annotations

from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from server.entities.models import ENTITY_TYPES
from server.rounds.services import DESIGNS, FORCE_LEVELS, GRADES, ROUND_CHANNELS

PER_TASK = "依法每项检查至少两名执法人员 (at least 2 inspectors)"


class ScopeSchema(Schema):
    regions = fields.List(fields.String(), load_default=list)
    industries = fields.List(fields.String(), load_default=list)
    entity_types = fields.List(fields.String(validate=validate.OneOf(list(ENTITY_TYPES), error="未知主体类型 {input}")),
                               load_default=list)
    business_types = fields.List(fields.String(), load_default=list)
    licence_kinds = fields.List(fields.String(), load_default=list)


class ExclusionSchema(Schema):
    inspected_within_days = fields.Integer(load_default=None, allow_none=True,
                                           validate=validate.Range(min=0, error="应为非负整数天数"))
    registered_within_days = fields.Integer(load_default=None, allow_none=True,
                                            validate=validate.Range(min=0, error="应为非负整数天数"))
    drawn_this_year = fields.Boolean(load_default=False)
    a_grade_no_disturbance = fields.Boolean(load_default=False)


class InspectorPoolSchema(Schema):
    departments = fields.List(fields.String(), load_default=list)


class RecusalSchema(Schema):
    conflicts = fields.Boolean(load_default=True)
    previous_inspectors = fields.Boolean(load_default=True)


class RoundSchema(Schema):
    """A round definition (API JSON: ratios as fractions of the pool, 0 to 1)."""

    #: what the ratio a user types is a share of: 1 for a fraction, 100 for percent
    ratio_scale = 1.0
    ratio_range_message = "抽查比例应为 0 到 1 之间的数 (ratio in [0, 1])"

    name = fields.String(required=True, validate=validate.Length(min=1, max=200, error="请填写抽查计划名称（200 字以内）"),
                         error_messages={"required": "请填写抽查计划名称"})
    channel = fields.String(load_default="credit_weighted",
                            validate=validate.OneOf(ROUND_CHANNELS, error="应为 random / credit_weighted"))
    design = fields.String(load_default=None, allow_none=True,
                           validate=validate.OneOf(list(DESIGNS), error="应为 stratified / pps / uniform"))
    department_codes = fields.List(fields.String(), required=True,
                                   validate=validate.Length(min=1, error="至少选择一个实施部门"),
                                   error_messages={"required": "至少选择一个实施部门"})
    check_item_codes = fields.List(fields.String(), load_default=list)
    scope = fields.Nested(ScopeSchema, load_default=dict)
    period_start = fields.Date(required=True, error_messages={"required": "请填写开始日期", "invalid": "日期格式应为 YYYY-MM-DD"})
    period_end = fields.Date(required=True, error_messages={"required": "请填写结束日期", "invalid": "日期格式应为 YYYY-MM-DD"})
    ratios = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True,
                                                                  error_messages={"invalid": "抽查比例应为数字"}),
                         required=True,
                         error_messages={"required": "请填写抽查比例"})
    force_warning_levels = fields.List(fields.String(validate=validate.OneOf(FORCE_LEVELS, error="只能为 red / orange")),
                                       load_default=list)
    exclusions = fields.Nested(ExclusionSchema, load_default=dict)
    inspector_pool = fields.Nested(InspectorPoolSchema, load_default=dict)
    inspectors_per_task = fields.Integer(load_default=2, validate=validate.Range(min=2, max=20, error=PER_TASK),
                                         error_messages={"invalid": "应为不少于 2 的整数"})
    workload_cap = fields.Integer(load_default=None, allow_none=True,
                                  validate=validate.Range(min=1, error="每人任务上限应为正整数"),
                                  error_messages={"invalid": "应为整数"})
    recusal = fields.Nested(RecusalSchema, load_default=dict)

    @validates_schema(skip_on_field_errors=False)
    def _ratios(self, data: dict[str, Any], **kwargs: Any) -> None:
        design = data.get("design") or ("stratified" if data.get("channel", "credit_weighted") == "credit_weighted"
                                        else "uniform")
        ratios = data.get("ratios")
        if not isinstance(ratios, dict):
            return
        wanted = GRADES if design == "stratified" else ("overall",)
        errors: dict[str, list[str]] = {}
        for key in wanted:
            value = ratios.get(key)
            if value is None:
                errors[key] = ["请填写抽查比例"]
            elif not 0 <= value <= self.ratio_scale:
                errors[key] = [self.ratio_range_message]
        if errors:
            raise ValidationError({"ratios": errors})
        if all(ratios[k] == 0 for k in wanted):
            raise ValidationError({"ratios": {wanted[0]: ["抽查比例不能全部为 0（否则不会抽取任何主体）"]}})

    @post_load
    def _fractions(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["ratios"] = {k: v / self.ratio_scale for k, v in data["ratios"].items() if v is not None}
        if data.get("design") is None:
            data.pop("design", None)
        if not data["inspector_pool"].get("departments"):
            data["inspector_pool"]["departments"] = list(data["department_codes"])
        return data


#: console form field → the schema's field path (for errors shown next to their input)
FORM_FIELDS: dict[str, str] = {
    **{f"ratio_{g}": f"ratios.{g}" for g in GRADES}, "ratio_overall": "ratios.overall",
    **{f"scope_{k}": f"scope.{k}" for k in ("regions", "industries", "entity_types", "business_types",
                                            "licence_kinds")},
    "inspected_within_days": "exclusions.inspected_within_days",
    "registered_within_days": "exclusions.registered_within_days",
    "pool_departments": "inspector_pool.departments",
    "recusal_conflicts": "recusal.conflicts", "recusal_previous": "recusal.previous_inspectors",
}
SCHEMA_FIELDS = {v: k for k, v in FORM_FIELDS.items()}


class ConsoleRoundSchema(RoundSchema):
    """The console's flat form (a ``MultiDict``); ratios typed in percent (``5`` or ``5%``)."""

    ratio_scale = 100.0
    ratio_range_message = "抽查比例应为 0% 到 100% 之间的数"

    @pre_load
    def _from_form(self, form: Any, **kwargs: Any) -> dict[str, Any]:
        def text(name: str) -> str | None:
            raw = (form.get(name) or "").strip()
            return raw or None

        design = text("design") or "stratified"
        if design == "stratified":
            ratios = {g: _percent(text(f"ratio_{g}")) for g in GRADES}
        else:
            ratios = {"overall": _percent(text("ratio_overall"))}
        out = {
            "name": text("name") or "",
            "channel": text("channel") or "credit_weighted",
            "design": design,
            "department_codes": form.getlist("department_codes"),
            "check_item_codes": form.getlist("check_item_codes"),
            "scope": {k: form.getlist(f"scope_{k}") for k in ("regions", "industries", "entity_types",
                                                               "business_types", "licence_kinds")},
            "period_start": text("period_start"),
            "period_end": text("period_end"),
            "ratios": ratios,
            "force_warning_levels": form.getlist("force_warning_levels"),
            "exclusions": {
                "inspected_within_days": text("inspected_within_days"),
                "registered_within_days": text("registered_within_days"),
                "drawn_this_year": form.get("drawn_this_year") == "1",
                "a_grade_no_disturbance": form.get("a_grade_no_disturbance") == "1",
            },
            "inspector_pool": {"departments": form.getlist("pool_departments")},
            "inspectors_per_task": text("inspectors_per_task"),
            "workload_cap": text("workload_cap"),
            "recusal": {"conflicts": form.get("recusal_conflicts") == "1",
                        "previous_inspectors": form.get("recusal_previous") == "1"},
        }
        # an empty date is a missing one (reported as such); an empty "inspectors per task"
        # is not a number (never silently the default); an empty cap means no cap
        for key in ("period_start", "period_end"):
            if out[key] is None:
                del out[key]
        if out["inspectors_per_task"] is None:
            out["inspectors_per_task"] = ""
        return out


def _percent(raw: str | None) -> Any:
    """``"5%"`` → ``"5"``; the Float field reports anything that is not a number."""
    return None if raw is None else raw.rstrip("%").strip()


def flat_errors(messages: Any, prefix: str = "") -> dict[str, str]:
    """Marshmallow's nested messages → ``{"ratios.A": "…"}``."""
    out: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            # a Dict field reports its values' errors under "value"
            out.update(flat_errors(value, prefix if key == "value" else f"{prefix}{key}."))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix.rstrip(".")] = "；".join(messages)
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            out.update(flat_errors(value, f"{prefix}{i}."))
    else:
        out[prefix.rstrip(".")] = str(messages)
    return out
