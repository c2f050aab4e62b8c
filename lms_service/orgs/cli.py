"""`flask orgs ...`: register and list companies."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..errors import UserError
from . import services
from .counties import COUNTIES
from .models import OrgKind


@click.group(help="Manage organisations (supplier companies and IT firms).")
def orgs():
    pass


@orgs.command("create")
@click.option("--name", required=True)
@click.option("--org-number", required=True, help="Swedish organisation number, e.g. 556677-8899.")
@click.option("--county", required=True, type=click.Choice(sorted(COUNTIES)), help="SCB county code, e.g. 01 (Stockholm).")
@click.option("--kind", type=click.Choice([k.value for k in OrgKind]), default="vehicle_supplier", show_default=True)
@with_appcontext
def create(name: str, org_number: str, county: str, kind: str):
    """Register a company."""
    try:
        organisation = services.create_organisation(name, org_number, county, kind)
    except UserError as error:
        raise click.ClickException(str(error.message)) from None
    click.echo(f"Created {organisation.name} ({organisation.org_number}), id {organisation.id}.")


@orgs.command("list")
@with_appcontext
def list_orgs():
    """List the registered companies."""
    for organisation in services.list_organisations():
        click.echo(f"{organisation.id}\t{organisation.org_number}\t{organisation.county}\t{organisation.kind}\t"
                   f"{organisation.name}")
