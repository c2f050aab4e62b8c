"""Module packages as the rest of the service sees them: import, publish, export, look up, render.

Every function that writes owns its transaction (commit on success, rollback on any failure), so an
import is all or nothing. The player uses the read functions: ``get_module_by_slug``,
``latest_published_version``, ``get_version``, ``render_lesson`` and the question registry.
"""
from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from ..errors import UserError
from ..extensions import db
from ..timeutil import utcnow
from .markdown import render_markdown
from .models import GlossaryTerm, LearningPath, LearningPathModule, MediaBlob, Module, ModuleVersion, ModuleVersionMedia
from .package import ParsedPackage, validate_files
from .questions import QUESTION_TYPES, QuestionType, get_question_type  # noqa: F401  (the player's entry)
from .report import ValidationReport
from .zipsafe import MEDIA_TYPES, Limits, PackageRefused, read_zip

# A fixed timestamp for exported zip entries: the same version always exports to the same bytes.
EXPORT_TIMESTAMP = (2020, 1, 1, 0, 0, 0)


class ImportRefused(UserError):
    """The package is valid but cannot be imported (a conflict with what is already there)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=409)


@dataclass
class ImportResult:
    slug: str
    version: str
    status: str  # "created" (new module), "added" (new version), "unchanged"
    module_version_id: int

    @property
    def changed(self) -> bool:
        return self.status != "unchanged"


@dataclass
class VersionDiff:
    lessons_added: list[str] = field(default_factory=list)
    lessons_removed: list[str] = field(default_factory=list)
    lessons_changed: list[str] = field(default_factory=list)
    questions_added: list[str] = field(default_factory=list)
    questions_removed: list[str] = field(default_factory=list)
    questions_changed: list[str] = field(default_factory=list)
    media_changed: list[str] = field(default_factory=list)
    manifest_changed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(getattr(self, name) for name in self.__dataclass_fields__)


# ---------------------------------------------------------------- reading


def get_module_by_slug(slug: str) -> Module | None:
    """The module with this slug, or None."""
    return db.session.execute(sa.select(Module).where(Module.slug == slug)).scalar_one_or_none()


def get_module_by_iri(iri: str) -> Module | None:
    """The module with this activity IRI, or None."""
    return db.session.execute(sa.select(Module).where(Module.iri == iri)).scalar_one_or_none()


def _ordered_versions(module: Module) -> sa.Select:
    return (sa.select(ModuleVersion).where(ModuleVersion.module_id == module.id)
            .order_by(ModuleVersion.major.desc(), ModuleVersion.minor.desc(), ModuleVersion.patch.desc()))


def latest_published_version(module: Module) -> ModuleVersion | None:
    """The highest published version (new registrations start on it), or None when none is published."""
    return db.session.execute(_ordered_versions(module).where(ModuleVersion.published.is_(True)).limit(1)
                              ).scalar_one_or_none()


def get_version(module: Module, semver: str) -> ModuleVersion | None:
    """One version of a module by its version string ("1.2.0"), published or not."""
    return db.session.execute(sa.select(ModuleVersion).where(
        ModuleVersion.module_id == module.id, ModuleVersion.version == semver)).scalar_one_or_none()


def get_version_by_id(version_id: int) -> ModuleVersion | None:
    """A version by its primary key (registrations store this id)."""
    return db.session.get(ModuleVersion, version_id)


def list_versions(module: Module) -> list[ModuleVersion]:
    """All versions of a module, highest first."""
    return list(db.session.execute(_ordered_versions(module)).scalars())


def list_modules() -> list[Module]:
    """Every module, by slug."""
    return list(db.session.execute(sa.select(Module).order_by(Module.slug)).scalars())


def published_modules() -> list[tuple[Module, ModuleVersion]]:
    """Modules that have a published version, each with its latest published version (the catalogue)."""
    result = []
    for module in list_modules():
        version = latest_published_version(module)
        if version is not None:
            result.append((module, version))
    return result


def get_media(sha256: str) -> MediaBlob | None:
    """Media content by its sha256."""
    return db.session.execute(sa.select(MediaBlob).where(MediaBlob.sha256 == sha256)).scalar_one_or_none()


def list_learning_paths() -> list[LearningPath]:
    """The learning paths, by key."""
    return list(db.session.execute(sa.select(LearningPath).order_by(LearningPath.key)).scalars())


def get_learning_path(key: str) -> LearningPath | None:
    """A learning path by its paths.yaml id."""
    return db.session.execute(sa.select(LearningPath).where(LearningPath.key == key)).scalar_one_or_none()


def list_glossary_terms() -> list[GlossaryTerm]:
    """The glossary, by key."""
    return list(db.session.execute(sa.select(GlossaryTerm).order_by(GlossaryTerm.key)).scalars())


# ---------------------------------------------------------------- rendering for learners


def media_url(blob_sha256: str, path: str) -> str:
    """The URL a learner's browser loads a media file from (content-addressed: cacheable for ever)."""
    return url_for("packages.media", sha256=blob_sha256, ext=PurePosixPath(path).suffix.lower().lstrip("."))


