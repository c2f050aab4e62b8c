"""`flask lrs ...`: LRS credentials from the command line."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from .clients import SCOPES, ClientError, create_client, list_clients, revoke_client

lrs = AppGroup("lrs", help="The embedded xAPI Learning Record Store.")
clients = AppGroup("clients", help="LRS credentials (HTTP Basic key and secret with scopes).")
lrs.add_command(clients)


@clients.command("create")
@click.option("--name", required=True, help="What the credential is for, e.g. the consuming system.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help=f"Repeat or separate with commas: {', '.join(SCOPES)}.",
)
@click.option(
    "--org", "organisation_id", type=int, default=None, help="Organisation id; omit for a global credential."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with key and secret.")
def create_command(name: str, scopes: tuple[str, ...], organisation_id: int | None, as_json: bool) -> None:
    """Create a credential and print its key and secret (the secret is shown only now)."""
    try:
        client, secret = create_client(name, list(scopes), organisation_id)
    except ClientError as error:
        raise click.UsageError(str(error)) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": client.id,
                    "name": client.name,
                    "key": client.key,
                    "secret": secret,
                    "scopes": client.scopes.split(),
                    "organisation_id": client.organisation_id,
                }
            )
        )
    else:
        click.echo(f"key:    {client.key}\nsecret: {secret}\nscopes: {client.scopes}")


@clients.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_command(as_json: bool) -> None:
    """List credentials (never their secrets)."""
    rows = [
        {
            "id": c.id,
            "name": c.name,
            "key": c.key,
            "scopes": c.scopes.split(),
            "organisation_id": c.organisation_id,
            "revoked": c.revoked is not None,
        }
        for c in list_clients()
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        status = "revoked" if row["revoked"] else "active"
        org = row["organisation_id"] if row["organisation_id"] is not None else "global"
        click.echo(
            f"{row['id']:>4}  {row['key']}  {status:<7}  org={org}  {' '.join(row['scopes'])}  {row['name']}"
        )


@clients.command("revoke")
@click.argument("key_or_id")
def revoke_command(key_or_id: str) -> None:
    """Revoke a credential by key or id; requests with it get 401 from now on."""
    try:
        client = revoke_client(key_or_id)
    except ClientError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"revoked {client.key} ({client.name})")


@lrs.command("project")
def project_command() -> None:
    """Run the deferred projections that are pending (reporting rows, certificates) and say how many ran.

    Each ingest runs them right after its commit; this picks up what a crash between the two left behind.
    """
    from .deferred import pending_count, run_all_deferred

    ran = run_all_deferred()
    click.echo(f"{ran} deferred projection task(s) run, {pending_count()} pending")
