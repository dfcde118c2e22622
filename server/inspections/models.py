"""Submissions from the handheld, their attachments, and inspection results."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, created_t, intpk

#: A submission's life: ``pending`` (stored, waiting for declared attachments: the task
#: stays open and no result counts), ``complete`` (every attachment is there, the result
#: is recorded), ``superseded`` (replaced by a later submission naming it as
#: ``deprecated_id``, OpenRosa's meta/deprecatedID).
SUBMISSION_STATES = ("pending", "complete", "superseded")


class Submission(Base):
    """One finished form as sent by a device, keyed by the client's instance id."""

    __tablename__ = "submissions"
    # one live (not superseded) submission per task: two devices cannot both hold a
    # pending result for the same task
    __table_args__ = (
        Index("uq_submissions_live_task", "task_id", unique=True,
              sqlite_where=text("state != 'superseded'"), postgresql_where=text("state != 'superseded'")),
    )

    id: Mapped[intpk]
    instance_id: Mapped[str] = mapped_column(String(64), unique=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("inspectors.id"))
    form_code: Mapped[str] = mapped_column(String(32))
    form_version: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]]
    payload_hash: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="complete", server_default="complete")
    received_at: Mapped[created_t]
    #: when the last required attachment arrived and the result was recorded
    completed_at: Mapped[dt.datetime | None]

    attachments: Mapped[list[Attachment]] = relationship(back_populates="submission")


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (UniqueConstraint("submission_id", "checksum"),)

    id: Mapped[intpk]
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # photo / signature
    filename: Mapped[str] = mapped_column(String(200))
    checksum: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    path: Mapped[str | None] = mapped_column(String(300))  # None until the bytes arrive
    received_at: Mapped[dt.datetime | None]
    #: SHA-256 and size of the camera's original file, before the handheld downscaled it
    original_checksum: Mapped[str | None] = mapped_column(String(64))
    original_size: Mapped[int | None]
    #: why the last upload of these bytes was refused (shown to the inspector); None once stored
    refusal: Mapped[str | None] = mapped_column(String(300))

    submission: Mapped[Submission] = relationship(back_populates="attachments")


class InspectionResult(Base):
    """The outcome of one task: exactly one per task (the unique key enforces it)."""

    __tablename__ = "inspection_results"

    id: Mapped[intpk]
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), unique=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16), index=True)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("sampling_rounds.id"), index=True)
    warning_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"))
    inspected_on: Mapped[dt.date] = mapped_column(index=True)
    problem_found: Mapped[bool]
    problem_domains: Mapped[list[Any]]
    checked_domains: Mapped[list[Any]]
    failed_items: Mapped[list[Any]]
    summary: Mapped[str | None] = mapped_column(String(500))
    #: ``server.inspections.results.RESULT_CATEGORIES`` code: what the public reads.
    result_category: Mapped[str | None] = mapped_column(String(32))
    #: ``server.inspections.results.FOLLOW_UPS`` code: the follow-up taken (后续处置).
    follow_up: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[created_t]

    submission: Mapped[Submission | None] = relationship()