def _media_paths(version: ModuleVersion) -> dict[str, str]:
    return {item.path: item.blob.sha256 for item in version.media}


def render_lesson(version: ModuleVersion, lesson_id: str, lang: str) -> Markup:
    """A lesson's body as safe HTML in ``lang`` (images with their alt text, citations linked to #ref-<id>).

    Needs a request context (media URLs). KeyError when the version has no such lesson or language.
    """
    text = version.lessons[lesson_id][lang]
    paths = _media_paths(version)
    return render_markdown(text, lang=lang, media=version.manifest.get("media", []),
                           media_url=lambda path: media_url(paths[path], path) if path in paths else "",
                           references=version.manifest.get("references", []))


def render_question(version: ModuleVersion, question: dict, lang: str, response: Any = None,
                    feedback: dict | None = None) -> Markup:
    """A question's form fields for a learner (never the answer before ``feedback`` is given)."""
    return get_question_type(question["type"]).render(question, lang, response=response, feedback=feedback)


# ---------------------------------------------------------------- importing


def upload_limits() -> Limits:
    """The zip limits from the app's configuration (MODULE_UPLOAD_MAX_BYTES and friends)."""
    return Limits.from_config(current_app.config)


def validate_upload(data: bytes, filename: str = "upload.zip") -> tuple[ValidationReport, ParsedPackage | None]:
    """Read and validate an uploaded zip (size, zip bombs, paths, file types, then the package itself)."""
    try:
        files = read_zip(data, name=filename, limits=upload_limits())
    except PackageRefused as exc:
        report = ValidationReport(source=filename)
        report.extend(exc.issues)
        return report, None
    return validate_files(files, source=filename)


def _semver(text: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in text.split("."))
    return major, minor, patch


def _blob_for(content: bytes, path: str) -> MediaBlob:
    digest = hashlib.sha256(content).hexdigest()
    blob = get_media(digest)
    if blob is None:
        blob = MediaBlob(sha256=digest, content_type=MEDIA_TYPES[PurePosixPath(path).suffix.lower()],
                         size=len(content), data=content)
        db.session.add(blob)
        db.session.flush()
    return blob


def _import_one(package: ParsedPackage, user: Any, publish: bool) -> ImportResult:
    by_iri = get_module_by_iri(package.iri)
    by_slug = get_module_by_slug(package.slug)
    if by_slug is not None and (by_iri is None or by_slug.id != by_iri.id):
        raise ImportRefused(_(
            "The slug '%(slug)s' already belongs to the module %(iri)s; this package has the id %(new)s. "
            "A module keeps its id and its slug for life: use the same id to add a version, or another slug "
            "for a new module.", slug=package.slug, iri=by_slug.iri, new=package.iri))
    if by_iri is not None and by_iri.slug != package.slug:
        raise ImportRefused(_(
            "The module %(iri)s has the slug '%(old)s', not '%(slug)s'. A module keeps its slug for life.",
            iri=package.iri, old=by_iri.slug, slug=package.slug))

    module = by_iri
    status = "added"
    if module is None:
        module = Module(iri=package.iri, slug=package.slug)
        db.session.add(module)
        db.session.flush()
        status = "created"
    else:
        existing = get_version(module, package.version)
        if existing is not None:
            if existing.content_sha256 == package.sha256:
                return ImportResult(package.slug, package.version, "unchanged", existing.id)
            raise ImportRefused(_(
                "Version %(version)s of '%(slug)s' is already imported with different content. A published "
                "version never changes, so that learners halfway through it are not disturbed: raise the "
                "version in module.yaml (for example to %(next)s) and import again.",
                version=package.version, slug=package.slug, next=_next_patch(package.version)))

    major, minor, patch = _semver(package.version)
    version = ModuleVersion(
        module=module, version=package.version, major=major, minor=minor, patch=patch,
        content_sha256=package.sha256, manifest=package.manifest, quiz=package.quiz, lessons=package.lessons,
        sources=package.sources, published=publish, published_at=utcnow() if publish else None,
        imported_by_id=getattr(user, "id", None))
    db.session.add(version)
    for path, content in sorted(package.media.items()):
        version.media.append(ModuleVersionMedia(path=path, blob=_blob_for(content, path)))
    db.session.flush()
    return ImportResult(package.slug, package.version, status, version.id)


def _next_patch(version: str) -> str:
    major, minor, patch = _semver(version)
    return f"{major}.{minor}.{patch + 1}"


