"""Core pages: home, health check, language switch; the navigation registry features add to."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class NavItem:
    label: object  # a lazy string
    endpoint: str
    visible: Callable[[object], bool]  # takes current_user
    order: int = 50


def nav_items(app: Flask) -> list[NavItem]:
    return app.extensions.setdefault("lms_nav", [])


def add_nav(app: Flask, label, endpoint: str, visible: Callable[[object], bool], order: int = 50) -> None:
    """Features add their main page to the header navigation here (one place, no template edits)."""
    nav_items(app).append(NavItem(label, endpoint, visible, order))
    nav_items(app).sort(key=lambda item: item.order)


def _visible(item: NavItem) -> bool:
    from flask_login import current_user

    return bool(item.visible(current_user))


def _is_company_admin(user) -> bool:
    return user.is_authenticated and user.has_role("org_admin") and user.organisation_id is not None


def init_app(app: Flask) -> None:
    from . import views

    app.register_blueprint(views.bp)
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals["nav_items"] = lambda: [
        item for item in nav_items(app) if _visible(item)
    ]
    add_nav(app, _l("My company"), "core.my_company", _is_company_admin, order=60)
    add_nav(app, _l("Companies"), "orgs.index",
            lambda u: u.is_authenticated and (u.has_role("admin") or u.has_role("coordinator")), order=70)
