"""Accounts: users, roles, log in, sign up, password reset, the account page, `flask users`."""
from __future__ import annotations

from flask import Flask, flash, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from ..extensions import db, login_manager


def init_app(app: Flask) -> None:
    from ..core import add_nav
    from . import admin_views, cli, passwords, views
    from .models import User

    passwords.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin_views.bp)
    add_nav(app, _l("Accounts"), "accounts_admin.index", lambda u: u.is_authenticated and u.has_role("admin"),
            order=80)
    app.cli.add_command(cli.users)

    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str):
        # The id carries the session version, so a password change ends every other session.
        try:
            raw_id, version = user_id.split(":", 1)
            user = db.session.get(User, int(raw_id))
        except (ValueError, TypeError):
            return None
        if user is None or str(user.session_version) != version:
            return None
        return user

    @login_manager.unauthorized_handler
    def unauthorized():
        from ..errors import json_error, wants_json
        from ..security import safe_next

        if wants_json():
            return json_error(401, "authentication required")
        flash(login_manager.login_message, "info")
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("accounts.login", next=safe_next(target, "") or None))

