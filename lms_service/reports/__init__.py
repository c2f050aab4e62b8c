"""Reports: completion statistics for company admins (their own company) and the programme coordinators
(every company, in aggregate), as server-rendered pages with CSV exports.

``init_app`` reads REPORTS_MIN_COUNT (cross-company counts below it are suppressed), registers the blueprints,
the ``flask reports`` commands, the reporting table's ingest hook and the navigation entries.
"""
from __future__ import annotations

import os
from typing import Any

from flask import Flask

from ..config import ConfigError


def _read_settings(app: Flask) -> None:
    if "REPORTS_MIN_COUNT" in app.config:
        value = app.config["REPORTS_MIN_COUNT"]
    else:
        raw = os.environ.get("REPORTS_MIN_COUNT", "") or "5"
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"REPORTS_MIN_COUNT must be a whole number, got {raw!r}") from None
    if not isinstance(value, int) or value < 1:
        raise ConfigError(f"REPORTS_MIN_COUNT must be a whole number of at least 1, got {value!r}")
    app.config["REPORTS_MIN_COUNT"] = value


def _company_admin(user: Any) -> bool:
    return bool(user.is_authenticated and user.has_role("org_admin") and user.organisation_id is not None)


def _programme_reader(user: Any) -> bool:
    return bool(user.is_authenticated and (user.has_role("coordinator") or user.has_role("admin")))


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from ..core import add_nav
    from ..lrs.deferred import register_deferred_projector
    from ..lrs.ingest import register_ingest_hook
    from . import models  # noqa: F401  (tables known to create_all and Alembic)
    from .api import init_api
    from .cli import reports
    from .projection import DEFERRED_KIND, follow_membership_changes, project_report, refresh_deferred
    from .views import bp

    _read_settings(app)
    app.register_blueprint(bp)
    init_api(app)
    app.cli.add_command(reports)
    # After the progress projection's hook (learning comes first in FEATURES); the refresh itself runs after
    # the ingest commit and reads the progress rows that hook wrote.
    register_ingest_hook(project_report)
    register_deferred_projector(app, DEFERRED_KIND, refresh_deferred)
    follow_membership_changes()
    add_nav(app, _l("Company statistics"), "reports.my_company", _company_admin, order=66)
    add_nav(app, _l("Programme statistics"), "reports.programme", _programme_reader, order=72)
