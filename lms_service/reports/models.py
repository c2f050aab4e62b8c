"""The reporting table, coordinators' access grants and reporting API tokens.

``ReportEnrolment`` is a projection of a projection: one row per registration that has statements, with the
typed, indexed columns the dashboards group and filter by (enrolment month, completion time in minutes).
It is written only by ``projection.refresh_enrolments`` (the ingest hook and ``flask reports rebuild``), so
its numbers always follow from the statements. Models never commit; the services own the transactions.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow

# Read scopes of a reporting API token: figures (aggregates, per-company and per-module counts) and rows
# about individual learners (progress, completions, certificates).
TOKEN_SCOPES = ("reports:aggregates", "reports:learners")


class ReportEnrolment(db.Model):
    __tablename__ = "report_enrolments"
    # The programme's figures count distinct learners per company and key: with these covering indexes
    # PostgreSQL reads them in order from the index alone (no sort, no table access).
    __table_args__ = (
        sa.Index("ix_report_enrolments_module_enrolled", "module_id", "enrolled_at"),
        # Lists newest first, paged from the index however deep the page (the registration breaks ties).
        sa.Index("ix_report_enrolments_enrolled_registration", "enrolled_at", "registration"),
        sa.Index("ix_report_enrolments_completed_registration", "completed_at", "registration"),
        sa.Index("ix_report_enrolments_organisation_enrolled", "organisation_id", "enrolled_at"),
        sa.Index("ix_report_enrolments_organisation_user", "organisation_id", "user_id",
                 postgresql_include=["status", "enrolled_at", "module_id"]),
        sa.Index("ix_report_enrolments_month_organisation_user", "enrolled_month", "organisation_id", "user_id",
                 postgresql_include=["status", "enrolled_at", "module_id"]),
    )

    registration: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The learner's company, copied from users.organisation_id so that company and programme figures need
    # no join with the users table; kept equal to it by projection.follow_membership_changes.
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id", ondelete="SET NULL"))
    module_id: Mapped[int] = mapped_column(sa.ForeignKey("modules.id", ondelete="CASCADE"))
    enrolled_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    enrolled_month: Mapped[str] = mapped_column(sa.String(7))  # YYYY-MM in UTC
    # not_started | in_progress | completed | passed | failed
    status: Mapped[str] = mapped_column(sa.String(16))
    score_scaled: Mapped[float | None] = mapped_column(sa.Float)
    started_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # From the first statement to completion (or the pass, for a module without a completed statement).
    minutes_to_complete: Mapped[float | None] = mapped_column(sa.Float)


class CoordinatorGrant(db.Model):
    """A company's consent that the programme's coordinators see its employees individually."""

    __tablename__ = "report_coordinator_grants"

    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    granted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    granted_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class ApiToken(db.Model):
    """A bearer token for the reporting API: read scopes, tied to one company or global (organisation NULL).

    Only the SHA-256 of the token is stored (it is 256 random bits, so a fast hash suffices); ``prefix`` is
    its first characters, shown in lists so a person can tell their tokens apart.
    """

    __tablename__ = "report_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scopes: Mapped[str] = mapped_column(sa.String(200))  # space-separated, from TOKEN_SCOPES
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"),
                                                        index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())
