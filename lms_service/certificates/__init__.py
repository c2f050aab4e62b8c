"""Certificates: issued from the progress projection, as a PDF with a QR code, a public verification page and
a signed Open Badges 3.0 credential; expiry and renewal; assignments with reminders.

``init_app`` reads the feature's settings (with defaults), loads the signing key, registers the blueprint,
the ``flask certificates`` and ``flask reminders`` commands, the navigation entries and the ingest hook that
issues certificates (it runs after the learning feature's progress hook: FEATURES lists this one later).
"""
from __future__ import annotations

import os
from typing import Any

from flask import Flask

from ..config import ConfigError

# name -> (default, type); each can be set in the environment under the same name.
SETTINGS: dict[str, tuple[object, type]] = {
    "CERTIFICATE_ISSUER_NAME": ("Green transition modules", str),
    "CERTIFICATE_ISSUER_URL": ("", str),  # empty: BASE_URL
    "CERTIFICATE_ISSUER_EMAIL": ("", str),
    "CERTIFICATE_SIGNING_KEY": ("", str),  # the Ed25519 private key as PEM (production)
    "CERTIFICATE_SIGNING_KEY_FILE": ("", str),  # or a path to it
    "CERTIFICATE_VALIDITY_DAYS": (1095, int),  # three years; 0 = no expiry
    "CERTIFICATE_RENEWAL_WINDOW_DAYS": (90, int),
    "CERTIFICATE_EXPIRY_NOTICE_DAYS": (60, int),  # "expiring soon" lists and the expiry reminder
    "REMINDER_DUE_DAYS": (7, int),  # days before the due date that the first reminder goes out
    "CERTIFICATE_PDF_FONT": ("", str),  # a TrueType font for names in any script (else the PDF core font)
    "CERTIFICATE_PDF_FONT_BOLD": ("", str),
}


def _read_settings(app: Flask) -> None:
    for name, (default, kind) in SETTINGS.items():
        if name in app.config:
            continue
        raw = os.environ.get(name, "")
        if raw == "":
            app.config[name] = default
        elif kind is int:
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
            if value < 0:
                raise ConfigError(f"{name} cannot be negative, got {raw!r}")
            app.config[name] = value
        else:
            app.config[name] = raw
    for name in ("CERTIFICATE_PDF_FONT", "CERTIFICATE_PDF_FONT_BOLD"):
        if app.config[name] and not os.path.isfile(app.config[name]):
            raise ConfigError(f"{name} names a font file that does not exist: {app.config[name]}")


def _signed_in(user: Any) -> bool:
    return bool(user.is_authenticated)


def _company_admin(user: Any) -> bool:
    return bool(user.is_authenticated and user.has_role("org_admin") and user.organisation_id is not None)


def _admin(user: Any) -> bool:
    return bool(user.is_authenticated and user.has_role("admin"))


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from ..core import add_nav
    from ..lrs.deferred import register_deferred_projector
    from ..lrs.ingest import register_ingest_hook
    from . import models  # noqa: F401  (tables known to create_all and Alembic)
    from .cli import certificates, reminders
    from .keys import init_signing_key
    from .services import DEFERRED_KIND, issue_deferred, issue_from_statements
    from .views import bp, verify_bp

    _read_settings(app)
    init_signing_key(app)
    app.register_blueprint(bp)
    app.register_blueprint(verify_bp)
    app.cli.add_command(certificates)
    app.cli.add_command(reminders)
    register_ingest_hook(issue_from_statements)
    register_deferred_projector(app, DEFERRED_KIND, issue_deferred)
    add_nav(app, _l("My certificates"), "certificates.mine", _signed_in, order=30)
    add_nav(app, _l("Training plan"), "certificates.company", _company_admin, order=65)
    add_nav(app, _l("Certificates"), "certificates.admin_index", _admin, order=75)

