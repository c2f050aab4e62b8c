"""`flask certificates ...` (policies, issuing what the projection earns, revocation, the public key) and
`flask reminders send` (for a scheduler, e.g. daily from cron or a systemd timer)."""
from __future__ import annotations

import json

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from ..accounts.models import User
from ..errors import UserError
from ..extensions import db
from . import services


@click.group(help="Certificates: validity policies, issuing, revocation, the signing key.")
def certificates():
    pass


@certificates.command("policy")
@click.argument("subject_iri")
@click.option("--validity-days", type=click.IntRange(0), required=True, help="0: certificates never expire.")
@click.option("--renewal-days", type=click.IntRange(0), required=True,
              help="How many days before expiry a new pass renews the certificate.")
@with_appcontext
def policy(subject_iri: str, validity_days: int, renewal_days: int):
    """Set the validity and renewal window of the certificates of a module or path (by IRI)."""
    try:
        services.set_policy(subject_iri, validity_days, renewal_days)
    except UserError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{subject_iri}: valid {validity_days} days, renewable {renewal_days} days before expiry")


@certificates.command("issue-missing")
@with_appcontext
def issue_missing():
    """Issue every certificate the progress projection earns that nobody holds yet (run after a rebuild)."""
    count = services.issue_missing()
    click.echo(f"{count} certificate(s) issued")


@certificates.command("revoke")
@click.argument("public_id")
@click.option("--reason", required=True)
@click.option("--by", "by_email", required=True, help="E-mail of the admin who revokes.")
@with_appcontext
def revoke(public_id: str, reason: str, by_email: str):
    """Revoke a certificate with a reason (shown on its verification page)."""
    certificate = services.get_by_public_id(public_id)
    if certificate is None:
        raise click.ClickException(f"no certificate has the id {public_id!r}")
    admin = db.session.execute(sa.select(User).where(User.email == by_email.strip().lower())).scalar_one_or_none()
    if admin is None or not admin.has_role("admin"):
        raise click.ClickException(f"{by_email} is not an admin")
    try:
        services.revoke_certificate(certificate, admin, reason)
    except UserError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"certificate {certificate.public_id} revoked")


@certificates.command("public-key")
@with_appcontext
def public_key():
    """Print the issuer's public keys (JWK Set), e.g. to publish or pin elsewhere."""
    click.echo(json.dumps(services.public_jwks(), indent=2))


@click.group(help="Reminder e-mails about assignments and expiring certificates.")
def reminders():
    pass


@reminders.command("send")
@with_appcontext
def send():
    """Send the reminders that are due (each one once; opted-out learners get none). For a scheduler."""
    report = services.send_reminders()
    click.echo(f"sent {report.total} reminder(s): {report.sent['due_soon']} due soon, "
               f"{report.sent['overdue']} overdue, {report.sent['expiry']} expiring; "
               f"{report.already_sent} already sent, {report.opted_out} opted out, {report.failed} failed")
    if report.failed:
        raise SystemExit(1)
