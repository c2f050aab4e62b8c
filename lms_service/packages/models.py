"""Modules, their versions, media (in the database: web processes share nothing on disk), learning paths
and the glossary. Models never commit; the services in services.py own the transactions."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow


class Module(db.Model):
    """A module across all its versions; statistics aggregate by ``iri``."""

    __tablename__ = "modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    iri: Mapped[str] = mapped_column(sa.String(500), unique=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    versions: Mapped[list[ModuleVersion]] = relationship(
        back_populates="module", cascade="all, delete-orphan", order_by="ModuleVersion.id")

    def __repr__(self) -> str:
        return f"<Module {self.slug}>"


class ModuleVersion(db.Model):
    """One imported version: immutable content (parsed and as source), plus its published flag."""

    __tablename__ = "module_versions"
    __table_args__ = (sa.UniqueConstraint("module_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(sa.ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(sa.String(40))
    # Numeric parts, so that "1.10.0" sorts after "1.9.0" in SQL.
    major: Mapped[int] = mapped_column()
    minor: Mapped[int] = mapped_column()
    patch: Mapped[int] = mapped_column()
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    manifest: Mapped[dict] = mapped_column(sa.JSON)
    quiz: Mapped[dict] = mapped_column(sa.JSON)
    lessons: Mapped[dict] = mapped_column(sa.JSON)   # lesson id -> language -> Markdown
    sources: Mapped[dict] = mapped_column(sa.JSON)   # package path -> text (YAML and Markdown), for export
    published: Mapped[bool] = mapped_column(default=False)
    published_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    imported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    imported_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    module: Mapped[Module] = relationship(back_populates="versions")
    media: Mapped[list[ModuleVersionMedia]] = relationship(
        back_populates="module_version", cascade="all, delete-orphan", order_by="ModuleVersionMedia.path")
    imported_by = relationship("User")

    @property
    def title(self) -> dict:
        return self.manifest["title"]

    @property
    def languages(self) -> list[str]:
        return list(self.manifest["languages"])

    @property
    def semver(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def lesson(self, lesson_id: str) -> dict | None:
        return next((lesson for lesson in self.manifest["lessons"] if lesson["id"] == lesson_id), None)

    def __repr__(self) -> str:
        return f"<ModuleVersion {self.module_id} {self.version}>"


class MediaBlob(db.Model):
    """Media content, stored once per distinct content (several versions share unchanged images)."""

    __tablename__ = "media_blobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column()
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class ModuleVersionMedia(db.Model):
    """A media path of one version (``media/leak.svg``) and the content it names."""

    __tablename__ = "module_version_media"
    __table_args__ = (sa.UniqueConstraint("module_version_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_version_id: Mapped[int] = mapped_column(sa.ForeignKey("module_versions.id", ondelete="CASCADE"),
                                                   index=True)
    path: Mapped[str] = mapped_column(sa.String(255))
    blob_id: Mapped[int] = mapped_column(sa.ForeignKey("media_blobs.id", ondelete="RESTRICT"), index=True)

    module_version: Mapped[ModuleVersion] = relationship(back_populates="media")
    blob: Mapped[MediaBlob] = relationship(lazy="joined")


class LearningPath(db.Model):
    """A learning path from the catalogue's paths.yaml (its certificate is issued on ``move_on``)."""

    __tablename__ = "learning_paths"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)  # the id in paths.yaml
    iri: Mapped[str] = mapped_column(sa.String(500), unique=True)
    title: Mapped[dict] = mapped_column(sa.JSON)
    summary: Mapped[dict] = mapped_column(sa.JSON)
    certificate_title: Mapped[dict] = mapped_column(sa.JSON)
    move_on: Mapped[str] = mapped_column(sa.String(30))
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    modules: Mapped[list[LearningPathModule]] = relationship(
        back_populates="learning_path", cascade="all, delete-orphan", order_by="LearningPathModule.position")

    @property
    def module_slugs(self) -> list[str]:
        return [entry.module_slug for entry in self.modules]

    @property
    def module_entries(self) -> list[dict]:
        """The modules as paths.yaml gives them, normalised: module, move_on (or None), required."""
        return [{"module": e.module_slug, "move_on": e.move_on, "required": e.required} for e in self.modules]


class LearningPathModule(db.Model):
    """A module's place in a path, by slug (a path may name a module before it is imported)."""

    __tablename__ = "learning_path_modules"
    __table_args__ = (sa.UniqueConstraint("learning_path_id", "module_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learning_path_id: Mapped[int] = mapped_column(sa.ForeignKey("learning_paths.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    module_slug: Mapped[str] = mapped_column(sa.String(64), index=True)
    # The module's own cmi5 moveOn rule; None means the path's rule.
    move_on: Mapped[str | None] = mapped_column(sa.String(30))
    # An optional module counts for nothing: the path is complete when every required one meets its rule.
    required: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    learning_path: Mapped[LearningPath] = relationship(back_populates="modules")


class GlossaryTerm(db.Model):
    __tablename__ = "glossary_terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    term: Mapped[dict] = mapped_column(sa.JSON)
    definition: Mapped[dict] = mapped_column(sa.JSON)
