"""`flask modules validate|import|export|list`."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from . import services
from .validation import format_result, validate_targets


@click.group(help="Module packages: check, import, export and list them.")
def modules() -> None:
    pass


@modules.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@with_appcontext
def validate_command(paths: tuple[str, ...]) -> None:
    """Check packages (folders or zips) and catalogue folders; exit 1 with the report when any is invalid."""
    result = validate_targets(list(paths), limits=services.upload_limits())
    click.echo(format_result(result))
    sys.exit(0 if result.ok else 1)


@modules.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--draft", is_flag=True, help="Import without publishing (publish later on the authoring pages).")
@with_appcontext
def import_command(paths: tuple[str, ...], draft: bool) -> None:
    """Import packages (folders or zips) or catalogue folders (with paths.yaml and glossary.yaml).

    Everything is validated first and imported in one transaction: nothing is imported when anything is
    wrong. Importing the same version again changes nothing.
    """
    result = validate_targets(list(paths), limits=services.upload_limits())
    if not result.ok:
        click.echo(format_result(result), err=True)
        click.echo(_("Nothing was imported."), err=True)
        sys.exit(1)
    packages = [package for _label, package in result.packages]
    try:
        if len(packages) > 1:
            with click.progressbar(length=len(packages), label=_("Importing"), file=sys.stderr) as bar:
                results = services.import_catalogue(packages, paths=result.paths, glossary=result.glossary,
                                                    publish=not draft, progress=lambda _r: bar.update(1))
        else:
            results = services.import_catalogue(packages, paths=result.paths, glossary=result.glossary,
                                                publish=not draft)
    except services.ImportRefused as exc:
        click.echo(str(exc.message), err=True)
        click.echo(_("Nothing was imported."), err=True)
        sys.exit(1)
    labels = {"created": _("new module"), "added": _("new version"), "unchanged": _("unchanged")}
    for item in results:
        click.echo(f"{item.slug} {item.version}: {labels[item.status]}")
    if result.paths is not None:
        click.echo(_("Learning paths: %(count)d", count=len(result.paths["paths"])))
    if result.glossary is not None:
        click.echo(_("Glossary terms: %(count)d", count=len(result.glossary["terms"])))


@modules.command("export")
@click.argument("slug")
@click.option("--version", "semver", help="The version to export (default: the highest).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="The zip file to write (default: SLUG-VERSION.zip in the current folder).")
@with_appcontext
def export_command(slug: str, semver: str | None, output: str | None) -> None:
    """Write a module version as a zip package that imports back unchanged."""
    module = services.get_module_by_slug(slug)
    if module is None:
        raise click.ClickException(_("There is no module '%(slug)s'.", slug=slug))
    versions = services.list_versions(module)
    version = services.get_version(module, semver) if semver else (versions[0] if versions else None)
    if version is None:
        raise click.ClickException(_("The module '%(slug)s' has no version %(version)s.", slug=slug,
                                     version=semver or ""))
    target = Path(output or f"{slug}-{version.version}.zip")
    target.write_bytes(services.export_version(version))
    click.echo(_("Wrote %(path)s (sha256 of the content %(sha)s).", path=str(target), sha=version.content_sha256))


@modules.command("list")
@with_appcontext
def list_command() -> None:
    """List modules with their versions (* = published)."""
    modules_found = services.list_modules()
    if not modules_found:
        click.echo(_("No modules imported."))
        return
    for module in modules_found:
        versions = ", ".join(f"{v.version}{'*' if v.published else ''}" for v in services.list_versions(module))
        click.echo(f"{module.slug}\t{versions}\t{module.iri}")
