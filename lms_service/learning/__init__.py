"""The learner experience: catalogue, enrolment, the module player with server-graded quizzes, resume,
My learning, and the progress projection (an LRS ingest hook) with its rebuild command.

``init_app`` registers the blueprint, the ``flask learning`` commands, the projection hook, the header
navigation entries and the logout listener that suspends open module sessions.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)


def _suspend_on_logout(app: Flask, user, **_extra) -> None:
    """Logging out leaves every open module session (suspended + terminated), so the return resumes."""
    from . import services

    if user is None or not getattr(user, "is_authenticated", False):
        return
    try:
        services.suspend_open_sessions(user, getattr(user, "language", "sv"))
    except Exception:  # logging out must never fail because of the player
        log.exception("could not suspend the open module sessions of user %s", getattr(user, "id", "?"))


def _authenticated(user: Any) -> bool:
    return bool(user.is_authenticated)


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l
    from flask_login import user_logged_out

    from ..core import add_nav
    from ..lrs.ingest import register_ingest_hook
    from . import models  # noqa: F401  (tables known to create_all and Alembic)
    from .cli import learning
    from .projection import project_statements
    from .views import bp

    app.register_blueprint(bp)
    app.cli.add_command(learning)
    register_ingest_hook(project_statements)
    user_logged_out.connect(_suspend_on_logout, app)
    add_nav(app, _l("Modules"), "learning.catalogue", lambda user: True, order=10)
    add_nav(app, _l("My learning"), "learning.my_learning", _authenticated, order=20)
