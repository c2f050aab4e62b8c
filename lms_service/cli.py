"""Service-wide commands: `flask translate ...` and `flask demo load`. Features add their own groups."""
from __future__ import annotations

import os
import subprocess
import sys

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from .extensions import db

TRANSLATIONS = os.path.join(os.path.dirname(__file__), "translations")
POT = os.path.join(TRANSLATIONS, "messages.pot")
ROOT = os.path.dirname(os.path.dirname(__file__))

DEMO_PASSWORD = "demo-password-2026"
DEMO_ORGANISATIONS = [
    ("Demo Komponent AB", "556677-8899", "01", "vehicle_supplier"),
    ("Demo IT-konsult AB", "559012-3450", "01", "it_firm"),
]
DEMO_USERS = [
    # email, name, roles, company index (None = no company), language
    ("admin@demo.example", "Alva Admin", ("admin",), None, "sv"),
    ("coordinator@demo.example", "Kim Koordinator", ("coordinator",), None, "sv"),
    ("author@demo.example", "Ada Author", ("author",), None, "en"),
    ("orgadmin@demo.example", "Olle Orgadmin", ("org_admin",), 0, "sv"),
    ("learner@demo.example", "Lina Learner", (), 0, "sv"),
    ("learner.en@demo.example", "Liam Learner", (), 1, "en"),
]
# Demo employees who have taken modules, so the statistics and certificates have something to show:
# (first names, company index, language); e-mails are employee.<first name>@demo.example.
DEMO_EMPLOYEES = [
    (("Amir", "Britt", "Cecilia", "David", "Elin", "Fredrik", "Greta", "Hugo"), 0, "sv"),
    (("Ida", "Johan", "Karin", "Lars", "Maja", "Nils", "Olivia"), 1, "sv"),
]


def _pybabel(*args: str) -> None:
    command = [sys.executable, "-m", "babel.messages.frontend", *args]
    if subprocess.call(command, cwd=ROOT) != 0:
        raise click.ClickException(f"pybabel {args[0]} failed")


@click.group(help="Translation catalogs (Swedish and English).")
def translate():
    pass


@translate.command("update")
def translate_update():
    """Extract messages and merge them into every catalog."""
    _pybabel("extract", "-F", "babel.cfg", "-k", "_l", "--no-location", "--sort-output", "-o", POT, "lms_service")
    _pybabel("update", "-i", POT, "-d", TRANSLATIONS, "--no-wrap", "--ignore-obsolete")


@translate.command("init")
@click.argument("language")
def translate_init(language: str):
    """Start a catalog for LANGUAGE."""
    _pybabel("extract", "-F", "babel.cfg", "-k", "_l", "--no-location", "--sort-output", "-o", POT, "lms_service")
    _pybabel("init", "-i", POT, "-d", TRANSLATIONS, "-l", language, "--no-wrap")


@translate.command("compile")
def translate_compile():
    """Compile the catalogs to .mo files (done at install by `make`)."""
    _pybabel("compile", "-d", TRANSLATIONS, "--statistics")


@click.group(help="Demo data for a local installation.")
def demo():
    pass


@demo.command("load")
@with_appcontext
def demo_load():
    """Create the demo companies and one account per role (idempotent; refused in production)."""
    from .accounts.models import User
    from .accounts.services import create_user
    from .orgs.models import Organisation
    from .orgs.services import create_organisation

    if current_app.config["LMS_ENV"] == "production":
        raise click.ClickException("demo data has known passwords and is refused when LMS_ENV=production")
    organisations = []
    for name, number, county, kind in DEMO_ORGANISATIONS:
        organisation = db.session.execute(sa.select(Organisation).where(Organisation.org_number == number)).scalar()
        organisations.append(organisation or create_organisation(name, number, county, kind))
    created = 0
    for email, name, roles, org_index, language in DEMO_USERS:
        if db.session.execute(sa.select(User.id).where(User.email == email)).first():
            continue
        org_id = organisations[org_index].id if org_index is not None else None
        create_user(email, name, DEMO_PASSWORD, language, roles=roles, organisation_id=org_id)
        created += 1
    employees = []
    for names, org_index, language in DEMO_EMPLOYEES:
        for name in names:
            email = f"employee.{name.lower()}@demo.example"
            if db.session.execute(sa.select(User.id).where(User.email == email)).first():
                continue
            employees.append(create_user(email, f"{name} Demo", DEMO_PASSWORD, language,
                                         organisation_id=organisations[org_index].id))
    taken = 0
    if employees:
        from .learning.demo import record_demo_activity

        taken = record_demo_activity(employees)
    click.echo(f"Demo data ready: {len(organisations)} companies, {created + len(employees)} new accounts, "
               f"{taken} modules taken by demo employees (password for all: {DEMO_PASSWORD}).")


def init_cli(app: Flask) -> None:
    app.cli.add_command(translate)
    app.cli.add_command(demo)
