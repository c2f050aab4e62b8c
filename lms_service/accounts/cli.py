"""`flask users ...`: create an administrator, grant roles, list accounts."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from ..errors import UserError
from ..extensions import db
from . import services
from .models import Role, User


@click.group(help="Manage user accounts.")
def users():
    pass


@users.command("create-admin")
@click.option("--email", required=True, help="The administrator's e-mail address.")
@click.option("--name", "display_name", required=True, help="The name shown in the service.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 10 characters; asked for when not given.")
@click.option("--language", type=click.Choice(["sv", "en"]), default="sv", show_default=True)
@with_appcontext
def create_admin(email: str, display_name: str, password: str, language: str):
    """Create an account with the admin role."""
    try:
        user = services.create_user(email, display_name, password, language, roles=(Role.admin,))
    except UserError as error:
        raise click.ClickException(str(error.message)) from None
    click.echo(f"Created administrator {user.email} (id {user.id}).")


@users.command("grant")
@click.argument("email")
@click.argument("role", type=click.Choice([r.value for r in Role if r is not Role.learner]))
@with_appcontext
def grant(email: str, role: str):
    """Give the account EMAIL the role ROLE."""
    try:
        user = services.grant_role(email, role)
    except UserError as error:
        raise click.ClickException(str(error.message)) from None
    click.echo(f"{user.email} now has the roles: {', '.join(sorted(user.roles))}.")


@users.command("list")
@with_appcontext
def list_users():
    """List accounts with their roles and company."""
    for user in db.session.execute(sa.select(User).order_by(User.email)).scalars():
        org = user.organisation.name if user.organisation else "-"
        click.echo(f"{user.id}\t{user.email}\t{','.join(sorted(user.roles))}\t{org}")
