from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts import services as account_services
from ..errors import UserError
from ..extensions import db
from ..orgs.forms import ActionForm
from ..security import safe_next

bp = Blueprint("core", __name__, template_folder="templates")
log = logging.getLogger(__name__)


@bp.route("/")
def home():
    return render_template("core/home.html")


@bp.route("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:  # any database failure makes the instance unhealthy
        log.exception("health check: database unreachable")
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.route("/language", methods=["POST"])
def set_language():
    if not ActionForm().validate_on_submit():
        abort(400)
    language = request.form.get("language", "")
    back = safe_next(request.form.get("next"), url_for("core.home"))
    if language not in current_app.config["LANGUAGES"]:
        flash(_("Unknown language. Choose Swedish or English."), "error")
        return redirect(back)
    session["lang"] = language
    if current_user.is_authenticated:
        try:
            account_services.set_language(current_user, language)
        except UserError as error:
            flash(error.message, "error")
    return redirect(back)


@bp.route("/my-company")
@login_required
def my_company():
    if current_user.organisation_id is None:
        abort(404)
    return redirect(url_for("orgs.show", org_id=current_user.organisation_id))
