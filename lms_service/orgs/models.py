"""Organisations: the supplier companies and IT firms whose employees take modules."""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import as_aware, utcnow


class OrgKind(str, enum.Enum):
    vehicle_supplier = "vehicle_supplier"
    it_firm = "it_firm"
    other = "other"


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # Stored normalised as NNNNNN-NNNN; unique because one company is one organisation.
    org_number: Mapped[str] = mapped_column(sa.String(11), unique=True)
    county: Mapped[str] = mapped_column(sa.String(2))  # SCB county code (länskod), e.g. "01" Stockholm
    kind: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    members = relationship("User", back_populates="organisation", lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<Organisation {self.org_number} {self.name!r}>"


class Invitation(db.Model):
    """An org admin's invitation: a single-use link, optionally sent to one e-mail address."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(sa.String(254))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    accepted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    organisation: Mapped[Organisation] = relationship()

    def is_usable(self, now: dt.datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and as_aware(self.expires_at) > now


class JoinRequestStatus(str, enum.Enum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class JoinRequest(db.Model):
    """A self-registered user's request to join a company, decided by that company's org admin."""

    __tablename__ = "join_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=JoinRequestStatus.pending.value)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    organisation: Mapped[Organisation] = relationship()
    user = relationship("User", foreign_keys=[user_id])

