"""Validating a whole package: every file, every cross-reference, every error at once.

``validate_files`` takes the in-memory files (from :mod:`.zipsafe`) and returns a report and, when the
report is clean, the parsed package ready for import. Nothing here needs an app or a database.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError

from .fieldtypes import SUPPORTED_LANGUAGES, package_languages
from .loader import LineDict, YAMLProblem, line_for, load_yaml, plain
from .markdown import lint_markdown
from .report import ValidationReport, field_path
from .schemas import GlossarySchema, ManifestSchema, PathsSchema, QuizSchema
from .zipsafe import DEFAULT_LIMITS, MEDIA_TYPES, Limits, PackageRefused, check_media, read_package

WORDS_PER_MINUTE = 180
MINUTES_PER_QUESTION = 1
ESTIMATE_TOLERANCE = 0.25
TEXT_SUFFIXES = (".yaml", ".yml", ".md")
# Far above any real lesson or manifest; keeps parsing time bounded whatever a zip holds.
MAX_TEXT_FILE_BYTES = 1024 * 1024


@dataclass
class ParsedPackage:
    """A valid package: what the database stores and the player shows."""

    manifest: dict
    quiz: dict
    lessons: dict[str, dict[str, str]]          # lesson id -> language -> Markdown
    media: dict[str, bytes]                     # media path -> content
    sources: dict[str, str]                     # every text file, normalised, for a faithful export
    sha256: str
    words: dict[str, int] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.manifest["slug"]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def iri(self) -> str:
        return self.manifest["id"]


def normalise_text(content: bytes) -> str:
    """UTF-8 text with the BOM removed and LF line endings: the same package hashes the same anywhere."""
    text = content.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def content_sha256(sources: dict[str, str], media: dict[str, bytes]) -> str:
    """sha256 over the normalised package: sorted paths, each with its length and content."""
    digest = hashlib.sha256()
    entries = {**{p: t.encode("utf-8") for p, t in sources.items()}, **media}
    for path in sorted(entries):
        content = entries[path]
        digest.update(path.encode("utf-8") + b"\0" + str(len(content)).encode() + b"\0" + content)
    return digest.hexdigest()


def _add_schema_errors(report: ValidationReport, file: str, data: Any, messages: Any, path: list[Any]) -> None:
    """Flatten marshmallow's nested error messages into issues, each with its line and field."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                _add_schema_errors(report, file, data, value, path)
            else:
                _add_schema_errors(report, file, data, value, path + [key])
        return
    if isinstance(messages, list | tuple):
        if all(not isinstance(m, dict | list | tuple) for m in messages):
            for message in messages:
                report.add(file, line_for(data, path), field_path(path) or None, message)
            return
        for message in messages:
            _add_schema_errors(report, file, data, message, path)
        return
    report.add(file, line_for(data, path), field_path(path) or None, messages)


def _load_yaml_file(report: ValidationReport, files: dict[str, bytes], path: str) -> Any:
    try:
        text = normalise_text(files[path])
    except UnicodeDecodeError:
        report.add(path, None, None, _("The file is not UTF-8 text."))
        return None
    try:
        data = load_yaml(text)
    except YAMLProblem as exc:
        report.add(path, exc.line, None, exc.message)
        return None
    if data is None:
        report.add(path, None, None, _("The file is empty."))
        return None
    if not isinstance(data, dict):
        report.add(path, getattr(data, "line", 1), None, _("Expected a mapping (key: value pairs) at the top."))
        return None
    return data


def _load_with_schema(report: ValidationReport, file: str, data: Any, schema: Schema) -> dict | None:
    try:
        return schema.load(data)
    except ValidationError as exc:
        _add_schema_errors(report, file, data, exc.messages, [])
        return None


def _languages_of(data: Any) -> tuple[str, ...]:
    value = data.get("languages") if isinstance(data, dict) else None
    if isinstance(value, list) and value and all(v in SUPPORTED_LANGUAGES for v in value):
        return tuple(dict.fromkeys(value))
    return SUPPORTED_LANGUAGES


