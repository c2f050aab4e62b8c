"""Users, their roles and password-reset tokens."""
from __future__ import annotations

import datetime as dt
import enum
import uuid

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow


class Role(str, enum.Enum):
    learner = "learner"
    author = "author"
    org_admin = "org_admin"  # administers their own company
    coordinator = "coordinator"  # the regional programme: reads every company
    admin = "admin"


def _opaque_id() -> str:
    return uuid.uuid4().hex


class User(UserMixin, db.Model):
    __tablename__ = "users"
    # Covering on PostgreSQL: the reports join certificates to companies through it without reading users.
    __table_args__ = (sa.Index("ix_users_id_organisation", "id", postgresql_include=["organisation_id"]),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased; uniqueness is therefore case-insensitive.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(120))
    language: Mapped[str] = mapped_column(sa.String(5), default="sv")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    # The learner's pseudonymous xAPI account name: opaque and stable, never the e-mail or name.
    xapi_account_name: Mapped[str] = mapped_column(sa.String(32), unique=True, default=_opaque_id)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # Bumped on password change/reset so sessions elsewhere end (Flask-Login's alternative id).
    session_version: Mapped[int] = mapped_column(default=1)

    organisation = relationship("Organisation", back_populates="members", lazy="joined")
    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> set[str]:
        return {row.role for row in self.role_rows} | {Role.learner.value}

    def has_role(self, name: str | Role) -> bool:
        value = name.value if isinstance(name, Role) else name
        return value in self.roles

    def grant(self, role: Role | str) -> None:
        value = role.value if isinstance(role, Role) else role
        Role(value)  # raises ValueError for an unknown role
        if value != Role.learner.value and value not in {row.role for row in self.role_rows}:
            self.role_rows.append(UserRole(role=value))

    def revoke(self, role: Role | str) -> None:
        value = role.value if isinstance(role, Role) else role
        self.role_rows = [row for row in self.role_rows if row.role != value]

    def get_id(self) -> str:  # Flask-Login
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def __repr__(self) -> str:
        return f"<User {self.id}>"


class UserRole(db.Model):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(20), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class PasswordResetToken(db.Model):
    """A one-time reset token; only its SHA-256 is stored."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    user: Mapped[User] = relationship()
