"""Import every feature package's models so the metadata is complete (Alembic, tests)."""

from server.audit.models import AuditEvent
from server.auth.models import ApiToken, LoginAttempt, RateCounter, User
from server.credit.models import CreditScore
from server.entities.models import Entity, Licence
from server.feeds.models import (
    ActivitySignal,
    AdRecord,
    AnnualReport,
    Certificate,
    Complaint,
    EntityFlag,
    Equipment,
    Instrument,
    ListEntry,
    OnlineMetric,
    Penalty,
    PrepaidRecord,
    PriceReport,
    SamplingTest,
)
from server.inspections.models import Attachment, InspectionResult, Submission
from server.reference.models import (
    BusinessType,
    CheckItem,
    Department,
    FormTemplate,
    Industry,
    Law,
    LegalReference,
    LicenceKind,
    Region,
)
from server.risk.models import FeatureSnapshot, ModelVersion, risk_scores
from server.rounds.models import DrawnEntity, SamplingRound
from server.tasks import feed  # noqa: F401  (the task-list triggers, created with the tables)
from server.tasks.models import (
    Inspector,
    InspectorConflict,
    Task,
    TaskAssignment,
    TaskListChange,
    TaskListEpoch,
)
from server.warnings.models import Warning, WarningTransition

__all__ = [
    "ActivitySignal", "AdRecord", "AnnualReport", "ApiToken", "Attachment", "AuditEvent",
    "BusinessType", "Certificate", "CheckItem", "Complaint", "CreditScore", "Department",
    "DrawnEntity", "Entity", "EntityFlag", "Equipment", "FeatureSnapshot", "FormTemplate",
    "Industry", "InspectionResult", "Inspector", "InspectorConflict", "Instrument", "Law",
    "LegalReference", "Licence", "LicenceKind", "ListEntry", "LoginAttempt", "ModelVersion", "RateCounter",
    "OnlineMetric", "Penalty", "PrepaidRecord", "PriceReport", "Region", "SamplingRound",
    "SamplingTest", "Submission", "Task", "TaskAssignment", "TaskListChange", "TaskListEpoch", "User", "Warning",
    "WarningTransition", "risk_scores",
]
