"""Module packages: the source format, validation, import/export, versions and authoring pages.

The library part (loader, schemas, questions, markdown, zipsafe, package, validation) needs no app and no
database: ``python -m lms_service.packages validate PATH`` uses it alone. ``init_app`` wires the models,
the blueprint (media and authoring pages) and the ``flask modules`` commands.
"""
from __future__ import annotations

from typing import Any


def init_app(app: Any) -> None:
    from . import models  # noqa: F401  (tables known to create_all and Alembic)
    from .cli import modules
    from .views import bp
    from .zipsafe import DEFAULT_UPLOAD_MAX_BYTES

    app.config.setdefault("MODULE_UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_MAX_BYTES)
    app.register_blueprint(bp)
    app.cli.add_command(modules)
    try:
        from ..core import add_nav
    except ImportError:  # pragma: no cover - core is part of the foundation
        return
    add_nav(app, _nav_label(), "packages.index",
            lambda user: user.is_authenticated and (user.has_role("author") or user.has_role("admin")), order=80)


def _nav_label() -> Any:
    from flask_babel import lazy_gettext as _l

    return _l("Authoring")
