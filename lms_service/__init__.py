"""lms_service: digital competence modules with an embedded xAPI LRS.

``create_app`` reads like a table of contents: each ``register_*`` step wires one concern.
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from .config import load_config

# Each feature package exposes ``init_app(app)`` that registers its blueprints, CLI commands and hooks.
FEATURES = (
    "lms_service.core",
    "lms_service.accounts",
    "lms_service.orgs",
    "lms_service.lrs",
    "lms_service.packages",
    "lms_service.learning",
    "lms_service.certificates",
    "lms_service.reports",
    "lms_service.forwarding",
)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application; ``config`` overrides settings read from the environment (tests use it)."""
    app = Flask(__name__, instance_path=os.environ.get("LMS_INSTANCE_PATH") or None,
                instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(load_config(app.instance_path))
    if config:
        app.config.update(config)

    register_proxy(app)
    register_logging(app)
    register_extensions(app)
    register_i18n(app)
    register_security(app)
    register_features(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_proxy(app: Flask) -> None:
    count = app.config.get("PROXY_COUNT", 0)
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]


def register_logging(app: Flask) -> None:
    from .logging import init_logging

    init_logging(app)


def register_extensions(app: Flask) -> None:
    from .extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations"),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)


def register_i18n(app: Flask) -> None:
    from .i18n import init_i18n

    init_i18n(app)


def register_security(app: Flask) -> None:
    from .security import init_security

    init_security(app)


def register_features(app: Flask) -> None:
    for name in FEATURES:
        importlib.import_module(name).init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from .errors import init_errors

    init_errors(app)


def register_commands(app: Flask) -> None:
    from .cli import init_cli

    init_cli(app)