def import_package(package: ParsedPackage, *, user: Any = None, publish: bool = False) -> ImportResult:
    """Import one validated package in one transaction.

    The same version with the same content changes nothing (status "unchanged"); the same version with
    different content, or a slug/id that contradicts an existing module, raises :class:`ImportRefused`.
    """
    try:
        result = _import_one(package, user, publish)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def _upsert_paths(paths: dict) -> None:
    for item in paths["paths"]:
        path = get_learning_path(item["id"])
        clash = db.session.execute(sa.select(LearningPath).where(LearningPath.iri == item["iri"])).scalar_one_or_none()
        if clash is not None and (path is None or clash.id != path.id):
            raise ImportRefused(_("The learning path IRI %(iri)s already belongs to the path '%(key)s'.",
                                  iri=item["iri"], key=clash.key))
        if path is None:
            path = LearningPath(key=item["id"])
            db.session.add(path)
        path.iri = item["iri"]
        path.title = item["title"]
        path.summary = item["summary"]
        path.certificate_title = item["certificate_title"]
        path.move_on = item["move_on"]
        if path.module_entries != list(item["modules"]):
            path.modules.clear()
            db.session.flush()
            path.modules.extend(LearningPathModule(position=index, module_slug=entry["module"],
                                                   move_on=entry["move_on"], required=entry["required"])
                                for index, entry in enumerate(item["modules"]))
    db.session.flush()


def _upsert_glossary(glossary: dict) -> None:
    for item in glossary["terms"]:
        term = db.session.execute(sa.select(GlossaryTerm).where(GlossaryTerm.key == item["id"])).scalar_one_or_none()
        if term is None:
            term = GlossaryTerm(key=item["id"])
            db.session.add(term)
        term.term = item["term"]
        term.definition = item["definition"]
    db.session.flush()


def import_catalogue(packages: Iterable[ParsedPackage], *, paths: dict | None = None, glossary: dict | None = None,
                     user: Any = None, publish: bool = True, progress: Any = None) -> list[ImportResult]:
    """Import several validated packages, paths.yaml and glossary.yaml in ONE transaction (all or nothing).

    ``progress(result)`` is called after each package (the CLI advances its progress bar with it).
    """
    results: list[ImportResult] = []
    try:
        for package in packages:
            try:
                results.append(_import_one(package, user, publish))
            except ImportRefused as exc:
                raise ImportRefused(f"{package.slug} {package.version}: {exc.message}") from None
            if progress is not None:
                progress(results[-1])
        if paths is not None:
            _upsert_paths(paths)
        if glossary is not None:
            _upsert_glossary(glossary)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return results


# ---------------------------------------------------------------- publishing


def set_published(version: ModuleVersion, published: bool) -> ModuleVersion:
    """Publish or unpublish a version. Learners already registered on it keep it either way; only new
    registrations follow ``latest_published_version``."""
    try:
        version.published = published
        version.published_at = utcnow() if published else None
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return version


# ---------------------------------------------------------------- exporting and comparing


def export_version(version: ModuleVersion) -> bytes:
    """The version as a zip package that validates and imports back unchanged (same content sha256)."""
    buffer = io.BytesIO()
    entries: dict[str, bytes] = {path: text.encode("utf-8") for path, text in version.sources.items()}
    for item in version.media:
        entries[item.path] = item.blob.data
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(entries):
            info = zipfile.ZipInfo(path, date_time=EXPORT_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[path])
    return buffer.getvalue()


def diff_versions(old: ModuleVersion | None, new: ModuleVersion) -> VersionDiff:
    """What changed from ``old`` to ``new``: lessons and questions added, removed and changed (by id)."""
    diff = VersionDiff()
    if old is None:
        diff.lessons_added = [lesson["id"] for lesson in new.manifest["lessons"]]
        diff.questions_added = [q["id"] for q in new.quiz["questions"]]
        return diff

    def lessons(version: ModuleVersion) -> dict[str, Any]:
        return {lesson["id"]: (lesson, version.lessons.get(lesson["id"])) for lesson in version.manifest["lessons"]}

    def questions(version: ModuleVersion) -> dict[str, Any]:
        return {q["id"]: q for q in version.quiz["questions"]}

    for name, before, after in (("lessons", lessons(old), lessons(new)), ("questions", questions(old), questions(new))):
        getattr(diff, f"{name}_added").extend(key for key in after if key not in before)
        getattr(diff, f"{name}_removed").extend(key for key in before if key not in after)
        getattr(diff, f"{name}_changed").extend(key for key in after if key in before and before[key] != after[key])
    old_media, new_media = _media_paths(old), _media_paths(new)
    diff.media_changed = sorted(path for path in set(old_media) | set(new_media)
                                if old_media.get(path) != new_media.get(path))
    skip = {"lessons", "version", "media"}
    diff.manifest_changed = sorted(key for key in set(old.manifest) | set(new.manifest)
                                   if key not in skip and old.manifest.get(key) != new.manifest.get(key))
    return diff


def previous_version(version: ModuleVersion) -> ModuleVersion | None:
    """The next lower version of the same module (what the history compares against)."""
    lower = [v for v in list_versions(version.module) if v.semver < version.semver]
    return lower[0] if lower else None

