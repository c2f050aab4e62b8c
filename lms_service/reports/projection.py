"""The reporting table: one row per registration, derived from the progress projection and the registration.

``refresh_enrolments`` is the one writer. The ingest hook ``project_report`` calls it for the registrations
a batch of statements touched (it runs after the progress hook, inside the ingest transaction), and
``rebuild_reports`` calls it for every registration after rebuilding the progress projection from the
statements, so the incremental and the rebuilt tables are the same function of the same rows.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..accounts.models import User
from ..extensions import db, upsert
from ..learning.models import LearnerProgress, Registration
from ..learning.projection import rebuild_progress, summary_changes
from ..lrs.deferred import Task, defer
from ..timeutil import as_aware
from .models import ReportEnrolment

DEFERRED_KIND = "reports"
DONE_STATUSES = frozenset({"completed", "passed"})
CHUNK = 2000
COLUMNS = [column.name for column in ReportEnrolment.__table__.columns]


def _moment(stamp: str | None) -> dt.datetime | None:
    """A progress stamp (fixed-width UTC text) as an aware datetime."""
    if not stamp:
        return None
    try:
        return as_aware(dt.datetime.fromisoformat(stamp))
    except ValueError:
        return None


def report_row(registration: sa.Row, progress: sa.Row) -> dict:
    """The reporting row of one registration (with its learner's ``organisation_id``) from its progress row."""
    status = progress.status
    if progress.completed and status not in DONE_STATUSES | {"failed"}:
        status = "completed"
    started = _moment(progress.first_at)
    done = _moment(progress.completed_at or progress.passed_at)
    minutes = max((done - started).total_seconds() / 60, 0.0) if done and started else None
    enrolled = as_aware(registration.created_at)
    return {"registration": registration.registration, "user_id": registration.user_id,
            "organisation_id": registration.organisation_id, "module_id": registration.module_id, "enrolled_at": enrolled,
            "enrolled_month": enrolled.astimezone(dt.UTC).strftime("%Y-%m"), "status": status,
            "score_scaled": progress.score_scaled, "started_at": started, "completed_at": done,
            "minutes_to_complete": minutes}


def _source_rows(registrations: list[str] | None) -> Iterator[list[dict]]:
    """Reporting rows built from registrations joined with their progress, a chunk at a time."""
    columns = (Registration.registration, Registration.user_id, User.organisation_id, Registration.module_id,
               Registration.created_at,
               LearnerProgress.status, LearnerProgress.completed, LearnerProgress.first_at,
               LearnerProgress.completed_at, LearnerProgress.passed_at, LearnerProgress.score_scaled)
    query = (sa.select(*columns).join(LearnerProgress, LearnerProgress.registration == Registration.registration)
             .join(User, User.id == Registration.user_id))
    if registrations is not None:
        for start in range(0, len(registrations), CHUNK):
            part = registrations[start:start + CHUNK]
            # In key order, so concurrent ingests lock the rows they share in the same order.
            rows = db.session.execute(query.where(Registration.registration.in_(part))
                                      .order_by(Registration.registration)).all()
            yield [report_row(row, row) for row in rows]
        return
    last = ""
    while True:
        rows = db.session.execute(query.where(Registration.registration > last)
                                  .order_by(Registration.registration).limit(CHUNK)).all()
        if not rows:
            return
        last = rows[-1].registration
        yield [report_row(row, row) for row in rows]


def refresh_enrolments(registrations: Collection[str] | None = None) -> int:
    """Write the reporting rows of ``registrations`` (None: of every registration); never commits.

    A registration without progress (every statement of it voided) loses its row. Returns the rows written.
    """
    wanted = sorted(registrations) if registrations is not None else None
    if wanted is not None and not wanted:
        return 0
    written: set[str] = set()
    for rows in _source_rows(wanted):
        if rows:
            upsert(ReportEnrolment, rows, ["registration"], [c for c in COLUMNS if c != "registration"])
            written.update(row["registration"] for row in rows)
    if wanted is not None:
        gone = [r for r in wanted if r not in written]
        if gone:
            db.session.execute(sa.delete(ReportEnrolment).where(ReportEnrolment.registration.in_(gone)))
    return len(written)


def project_report(statements: list[dict]) -> None:
    """Ingest hook: hand the registrations this batch touched to the deferred run (lrs/deferred.py), which
    refreshes their reporting rows right after the ingest commits (no commit here)."""
    # Only those whose summary (status, result moments, score) changed: a lesson or an answer in a
    # registration already under way leaves its reporting row as it is, and costs no run.
    registrations = summary_changes()
    if registrations:
        defer(DEFERRED_KIND, ((registration, None) for registration in sorted(registrations)))


def refresh_deferred(tasks: list[Task]) -> None:
    """Deferred projector: refresh the reporting rows of the tasks' registrations from the committed progress."""
    refresh_enrolments({task.registration for task in tasks if task.registration})


def rebuild_reports() -> tuple[int, int]:
    """Rebuild the progress projection from the statements, then the reporting table from it, in one
    transaction; returns (progress rows, reporting rows)."""
    try:
        progress = rebuild_progress(commit=False)
        db.session.execute(sa.delete(ReportEnrolment))
        written = refresh_enrolments()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return progress, written


def snapshot() -> list[tuple]:
    """Every reporting row as a plain tuple, in registration order (to compare two states of the table)."""
    columns = list(ReportEnrolment.__table__.columns)
    return [tuple(row) for row in db.session.execute(
        sa.select(*columns).order_by(ReportEnrolment.registration)).all()]


def _follow_membership(session: Session, _context, _instances) -> None:
    """Before a flush that moves a learner to another company (or out of one), move their reporting rows
    with them, in the same transaction: the reports always count a learner where the users table has them.

    It sees changes made through the ORM (the column or the relationship); a bulk UPDATE of users bypasses
    it, which is why the lists of individuals also check users.organisation_id and ``flask reports rebuild``
    puts every row right.
    """
    for obj in session.dirty:
        if not isinstance(obj, User):
            continue
        attrs = sa.inspect(obj).attrs
        if attrs.organisation.history.has_changes():
            # Set through the relationship, the column is filled only at flush: take the company from it.
            company = obj.organisation.id if obj.organisation is not None else None
        elif attrs.organisation_id.history.has_changes():
            company = obj.organisation_id
        else:
            continue
        session.execute(sa.update(ReportEnrolment).where(ReportEnrolment.user_id == obj.id)
                        .values(organisation_id=company))


def follow_membership_changes() -> None:
    """Register the flush listener that keeps ``report_enrolments.organisation_id`` equal to the user's."""
    if not sa.event.contains(Session, "before_flush", _follow_membership):
        sa.event.listen(Session, "before_flush", _follow_membership)
