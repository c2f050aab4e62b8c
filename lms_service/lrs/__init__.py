"""The embedded xAPI Learning Record Store, served under /xapi/.

``init_app`` registers the xAPI blueprint (CSRF-exempt: clients authenticate with HTTP Basic, not
cookies), the ``flask lrs`` command group and the admin page for credentials. Other features store
statements through ``lms_service.lrs.ingest.ingest_statements`` and plug into it with
``register_ingest_hook``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from ..core import add_nav
    from ..extensions import csrf
    from . import models  # noqa: F401  (tables known to create_all and Alembic)
    from .cli import lrs
    from .views import admin, api

    # Read from the environment by lms_service.config; the defaults here serve apps built without it.
    app.config.setdefault("LRS_MAX_BODY_BYTES", api.DEFAULT_MAX_BODY_BYTES)
    app.config.setdefault("LRS_DEFAULT_VERSION", "2.0.0")
    csrf.exempt(api.bp)
    add_nav(app, _l("LRS credentials"), "lrs_admin.clients",
            lambda u: u.is_authenticated and u.has_role("admin"), order=85)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.cli.add_command(lrs)
