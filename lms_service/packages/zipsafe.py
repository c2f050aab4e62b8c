"""Reading a package (a folder or a zip) into memory, refusing anything unsafe on the way.

Both sources end up as the same thing: a mapping of package-relative POSIX paths to bytes. The zip is
never extracted to disk; sizes are enforced while reading (the sizes in a zip's directory can lie).
"""
from __future__ import annotations

import io
import os
import re
import stat
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from flask_babel import gettext as _

from .report import ValidationIssue

DEFAULT_UPLOAD_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_UNCOMPRESSED_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_MAX_RATIO = 100
DEFAULT_MAX_FILES = 500
ALLOWED_SUFFIXES = {".yaml", ".yml", ".md", ".svg", ".png", ".jpg", ".jpeg", ".webp"}
# Written by operating systems, never by authors: skipped quietly rather than refused.
IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
IGNORED_DIRS = {"__MACOSX"}

MEDIA_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}
_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
}


class PackageRefused(Exception):
    """The package cannot be read at all (too large, not a zip, ...); ``issues`` say why."""

    def __init__(self, issues: list[ValidationIssue]) -> None:
        super().__init__("; ".join(str(i) for i in issues))
        self.issues = issues


@dataclass(frozen=True)
class Limits:
    upload_max_bytes: int = DEFAULT_UPLOAD_MAX_BYTES
    uncompressed_max_bytes: int = DEFAULT_UNCOMPRESSED_MAX_BYTES
    max_ratio: int = DEFAULT_MAX_RATIO
    max_files: int = DEFAULT_MAX_FILES

    @classmethod
    def from_config(cls, config: dict) -> Limits:
        return cls(
            upload_max_bytes=int(config.get("MODULE_UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_MAX_BYTES)),
            uncompressed_max_bytes=int(config.get("MODULE_UNCOMPRESSED_MAX_BYTES", DEFAULT_UNCOMPRESSED_MAX_BYTES)),
            max_ratio=int(config.get("MODULE_MAX_COMPRESSION_RATIO", DEFAULT_MAX_RATIO)),
            max_files=int(config.get("MODULE_MAX_FILES", DEFAULT_MAX_FILES)),
        )


DEFAULT_LIMITS = Limits()


def _refuse(name: str, message: str) -> PackageRefused:
    return PackageRefused([ValidationIssue(name, None, None, message)])


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}"


def _is_ignored(path: str) -> bool:
    parts = path.split("/")
    return parts[-1] in IGNORED_NAMES or any(part in IGNORED_DIRS for part in parts)


def check_member_path(name: str) -> str | None:
    """Why a path inside a package is unsafe, or None when it is fine."""
    if not name or "\x00" in name:
        return _("An empty or malformed file name.")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return _("An absolute path is not allowed: %(name)s", name=name)
    if "\\" in name:
        return _("A path with a backslash is not allowed: %(name)s", name=name)
    if ".." in PurePosixPath(name).parts:
        return _("A path that leaves the package (..) is not allowed: %(name)s", name=name)
    return None


def _check_suffix(path: str) -> str | None:
    suffix = PurePosixPath(path).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        return _("The file type of '%(name)s' is not allowed (allowed: %(types)s).",
                 name=path, types=", ".join(sorted(ALLOWED_SUFFIXES)))
    return None


def read_zip(data: bytes | BinaryIO, *, name: str = "upload.zip", limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """The files of a zip package; raises :class:`PackageRefused` listing every unsafe entry."""
    if isinstance(data, bytes):
        raw = data
    else:
        raw = data.read(limits.upload_max_bytes + 1)
    if len(raw) > limits.upload_max_bytes:
        raise _refuse(name, _("The zip is larger than the limit of %(limit)s MB.", limit=_mb(limits.upload_max_bytes)))
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise _refuse(name, _("This is not a readable zip file.")) from None

    issues: list[ValidationIssue] = []
    entries = []
    for info in infos:
        member = info.filename
        problem = check_member_path(member)
        if problem:
            issues.append(ValidationIssue(member, None, None, problem))
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            issues.append(ValidationIssue(member, None, None, _("A symbolic link is not allowed: %(name)s",
                                                                 name=member)))
            continue
        if info.is_dir() or _is_ignored(member):
            continue
        if info.flag_bits & 0x1:
            issues.append(ValidationIssue(member, None, None, _("Encrypted zip entries are not supported.")))
            continue
        problem = _check_suffix(member)
        if problem:
            issues.append(ValidationIssue(member, None, None, problem))
            continue
        entries.append(info)
    if len(entries) > limits.max_files:
        issues.append(ValidationIssue(name, None, None, _("The zip holds %(count)d files; the limit is %(limit)d.",
                                                          count=len(entries), limit=limits.max_files)))
    declared_total = sum(info.file_size for info in entries)
    if declared_total > limits.uncompressed_max_bytes:
        issues.append(ValidationIssue(name, None, None, _(
            "Unpacked, the zip would be %(size)s MB; the limit is %(limit)s MB.",
            size=_mb(declared_total), limit=_mb(limits.uncompressed_max_bytes))))
    for info in entries:
        if info.compress_size and info.file_size / info.compress_size > limits.max_ratio and info.file_size > 1024 * 1024:
            issues.append(ValidationIssue(info.filename, None, None, _(
                "This entry is compressed %(ratio)d times, more than the limit of %(limit)d (a zip bomb?).",
                ratio=info.file_size // info.compress_size, limit=limits.max_ratio)))
    if issues:
        raise PackageRefused(issues)

    files: dict[str, bytes] = {}
    total = 0
    for info in entries:
        try:
            with archive.open(info) as handle:
                # Read at most one byte past what the entry declared: a lying header is a refusal.
                content = handle.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
            raise _refuse(info.filename, _("This zip entry cannot be read.")) from None
        total += len(content)
        if len(content) > info.file_size or total > limits.uncompressed_max_bytes:
            raise _refuse(info.filename, _("This zip entry is larger than its header says (a zip bomb?)."))
        files[info.filename] = content
    return strip_top_folder(files)


def strip_top_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    """Accept a zip made of the package folder itself: ``a1-energy/module.yaml`` -> ``module.yaml``."""
    if "module.yaml" in files or not files:
        return files
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) == 1 and all("/" in path for path in files):
        prefix = next(iter(tops)) + "/"
        return {path[len(prefix):]: content for path, content in files.items()}
    return files


def read_folder(folder: str | os.PathLike, *, limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """The files of a package folder, with the same refusals as a zip (links, file types, total size)."""
    root = Path(folder)
    issues: list[ValidationIssue] = []
    files: dict[str, bytes] = {}
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for dirname in list(dirnames):
            if dirname in IGNORED_DIRS or dirname.startswith("."):
                dirnames.remove(dirname)
            elif (Path(dirpath) / dirname).is_symlink():
                rel = (Path(dirpath) / dirname).relative_to(root).as_posix()
                issues.append(ValidationIssue(rel, None, None, _("A symbolic link is not allowed: %(name)s", name=rel)))
                dirnames.remove(dirname)
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            rel = path.relative_to(root).as_posix()
            if filename in IGNORED_NAMES or filename.startswith("."):
                continue
            if path.is_symlink():
                issues.append(ValidationIssue(rel, None, None, _("A symbolic link is not allowed: %(name)s", name=rel)))
                continue
            problem = _check_suffix(rel)
            if problem:
                issues.append(ValidationIssue(rel, None, None, problem))
                continue
            total += path.stat().st_size
            if total > limits.uncompressed_max_bytes:
                raise _refuse(root.name, _("The package is larger than the limit of %(limit)s MB.",
                                           limit=_mb(limits.uncompressed_max_bytes)))
            files[rel] = path.read_bytes()
    if issues:
        raise PackageRefused(issues)
    return files


def read_package(path: str | os.PathLike, *, limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """A folder or a ``.zip`` file on disk, read into memory."""
    target = Path(path)
    if target.is_dir():
        return read_folder(target, limits=limits)
    if not target.exists():
        raise _refuse(str(path), _("No such file or folder."))
    if target.stat().st_size > limits.upload_max_bytes:
        raise _refuse(target.name, _("The zip is larger than the limit of %(limit)s MB.",
                                     limit=_mb(limits.upload_max_bytes)))
    return read_zip(target.read_bytes(), name=target.name, limits=limits)


# ---------------------------------------------------------------- media content


_SVG_NS = "{http://www.w3.org/2000/svg}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_FORBIDDEN_SVG_TAGS = {"script", "foreignObject", "iframe", "embed", "object", "audio", "video", "handler",
                       "listener"}
_EXTERNAL_URL_RE = re.compile(r"url\(\s*['\"]?\s*(?!#)[^)]*\)|@import", re.IGNORECASE)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def check_media(path: str, content: bytes) -> list[str]:
    """Problems with a media file's content: wrong signature, or SVG that could run or fetch something."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in _MAGIC:
        if not content.startswith(_MAGIC[suffix]):
            return [_("The content of '%(name)s' is not a %(type)s image.", name=path, type=suffix[1:].upper())]
        return []
    if suffix == ".webp":
        if not (content[:4] == b"RIFF" and content[8:12] == b"WEBP"):
            return [_("The content of '%(name)s' is not a %(type)s image.", name=path, type="WEBP")]
        return []
    if suffix == ".svg":
        return check_svg(path, content)
    return []


def check_svg(path: str, content: bytes) -> list[str]:
    """SVG must be plain drawing: no DTD or entities, no scripts or event handlers, no external references."""
    lowered = content.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        return [_("The SVG '%(name)s' has a DOCTYPE or ENTITY declaration; remove it.", name=path)]
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        return [_("The SVG '%(name)s' is not well-formed XML (%(problem)s).", name=path, problem=str(exc))]
    problems: list[str] = []
    if _local(root.tag) != "svg":
        problems.append(_("The file '%(name)s' is not an SVG image.", name=path))
    for element in root.iter():
        tag = _local(element.tag) if isinstance(element.tag, str) else ""
        if tag in _FORBIDDEN_SVG_TAGS:
            problems.append(_("The SVG '%(name)s' contains a <%(tag)s> element, which is not allowed.",
                              name=path, tag=tag))
        for attribute, value in element.attrib.items():
            local = _local(attribute).lower()
            if local.startswith("on"):
                problems.append(_("The SVG '%(name)s' has an event attribute (%(attribute)s), which is not allowed.",
                                  name=path, attribute=local))
            elif (local == "href" or attribute == _XLINK_HREF) and not value.strip().startswith("#"):
                problems.append(_("The SVG '%(name)s' refers to an external resource (%(value)s); "
                                  "only references inside the file (#id) are allowed.", name=path, value=value[:80]))
            elif _EXTERNAL_URL_RE.search(value):
                problems.append(_("The SVG '%(name)s' refers to an external resource (%(value)s); "
                                  "only references inside the file (#id) are allowed.", name=path, value=value[:80]))
        if tag == "style" and element.text and _EXTERNAL_URL_RE.search(element.text):
            problems.append(_("The SVG '%(name)s' refers to an external resource (%(value)s); "
                              "only references inside the file (#id) are allowed.",
                              name=path, value=_EXTERNAL_URL_RE.search(element.text).group(0)[:80]))
    return problems
