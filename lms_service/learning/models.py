"""Registrations and what the player keeps about them; the progress projection.

The player's tables (registrations, lesson completions, answers, quiz attempts) hold the operational state
the player needs to decide what comes next; unique constraints make every learner action happen once. The
learner's *status* is not kept here: ``LearnerProgress`` is a projection of the statements in the LRS,
written only by the ingest hook in projection.py (and rebuilt from the statements by the CLI).
Models never commit; the services own the transactions.
"""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow


def _new_registration() -> str:
    return str(uuid.uuid4())


class Registration(db.Model):
    """One learner's enrolment in one module, pinned to the module version they started on."""

    __tablename__ = "learning_registrations"
    # One registration per learner and module: enrolling again opens the same one.
    __table_args__ = (sa.UniqueConstraint("user_id", "module_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration: Mapped[str] = mapped_column(sa.String(36), unique=True, default=_new_registration)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[int] = mapped_column(sa.ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    module_version_id: Mapped[int] = mapped_column(sa.ForeignKey("module_versions.id", ondelete="RESTRICT"))
    # active: the learner is working through it; finished: passed, or failed with no attempt left.
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Graded quiz attempts so far; the attempt being answered is ``attempts + 1``.
    attempts: Mapped[int] = mapped_column(default=0)
    # A copy of the location kept in the xAPI State document, so an unchanged bookmark is not rewritten.
    bookmark: Mapped[str] = mapped_column(sa.String(80), default="")
    # The cmi5 session: open between launched/initialized and terminated.
    session_id: Mapped[str | None] = mapped_column(sa.String(36))
    session_started_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    session_open: Mapped[bool] = mapped_column(default=False)
    # Set when the learner left (suspended); the next session starts with resumed.
    suspended: Mapped[bool] = mapped_column(default=False)

    user = relationship("User")
    module = relationship("Module")
    module_version = relationship("ModuleVersion")

    @property
    def finished(self) -> bool:
        return self.status == "finished"


class LessonCompletion(db.Model):
    """A lesson finished in a round: round 0 is the first pass, round n the review after failed attempt n."""

    __tablename__ = "learning_lesson_completions"
    __table_args__ = (sa.UniqueConstraint("registration_id", "lesson_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("learning_registrations.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[str] = mapped_column(sa.String(64))
    round: Mapped[int] = mapped_column(default=0)
    finished_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class QuizAnswer(db.Model):
    """One graded answer; the unique key is what makes a double submit record nothing twice."""

    __tablename__ = "learning_quiz_answers"
    __table_args__ = (sa.UniqueConstraint("registration_id", "attempt", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("learning_registrations.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column()
    question_id: Mapped[str] = mapped_column(sa.String(64))
    # The response as the question type's xAPI response string, and as JSON for showing it again.
    response: Mapped[str] = mapped_column(sa.Text)
    response_json: Mapped[object] = mapped_column(sa.JSON)
    correct: Mapped[bool] = mapped_column()
    answered_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    statement_id: Mapped[str] = mapped_column(sa.String(36))


class QuizAttempt(db.Model):
    """A graded quiz attempt (the unique key makes grading an attempt happen once)."""

    __tablename__ = "learning_quiz_attempts"
    __table_args__ = (sa.UniqueConstraint("registration_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("learning_registrations.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    raw: Mapped[int] = mapped_column()
    maximum: Mapped[int] = mapped_column()
    scaled: Mapped[float] = mapped_column(sa.Float)
    passed: Mapped[bool] = mapped_column()
    submitted_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    statement_id: Mapped[str] = mapped_column(sa.String(36))


class LearnerProgress(db.Model):
    """The status of one registration as the statements tell it (the projection; never written by views).

    Every column is a commutative fold of the registration's statements (max, min, count, latest by
    timestamp), so applying statements one batch at a time in the ingest hook and rebuilding from all of
    them at once give the same row.
    """

    __tablename__ = "learning_progress"

    registration: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    actor_ifi: Mapped[str] = mapped_column(sa.String(512), index=True)
    module_iri: Mapped[str] = mapped_column(sa.String(2048))
    # not_started | in_progress | completed | passed | failed
    status: Mapped[str] = mapped_column(sa.String(16))
    progress: Mapped[int] = mapped_column(default=0)
    completed: Mapped[bool] = mapped_column(default=False)
    score_scaled: Mapped[float | None] = mapped_column(sa.Float)
    # The timestamp and id of the passed/failed statement the score comes from (latest wins, passed first).
    score_from: Mapped[str | None] = mapped_column(sa.String(80))
    attempts: Mapped[int] = mapped_column(default=0)
    first_at: Mapped[str] = mapped_column(sa.String(40))
    last_at: Mapped[str] = mapped_column(sa.String(40))
    completed_at: Mapped[str | None] = mapped_column(sa.String(40))
    passed_at: Mapped[str | None] = mapped_column(sa.String(40))
