"""Administrators manage accounts: search, roles, deactivate."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import UserError
from ..orgs.forms import ActionForm
from . import services
from .access import role_required

bp = Blueprint("accounts_admin", __name__, template_folder="templates", url_prefix="/admin/users")

ROLE_LABELS = {
    "author": lambda: _("Author"),
    "org_admin": lambda: _("Company administrator"),
    "coordinator": lambda: _("Programme coordinator"),
    "admin": lambda: _("Administrator"),
}


@bp.route("/")
@role_required("admin")
def index():
    query = request.args.get("q", "")
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    users = services.search_users(query, page=page)
    return render_template("accounts/admin_users.html", users=users, query=query,
                           role_labels={k: v() for k, v in ROLE_LABELS.items()}, form=ActionForm())


@bp.route("/<int:user_id>/roles", methods=["POST"])
@role_required("admin")
def roles(user_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    wanted = set(request.form.getlist("roles"))
    try:
        user = services.set_roles(user_id, wanted, current_user)
    except UserError as error:
        if error.status == 404:
            abort(404)
        flash(error.message, "error")
    else:
        flash(_("The roles of %(name)s have been saved.", name=user.display_name), "success")
    return redirect(url_for("accounts_admin.index", q=request.args.get("q", "")))


@bp.route("/<int:user_id>/<any(activate, deactivate):change>", methods=["POST"])
@role_required("admin")
def active(user_id: int, change: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        user = services.set_active(user_id, change == "activate", current_user)
    except UserError as error:
        if error.status == 404:
            abort(404)
        flash(error.message, "error")
    else:
        flash(_("%(name)s can log in again.", name=user.display_name) if user.active
              else _("%(name)s can no longer log in.", name=user.display_name), "success")
    return redirect(url_for("accounts_admin.index", q=request.args.get("q", "")))


