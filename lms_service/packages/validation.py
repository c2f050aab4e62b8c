"""Validating what a command line names: packages (folders or zips) and catalogue folders."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext as _

from .package import (
    ParsedPackage,
    catalogue_packages,
    check_catalogue,
    is_package,
    load_glossary,
    load_paths,
    validate_package,
)
from .report import ValidationReport
from .zipsafe import DEFAULT_LIMITS, Limits


@dataclass
class CatalogueResult:
    """Everything found under the paths given: one report per package plus the catalogue files."""

    reports: list[tuple[str, ValidationReport]]
    packages: list[tuple[str, ParsedPackage]]
    paths: dict | None = None
    glossary: dict | None = None

    @property
    def ok(self) -> bool:
        return all(report.ok for _name, report in self.reports)

    @property
    def issue_count(self) -> int:
        return sum(len(report.issues) for _name, report in self.reports)


def expand(targets: list[str | os.PathLike]) -> list[tuple[str, Path, str]]:
    """(label, path, kind) for each thing to read; kind is package, paths, glossary or missing."""
    found: list[tuple[str, Path, str]] = []
    for target in targets:
        path = Path(target)
        if is_package(path):
            found.append((str(path), path, "package"))
        elif path.is_dir():
            packages = catalogue_packages(path)
            for child in sorted(path.iterdir()):
                if child in packages:
                    found.append((str(child), child, "package"))
                elif child.is_dir() and not child.name.startswith((".", "_")):
                    found.append((str(child), child, "no-manifest"))
            for name, kind in (("paths.yaml", "paths"), ("glossary.yaml", "glossary")):
                if (path / name).is_file():
                    found.append((str(path / name), path / name, kind))
        else:
            found.append((str(path), path, "missing"))
    return found


def validate_targets(targets: list[str | os.PathLike], *, limits: Limits = DEFAULT_LIMITS,
                     progress: object = None) -> CatalogueResult:
    """Validate every package and catalogue file under ``targets`` (all errors at once)."""
    result = CatalogueResult(reports=[], packages=[])
    items = expand(targets)
    iterator = progress(items) if callable(progress) else items
    for label, path, kind in iterator:
        if kind == "package":
            report, package = validate_package(path, limits=limits)
            result.reports.append((label, report))
            if package is not None:
                result.packages.append((label, package))
        elif kind == "paths":
            report, result.paths = load_paths(path)
            result.reports.append((label, report))
        elif kind == "glossary":
            report, result.glossary = load_glossary(path)
            result.reports.append((label, report))
        elif kind == "no-manifest":
            report = ValidationReport(source=label)
            report.add("module.yaml", None, None, _("The package has no module.yaml at its top level."))
            result.reports.append((label, report))
        else:
            report = ValidationReport(source=label)
            report.add(label, None, None, _("This is neither a module package (a folder with module.yaml, or a "
                                            "zip) nor a folder of packages."))
            result.reports.append((label, report))
    if result.paths is not None and result.packages:
        # Folders whose package is still broken count as present: their own report says what is wrong.
        known = {Path(label).name for label, _p, kind in items if kind in ("package", "no-manifest")}
        cross = check_catalogue(result.paths, [p for _l, p in result.packages], known_slugs=known)
        if cross.issues:
            result.reports.append(("paths.yaml", cross))
    slugs: dict[str, str] = {}
    iris: dict[str, str] = {}
    for label, package in result.packages:
        for seen, key in ((slugs, package.slug), (iris, package.iri)):
            if key in seen:
                report = ValidationReport(source=label)
                report.add(f"{label}/module.yaml", None, "slug" if seen is slugs else "id",
                           _("'%(value)s' is also used by %(other)s.", value=key, other=seen[key]))
                result.reports.append((label, report))
            seen[key] = label
    return result


def format_result(result: CatalogueResult) -> str:
    """The human report: one line per issue, then a summary line."""
    lines: list[str] = []
    for label, report in result.reports:
        for issue in report.sorted_issues():
            lines.append(f"{label}: {issue}" if not issue.file.startswith(label) else str(issue))
    packages = sum(1 for _label, report in result.reports if report.source and not report.source.endswith(".yaml"))
    if result.ok:
        lines.append(_("All valid: %(count)d package(s) checked.", count=packages))
    else:
        lines.append(_("%(issues)d problem(s) found in %(count)d item(s) checked.",
                       issues=result.issue_count, count=len(result.reports)))
    return "\n".join(lines)
