"""Tables of statement forwarding: the external LRSs (targets) and the transactional outbox.

An outbox row is written in the ingest transaction of its statement, one per statement and target, so
a statement is either stored and queued for every matching target, or neither. Rows move
queued -> sending (claimed with a lease) -> sent, or -> failed (retried at ``next_attempt_at``), or ->
dead (a rejection or a 409 mismatch, kept with its reason until an admin retries it).
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..lrs.models import BigPK, utcnow

QUEUED, SENDING, SENT, FAILED, DEAD = "queued", "sending", "sent", "failed", "dead"
STATES = (QUEUED, SENDING, SENT, FAILED, DEAD)
VERSIONS = ("2.0.0", "1.0.3")


class ForwardTarget(db.Model):
    """An external LRS that receives copies of stored statements.

    The filters combine with AND; a target without filters receives every statement. The secret is
    stored encrypted (see ``secrets.py``) and never shown back.
    """

    __tablename__ = "forward_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    endpoint: Mapped[str] = mapped_column(sa.String(2048))
    key: Mapped[str] = mapped_column(sa.String(255))
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    xapi_version: Mapped[str] = mapped_column(sa.String(10), default="2.0.0")
    filter_organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    filter_verb: Mapped[str | None] = mapped_column(sa.String(2048))
    filter_activity: Mapped[str | None] = mapped_column(sa.String(2048))
    # A paused target keeps queueing (nothing is lost while it is off) but the worker sends nothing.
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    batch_size: Mapped[int] = mapped_column(sa.Integer, default=100)
    # POST whole batches (ids set, so as harmless to resend as PUT) instead of one PUT per statement.
    post_batches: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # Target-level health, written by the worker: consecutive failures drive the backoff.
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    blocked_until: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(sa.String(1000))
    last_error_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_success_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    @property
    def filter_text(self) -> str:
        parts = []
        if self.filter_organisation_id is not None:
            parts.append(f"organisation={self.filter_organisation_id}")
        if self.filter_verb:
            parts.append(f"verb={self.filter_verb}")
        if self.filter_activity:
            parts.append(f"activity={self.filter_activity}")
        return " ".join(parts) or "all"


class OutboxEntry(db.Model):
    """One statement bound for one target."""

    __tablename__ = "forward_outbox"

    id: Mapped[int] = mapped_column(BigPK, primary_key=True, autoincrement=True)
    # No foreign key to lrs_statements on purpose: on PostgreSQL a foreign key check is a locking lookup
    # per inserted row, and this insert runs in every ingest. The worker deletes rows whose statement
    # was erased at the source.
    statement_id: Mapped[str] = mapped_column(sa.String(36))
    target_id: Mapped[int] = mapped_column(sa.ForeignKey("forward_targets.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(sa.String(8), default=QUEUED)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    created: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # The claim: which worker holds the row and until when; an expired lease makes it claimable again.
    claimed_by: Mapped[str | None] = mapped_column(sa.String(100))
    lease_until: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.String(1000))
    # 409 and the target's statement differs from ours: flagged for a person to look at.
    conflict: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    # One index besides the key, on purpose: every ingest writes here, and each index is paid for in
    # ingest time. The claim needs (state, next_attempt_at); the health page's GROUP BY scans the table,
    # which the pruning of sent rows keeps small.
    __table_args__ = (
        sa.Index("ix_forward_outbox_state_due", "state", "next_attempt_at", "id"),
    )
