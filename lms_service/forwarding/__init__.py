"""Forwarding stored statements to external LRSs: targets, a transactional outbox, a worker, a health page.

``init_app`` registers the outbox hook on the LRS ingest path (rows are written in the statements'
transaction), the admin page under /admin/forwarding and the ``flask lrs forward`` and
``flask lrs targets ...`` commands in the LRS command group.
"""
from __future__ import annotations

import os

from flask import Flask

# Settings (environment variable = config key) and their defaults; the README table lists them.
SETTINGS = {
    "FORWARD_TIMEOUT_SECONDS": 10.0,  # connect/read timeout of every request to a target
    "FORWARD_BATCH_SIZE": 100,  # rows one worker claims at a time
    "FORWARD_LEASE_SECONDS": 120.0,  # a claimed row becomes claimable again after this (crashed worker)
    "FORWARD_POLL_SECONDS": 1.0,  # idle pause between polls of the outbox
    "FORWARD_RETRY_BASE_SECONDS": 2.0,  # first backoff step after a target failure
    "FORWARD_RETRY_MAX_SECONDS": 900.0,  # backoff ceiling
    "FORWARD_KEEP_SENT_DAYS": 7.0,  # sent rows are deleted after this many days (0 keeps them)
}


def _setting(name: str, default: float):
    from ..config import ConfigError

    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = type(default)(raw)
    except ValueError:
        kind = "a whole number" if isinstance(default, int) else "a number"
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
    if value < 0 or (value == 0 and name not in ("FORWARD_KEEP_SENT_DAYS", "FORWARD_POLL_SECONDS")):
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from ..core import add_nav
    from ..lrs.cli import lrs
    from ..lrs.ingest import register_ingest_hook
    from . import models  # noqa: F401  (tables known to create_all and Alembic)
    from .cli import forward_command, targets
    from .services import enqueue_for_forwarding
    from .views import bp

    for name, default in SETTINGS.items():
        app.config.setdefault(name, _setting(name, default))
    # An optional key for target secrets and pseudonyms; SECRET_KEY when unset.
    app.config.setdefault("FORWARD_SECRET_KEY", os.environ.get("FORWARD_SECRET_KEY", ""))
    register_ingest_hook(enqueue_for_forwarding)
    app.register_blueprint(bp)
    # The LRS package owns the `flask lrs` group; forwarding adds its commands to it.
    if "forward" not in lrs.commands:
        lrs.add_command(forward_command)
        lrs.add_command(targets)
    add_nav(app, _l("Forwarding"), "forwarding.index",
            lambda user: bool(user.is_authenticated and user.has_role("admin")), order=85)  # type: ignore[attr-defined]
