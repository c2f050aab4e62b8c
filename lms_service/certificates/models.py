"""Certificates, their validity policies, assignments, the reminder log and the reminder opt-out.

A certificate is a projection of the learner's progress: the unique ``(user_id, subject_iri, basis)`` key
names the achievement it was issued for (a pass of a registration, or the set of module results that
completed a path), so issuing again from the same progress, or after a rebuild, finds the existing row.
Models never commit; the services own the transactions.
"""
from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow

SUBJECT_KINDS = ("module", "path")


def aware(value: dt.datetime) -> dt.datetime:
    """A stored (never None) datetime as UTC-aware (SQLite returns naive ones)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def new_public_id() -> str:
    """128 random bits as 32 lower-case hex digits: unguessable, so the verification URL lists nothing."""
    return secrets.token_hex(16)


class Certificate(db.Model):
    __tablename__ = "certificates"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "subject_iri", "basis"),
        # Covering on PostgreSQL, so the programme's certificate counts read the index alone.
        sa.Index("ix_certificates_user_id", "user_id", postgresql_include=["subject_iri", "earned_at", "revoked_at"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=new_public_id)
    # SET NULL: a deleted account leaves its certificates verifiable (they carry the name as issued).
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    subject_kind: Mapped[str] = mapped_column(sa.String(10))  # module | path
    subject_iri: Mapped[str] = mapped_column(sa.String(500), index=True)
    subject_title: Mapped[dict] = mapped_column(sa.JSON)  # language -> title
    subject_version: Mapped[str | None] = mapped_column(sa.String(40))
    # What the certificate was earned by: "<registration>@<timestamp of the pass>" for a module, a digest
    # of the qualifying module results for a path. Part of the unique key that makes issuing idempotent.
    basis: Mapped[str] = mapped_column(sa.String(120))
    registration: Mapped[str | None] = mapped_column(sa.String(36))
    score_scaled: Mapped[float | None] = mapped_column(sa.Float)
    learner_name: Mapped[str] = mapped_column(sa.String(120))  # as the learner entered it, at issue time
    language: Mapped[str] = mapped_column(sa.String(5))  # the learner's language at issue time
    earned_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    issued_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    valid_until: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))  # None: never expires
    issuer_id: Mapped[str] = mapped_column(sa.String(500))
    issuer_name: Mapped[str] = mapped_column(sa.String(200))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    revocation_reason: Mapped[str | None] = mapped_column(sa.String(500))
    renewal_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("certificates.id", ondelete="SET NULL"),
                                                      index=True)

    user = relationship("User", foreign_keys=[user_id])
    revoked_by = relationship("User", foreign_keys=[revoked_by_id])
    renewal_of: Mapped[Certificate | None] = relationship(remote_side=[id], foreign_keys=[renewal_of_id])

    def title(self, language: str) -> str:
        """The subject's title in ``language``, else in any language it has."""
        return self.subject_title.get(language) or next(iter(self.subject_title.values()), "")

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def expired(self, now: dt.datetime) -> bool:
        return self.valid_until is not None and aware(self.valid_until) <= now

    def status(self, now: dt.datetime) -> str:
        """valid | expired | revoked (revoked wins: it is the issuer's later word)."""
        if self.revoked:
            return "revoked"
        return "expired" if self.expired(now) else "valid"

    @property
    def score_percent(self) -> int | None:
        return None if self.score_scaled is None else round(self.score_scaled * 100)

    def __repr__(self) -> str:
        return f"<Certificate {self.public_id} {self.subject_iri}>"


class CertificatePolicy(db.Model):
    """Validity and renewal window of one module's or path's certificates (else the configured defaults)."""

    __tablename__ = "certificate_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_iri: Mapped[str] = mapped_column(sa.String(500), unique=True)
    validity_days: Mapped[int] = mapped_column()  # 0: the certificate does not expire
    renewal_window_days: Mapped[int] = mapped_column()
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Assignment(db.Model):
    """A company admin asks an employee to take a module or a learning path by a due date."""

    __tablename__ = "certificate_assignments"
    __table_args__ = (sa.UniqueConstraint("user_id", "subject_iri"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    subject_kind: Mapped[str] = mapped_column(sa.String(10))
    subject_iri: Mapped[str] = mapped_column(sa.String(500))
    subject_title: Mapped[dict] = mapped_column(sa.JSON)
    due_date: Mapped[dt.date] = mapped_column(sa.Date)
    assigned_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    user = relationship("User", foreign_keys=[user_id])

    def title(self, language: str) -> str:
        return self.subject_title.get(language) or next(iter(self.subject_title.values()), "")


class ReminderLog(db.Model):
    """One row per reminder sent; the unique ``key`` (kind + what it is about) makes each go out once."""

    __tablename__ = "certificate_reminder_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(80), unique=True)  # e.g. "due_soon:assignment:12"
    kind: Mapped[str] = mapped_column(sa.String(20))  # due_soon | overdue | expiry
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    sent_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class ReminderOptOut(db.Model):
    """A learner who asked for no reminder e-mails (kept here, keyed by user, not on the account)."""

    __tablename__ = "certificate_reminder_opt_outs"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
