"""`flask reports rebuild` (the reporting table from the statements) and `flask reports tokens ...` (API tokens)."""
from __future__ import annotations

import json
import re

import click
import sqlalchemy as sa
from flask.cli import with_appcontext
from flask_babel import gettext as _

from ..errors import UserError
from ..extensions import db
from ..orgs.models import Organisation


@click.group(help="Completion statistics: the reporting table and reporting API tokens.")
def reports() -> None:
    pass


@reports.command("rebuild")
@with_appcontext
def rebuild_command() -> None:
    """Rebuild the progress projection from the statements, then the reporting table (one transaction)."""
    from .projection import rebuild_reports

    progress, rows = rebuild_reports()
    click.echo(_("Rebuilt from the statements: %(progress)s registrations with progress, %(rows)s reporting rows.",
                 progress=progress, rows=rows))


@reports.group("tokens", help="Bearer tokens for the reporting API (/api/reports/).")
def tokens() -> None:
    pass


def _organisation_id(value: str | None) -> int | None:
    """A company named by its id or its organisation number; None for a global token."""
    if not value:
        return None
    if not value.isprintable():
        raise click.BadParameter(_("There is no company %(value)s (give its id or organisation number).",
                                   value=repr(value[:40])), param_hint="--org")
    query = sa.select(Organisation.id).where(
        Organisation.id == int(value) if re.fullmatch(r"[0-9]{1,9}", value) else Organisation.org_number == value)
    found = db.session.execute(query).scalar_one_or_none()
    if found is None:
        raise click.BadParameter(_("There is no company %(value)s (give its id or organisation number).",
                                   value=value[:40]), param_hint="--org")
    return found


@tokens.command("create")
@click.option("--name", required=True, help="What the token is for, e.g. the system that uses it.")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="reports:aggregates (figures) and/or reports:learners (rows about individuals); repeatable.")
@click.option("--org", "org", default=None, help="Tie the token to one company (id or organisation number); "
                                                 "without it the token is global (programme-wide).")
@click.option("--valid-days", type=int, default=None, help="Expire the token after this many days.")
@click.option("--json", "as_json", is_flag=True, help="Print the token as JSON.")
@with_appcontext
def create_command(name: str, scopes: tuple[str, ...], org: str | None, valid_days: int | None,
                   as_json: bool) -> None:
    """Create a token; it is printed once and stored only as a hash."""
    from .tokens import create_token

    try:
        token, text = create_token(name, scopes, _organisation_id(org), valid_days=valid_days)
    except UserError as error:
        raise click.ClickException(error.message) from None
    if as_json:
        click.echo(json.dumps({"id": token.id, "name": token.name, "token": text, "scopes": token.scopes.split(),
                               "organisation_id": token.organisation_id}))
        return
    click.echo(_("Token %(id)s created. Copy it now: it is not shown again.", id=token.id))
    click.echo(text)


@tokens.command("list")
@with_appcontext
def list_command() -> None:
    """Every token with its company, scopes and status (never the token itself)."""
    from .tokens import list_tokens, token_status

    for token in list_tokens(every=True):
        company = str(token.organisation_id) if token.organisation_id is not None else "global"
        click.echo(f"{token.id}\t{token.prefix}…\t{token.name}\t{company}\t{token.scopes}\t{token_status(token)}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def revoke_command(token_id: int) -> None:
    """Revoke a token by its id (from `flask reports tokens list`)."""
    from .tokens import revoke_token

    try:
        revoke_token(token_id, every=True)
    except UserError as error:
        raise click.ClickException(error.message) from None
    click.echo(_("Token %(id)s revoked.", id=token_id))
