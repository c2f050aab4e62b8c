"""Tables of the embedded Learning Record Store.

Statements keep their full JSON body, but every query filter reads an indexed column or a lookup table
(agents, activities), never the JSON. ``pk`` comes from a sequence and, together with ``stored``, gives
the keyset order used for ``more`` paging.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

# JSONB on PostgreSQL (binary, smaller to read back), plain JSON text on SQLite.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LRSClient(db.Model):
    """A credential for xAPI clients: HTTP Basic key and secret, scopes, optionally one organisation."""

    __tablename__ = "lrs_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # SHA-256 of the secret: the secret is a 256-bit random token, so a fast hash is enough and keeps
    # per-request authentication cheap.
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    scopes: Mapped[str] = mapped_column(sa.String(300))  # space-separated
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    created: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    revoked: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    @property
    def scope_set(self) -> set[str]:
        return set(self.scopes.split())

    @property
    def active(self) -> bool:
        return self.revoked is None


class Statement(db.Model):
    """One stored statement; ``body`` is the statement as stored (id, stored, authority, version set)."""

    __tablename__ = "lrs_statements"

    pk: Mapped[int] = mapped_column(BigPK, primary_key=True, autoincrement=True)
    statement_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    stored: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    verb_id: Mapped[str] = mapped_column(sa.String(2048))
    registration: Mapped[str | None] = mapped_column(sa.String(36))
    # Target of an object StatementRef (voiding or plain reference), for "statements that refer to a match".
    ref_target: Mapped[str | None] = mapped_column(sa.String(36))
    voided: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    is_voiding: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    version: Mapped[str] = mapped_column(sa.String(10))
    client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lrs_clients.id", ondelete="SET NULL"))
    # The organisation of the credential that stored it: an organisation's credentials read only its own.
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    has_attachments: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    body: Mapped[dict] = mapped_column(JSONType)

    __table_args__ = (
        sa.Index("ix_lrs_statements_stored_pk", "stored", "pk"),
        sa.Index("ix_lrs_statements_verb_stored", "verb_id", "stored", "pk"),
        # Partial indexes: most statements have no registration, organisation or reference target, and
        # an index entry costs ingest time.
        sa.Index(
            "ix_lrs_statements_registration_stored",
            "registration",
            "stored",
            "pk",
            postgresql_where=sa.text("registration IS NOT NULL"),
            sqlite_where=sa.text("registration IS NOT NULL"),
        ),
        sa.Index("ix_lrs_statements_client_stored", "client_id", "stored", "pk"),
        sa.Index(
            "ix_lrs_statements_org_stored",
            "organisation_id",
            "stored",
            "pk",
            postgresql_where=sa.text("organisation_id IS NOT NULL"),
            sqlite_where=sa.text("organisation_id IS NOT NULL"),
        ),
        sa.Index(
            "ix_lrs_statements_ref_target",
            "ref_target",
            postgresql_where=sa.text("ref_target IS NOT NULL"),
            sqlite_where=sa.text("ref_target IS NOT NULL"),
        ),
    )


class StatementAgent(db.Model):
    """An agent (IFI key) a statement answers to in the ``agent`` filter.

    ``related`` rows only match with related_agents=true. ``verb_id``, ``registration`` and ``stored``
    are copied from the statement so that agent [+ verb] queries walk one index in ``stored`` order and
    stop after a page. A statement whose object is a StatementRef also gets its target's rows (with the
    target's verb and registration): it answers to every filter its target answers to.

    ``related`` comes before ``stored`` in the indexes: a query without related_* reads only the rows of
    related = false in order (a course is mostly a parent: nearly all of its rows are related), one with
    it reads both ranges and merges them (lrs/query.py).
    """

    __tablename__ = "lrs_statement_agents"

    statement_pk: Mapped[int] = mapped_column(
        BigPK, sa.ForeignKey("lrs_statements.pk", ondelete="CASCADE"), primary_key=True
    )
    ifi: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    verb_id: Mapped[str] = mapped_column(sa.String(2048), primary_key=True)
    related: Mapped[bool] = mapped_column(sa.Boolean)
    registration: Mapped[str | None] = mapped_column(sa.String(36))
    stored: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.Index("ix_lrs_statement_agents_ifi_related", "ifi", "related", "stored", "statement_pk"),
        sa.Index("ix_lrs_statement_agents_ifi_verb_related", "ifi", "verb_id", "related", "stored", "statement_pk"),
    )


class StatementActivity(db.Model):
    """An activity id a statement answers to in the ``activity`` filter (see StatementAgent)."""

    __tablename__ = "lrs_statement_activities"

    statement_pk: Mapped[int] = mapped_column(
        BigPK, sa.ForeignKey("lrs_statements.pk", ondelete="CASCADE"), primary_key=True
    )
    activity_id: Mapped[str] = mapped_column(sa.String(2048), primary_key=True)
    verb_id: Mapped[str] = mapped_column(sa.String(2048), primary_key=True)
    related: Mapped[bool] = mapped_column(sa.Boolean)
    registration: Mapped[str | None] = mapped_column(sa.String(36))
    stored: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.Index("ix_lrs_statement_activities_aid_related", "activity_id", "related", "stored", "statement_pk"),
        sa.Index(
            "ix_lrs_statement_activities_aid_verb_related",
            "activity_id",
            "verb_id",
            "related",
            "stored",
            "statement_pk",
        ),
    )


class Attachment(db.Model):
    """Raw attachment content, shared by every statement that names the same SHA-2."""

    __tablename__ = "lrs_attachments"

    sha2: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    content_type: Mapped[str] = mapped_column(sa.String(255))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)


class Activity(db.Model):
    """The LRS's canonical definition of an activity, for the Activities resource."""

    __tablename__ = "lrs_activities"

    activity_id: Mapped[str] = mapped_column(sa.String(2048), primary_key=True)
    definition: Mapped[dict | None] = mapped_column(JSONType)


class Document(db.Model):
    """A State, Activity Profile or Agent Profile document.

    Absent key parts are stored as '' (not NULL) so that the unique constraint holds on every database.
    """

    __tablename__ = "lrs_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # state | activity_profile | agent_profile
    activity_id: Mapped[str] = mapped_column(sa.String(2048), default="")
    agent_ifi: Mapped[str] = mapped_column(sa.String(512), default="")
    registration: Mapped[str] = mapped_column(sa.String(36), default="")
    document_id: Mapped[str] = mapped_column(sa.String(2048))
    content_type: Mapped[str] = mapped_column(sa.String(255))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    etag: Mapped[str] = mapped_column(sa.String(64))
    updated: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    # 0 for documents written by global credentials, else the organisation id: part of the key, so an
    # organisation's documents never collide with another's.
    org_key: Mapped[int] = mapped_column(sa.Integer, default=0)

    __table_args__ = (
        sa.UniqueConstraint(
            "org_key",
            "kind",
            "activity_id",
            "agent_ifi",
            "registration",
            "document_id",
            name="uq_lrs_documents_key",
        ),
    )


class ProjectionTask(db.Model):
    """Projection work that runs after the ingest commit (lms_service/lrs/deferred.py): one row per registration
    (or statement) a batch gave a deferred projector to do. Append-only at ingest, so concurrent batches never
    wait on each other for it; deleted by the run that does the work, in the same transaction."""

    __tablename__ = "lrs_projection_tasks"

    id: Mapped[int] = mapped_column(BigPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    registration: Mapped[str | None] = mapped_column(sa.String(64))
    statement_id: Mapped[str | None] = mapped_column(sa.String(64))
    enqueued_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