def _items(data: Any, key: str) -> list[tuple[int, dict]]:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, list):
        return []
    return [(index, item) for index, item in enumerate(value) if isinstance(item, dict)]


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def validate_files(files: dict[str, bytes], *, source: str = "") -> tuple[ValidationReport, ParsedPackage | None]:
    """Validate a package held in memory; the parsed package comes back only when there is no issue."""
    report = ValidationReport(source=source)
    for path, content in sorted(files.items()):
        if path.endswith(TEXT_SUFFIXES) and len(content) > MAX_TEXT_FILE_BYTES:
            report.add(path, None, None, _("The file is larger than %(limit)d kB; split it up.",
                                           limit=MAX_TEXT_FILE_BYTES // 1024))
    if not report.ok:
        return report, None
    if "module.yaml" not in files:
        report.add("module.yaml", None, None, _("The package has no module.yaml at its top level."))
        return report, None

    raw_manifest = _load_yaml_file(report, files, "module.yaml")
    if raw_manifest is None:
        return report, None
    languages = _languages_of(raw_manifest)
    token = package_languages.set(languages)
    try:
        return _validate(report, files, raw_manifest, languages)
    finally:
        package_languages.reset(token)


def _validate(report: ValidationReport, files: dict[str, bytes], raw_manifest: LineDict,
              languages: tuple[str, ...]) -> tuple[ValidationReport, ParsedPackage | None]:
    manifest = _load_with_schema(report, "module.yaml", raw_manifest, ManifestSchema())
    used_files = {"module.yaml"}
    sources: dict[str, str] = {}

    # The quiz.
    quiz_path = _str(raw_manifest.get("quiz")) or "quiz.yaml"
    quiz = None
    raw_quiz = None
    if quiz_path not in files:
        report.add("module.yaml", line_for(raw_manifest, ["quiz"]), "quiz",
                   _("The quiz file '%(file)s' is missing.", file=quiz_path))
    else:
        used_files.add(quiz_path)
        raw_quiz = _load_yaml_file(report, files, quiz_path)
        if raw_quiz is not None:
            quiz = _load_with_schema(report, quiz_path, raw_quiz, QuizSchema())

    # Cross-references, checked on the raw data so that they are reported even beside schema errors.
    reference_ids = {_str(item.get("id")) for _i, item in _items(raw_manifest, "references")} - {None}
    media_entries = {}
    for index, item in _items(raw_manifest, "media"):
        path = _str(item.get("file"))
        if path:
            media_entries[path] = index
    lesson_ids = {_str(item.get("id")) for _i, item in _items(raw_manifest, "lessons")} - {None}

    referenced_images: set[str] = set()
    lessons: dict[str, dict[str, str]] = {}
    words: dict[str, int] = {lang: 0 for lang in languages}
    for index, item in _items(raw_manifest, "lessons"):
        stem, lesson_id = _str(item.get("file")), _str(item.get("id"))
        if not stem or stem.endswith(".md"):
            continue
        for lang in languages:
            path = f"{stem}.{lang}.md"
            if path not in files:
                report.add("module.yaml", line_for(raw_manifest, ["lessons", index, "file"]),
                           field_path(["lessons", index, "file"]),
                           _("The lesson file '%(file)s' is missing.", file=path))
                continue
            used_files.add(path)
            try:
                text = normalise_text(files[path])
            except UnicodeDecodeError:
                report.add(path, None, None, _("The file is not UTF-8 text."))
                continue
            if not text.strip():
                report.add(path, None, None, _("The lesson is empty."))
            findings = lint_markdown(text, media_paths=set(media_entries), reference_ids=reference_ids)
            for line, message in findings.problems:
                report.add(path, line, None, message)
            referenced_images.update(src for _line, src in findings.images)
            words[lang] += findings.words
            if lesson_id:
                lessons.setdefault(lesson_id, {})[lang] = text

    media: dict[str, bytes] = {}
    for path, index in media_entries.items():
        line = line_for(raw_manifest, ["media", index, "file"])
        name = field_path(["media", index, "file"])
        if path not in files:
            report.add("module.yaml", line, name, _("The media file '%(file)s' is missing.", file=path))
            continue
        used_files.add(path)
        if PurePosixPath(path).suffix.lower() not in MEDIA_TYPES:
            report.add("module.yaml", line, name, _("'%(file)s' is not an image type the player shows "
                                                    "(svg, png, jpg, webp).", file=path))
            continue
        for problem in check_media(path, files[path]):
            report.add(path, None, None, problem)
        if path not in referenced_images:
            report.add("module.yaml", line, name, _("The media file '%(file)s' is not used in any lesson.", file=path))
        media[path] = files[path]

    for path in sorted(set(files) - used_files):
        if path.startswith("media/"):
            message = _("This file is not listed under media in module.yaml.")
        elif path.endswith(".md"):
            message = _("This file is not a lesson of the module (check the lesson's file and the language suffix).")
        else:
            message = _("This file is not part of the module format.")
        report.add(path, None, None, message)

    if quiz is not None:
        for index, question in enumerate(quiz["questions"]):
            if question.get("lesson") and question["lesson"] not in lesson_ids:
                report.add(quiz_path, line_for(raw_quiz, ["questions", index, "lesson"]),
                           field_path(["questions", index, "lesson"]),
                           _("The lesson '%(id)s' is not a lesson of the module.", id=question["lesson"]))

    if manifest is not None and quiz is not None and words and all(words.values()):
        # Each language on its own: a learner reads one of them, and Swedish runs shorter than English.
        declared = manifest["estimated_minutes"]
        for lang in sorted(words):
            computed = words[lang] / WORDS_PER_MINUTE + MINUTES_PER_QUESTION * len(quiz["questions"])
            if abs(declared - computed) > ESTIMATE_TOLERANCE * computed:
                report.add("module.yaml", line_for(raw_manifest, ["estimated_minutes"]), "estimated_minutes", _(
                    "%(declared)d minutes does not match the '%(lang)s' text: about %(computed).0f minutes "
                    "(%(words)d words of lesson text at %(wpm)d a minute, plus %(questions)d questions at one "
                    "minute each); keep within 25 %% of that.",
                    declared=declared, lang=lang, computed=computed, words=words[lang], wpm=WORDS_PER_MINUTE,
                    questions=len(quiz["questions"])))

    if not report.ok or manifest is None or quiz is None:
        return report, None
    for path in used_files:
        if path.endswith(TEXT_SUFFIXES):
            sources[path] = normalise_text(files[path])
    package = ParsedPackage(manifest=plain(manifest), quiz=plain(quiz), lessons=lessons, media=media,
                            sources=sources, sha256=content_sha256(sources, media), words=words)
    return report, package


def validate_package(path: str | os.PathLike, *, limits: Limits = DEFAULT_LIMITS) -> tuple[ValidationReport,
                                                                                     ParsedPackage | None]:
    """Read and validate a package folder or zip on disk."""
    try:
        files = read_package(path, limits=limits)
    except PackageRefused as exc:
        report = ValidationReport(source=str(path))
        report.extend(exc.issues)
        return report, None
    return validate_files(files, source=str(path))


# ---------------------------------------------------------------- the catalogue


def is_package(path: str | os.PathLike) -> bool:
    target = Path(path)
    return (target.is_dir() and (target / "module.yaml").is_file()) or (
        target.is_file() and target.suffix.lower() == ".zip")


def catalogue_packages(folder: str | os.PathLike) -> list[Path]:
    """The packages (sub-folders with a module.yaml, and zips) of a catalogue folder, in name order."""
    return sorted(child for child in Path(folder).iterdir() if is_package(child) and not child.name.startswith("."))


def load_catalogue_file(path: Path, schema: Schema) -> tuple[ValidationReport, dict | None]:
    """paths.yaml or glossary.yaml of a catalogue folder, validated (languages: all supported ones)."""
    report = ValidationReport(source=str(path))
    try:
        raw = path.read_bytes()
    except OSError:
        report.add(path.name, None, None, _("The file cannot be read."))
        return report, None
    data = _load_yaml_file(report, {path.name: raw}, path.name)
    if data is None:
        return report, None
    loaded = _load_with_schema(report, path.name, data, schema)
    return report, plain(loaded) if loaded is not None else None


def load_paths(path: Path) -> tuple[ValidationReport, dict | None]:
    return load_catalogue_file(path, PathsSchema())


def load_glossary(path: Path) -> tuple[ValidationReport, dict | None]:
    return load_catalogue_file(path, GlossarySchema())


def check_catalogue(paths: dict | None, packages: list[ParsedPackage], paths_file: str = "paths.yaml",
                    known_slugs: set[str] | None = None) -> ValidationReport:
    """Cross-checks between modules and paths.yaml: every learning_path exists, every listed module exists."""
    report = ValidationReport(source=paths_file)
    path_ids = {p["id"] for p in (paths or {}).get("paths", [])}
    slugs = {p.slug for p in packages} | (known_slugs or set())
    for package in packages:
        path_id = package.manifest.get("learning_path")
        if path_id and paths is not None and path_id not in path_ids:
            report.add(f"{package.slug}/module.yaml", None, "learning_path",
                       _("The learning path '%(id)s' is not in paths.yaml.", id=path_id))
    for learning_path in (paths or {}).get("paths", []):
        for slug in (entry["module"] for entry in learning_path["modules"]):
            if packages and slug not in slugs:
                report.add(paths_file, None, f"paths.{learning_path['id']}.modules",
                           _("The module '%(slug)s' is not in the catalogue.", slug=slug))
    return report
