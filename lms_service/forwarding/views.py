"""Admin page for forwarding (role admin): health per target, add, pause/resume, delete, retry dead letters."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from ..accounts.access import role_required
from ..extensions import db
from ..forms import select_choices
from .forms import ActionForm, DeleteForm, TargetForm
from .services import (
    TargetError,
    backfill,
    create_target,
    delete_target,
    get_target,
    health,
    recent_problems,
    retry_dead,
    update_target,
)

bp = Blueprint("forwarding", __name__, url_prefix="/admin/forwarding", template_folder="templates")

FIELD_NAMES = {"filter_organisation_id": "organisation", "filter_verb": "verb", "filter_activity": "activity"}


def _organisation_choices():
    from ..orgs.models import Organisation

    rows = db.session.execute(sa.select(Organisation.id, Organisation.name).order_by(Organisation.name))
    return select_choices([("", _("Every company"))] + [(str(r.id), r.name) for r in rows])


def _load_target(target_id: int):
    try:
        return get_target(target_id)
    except TargetError:
        from flask import abort

        abort(404)


def _render(form: TargetForm, status: int = 200):
    return render_template("forwarding/index.html", items=health(), problems=recent_problems(), form=form,
                           action_form=ActionForm(), delete_form=DeleteForm(formdata=None)), status


@bp.route("/", methods=["GET"])
@role_required("admin")
def index():
    form = TargetForm(formdata=None)
    form.organisation.choices = _organisation_choices()
    return _render(form)


@bp.route("/targets", methods=["POST"])
@role_required("admin")
def create():
    form = TargetForm()
    form.organisation.choices = _organisation_choices()
    if not form.validate_on_submit():
        return _render(form, 400)
    try:
        target = create_target(
            form.name.data, form.endpoint.data, form.key.data, form.secret.data, xapi_version=form.xapi_version.data,
            filter_organisation_id=int(form.organisation.data) if form.organisation.data else None,
            filter_verb=form.verb.data, filter_activity=form.activity.data,
            batch_size=form.batch_size.data or 100, post_batches=form.post_batches.data)
    except TargetError as error:
        field = getattr(form, FIELD_NAMES.get(error.field or "", error.field or "name"), form.name)
        field.errors = [*field.errors, error.message]
        return _render(form, 400)
    queued = backfill(target.id) if form.backfill.data else 0
    flash(_("Target %(name)s added.", name=target.name)
          + (" " + _("%(count)s stored statements queued.", count=queued) if form.backfill.data else ""), "success")
    return redirect(url_for(".index"))


@bp.route("/targets/<int:target_id>/retry-dead", methods=["POST"])
@role_required("admin")
def retry(target_id: int):
    target = _load_target(target_id)
    if ActionForm().validate_on_submit():
        count = retry_dead(target.id)
        flash(_("%(count)s dead letters of %(name)s queued again.", count=count, name=target.name), "success")
    return redirect(url_for(".index"))


@bp.route("/targets/<int:target_id>/pause", methods=["POST"])
@role_required("admin")
def pause(target_id: int):
    target = _load_target(target_id)
    if ActionForm().validate_on_submit():
        update_target(target.id, enabled=not target.enabled)
        flash(_("Target %(name)s resumed.", name=target.name) if target.enabled
              else _("Target %(name)s paused: statements are still queued for it.", name=target.name), "success")
    return redirect(url_for(".index"))


@bp.route("/targets/<int:target_id>/delete", methods=["POST"])
@role_required("admin")
def delete(target_id: int):
    target = _load_target(target_id)
    form = DeleteForm()
    if form.validate_on_submit():
        name = delete_target(target.id)
        flash(_("Target %(name)s deleted with its queue.", name=name), "success")
    elif form.is_submitted() and form.confirm.errors:
        flash(_("Tick \"Also drop its queue\" to delete %(name)s: statements not yet sent to it are dropped.",
                name=target.name), "error")
    return redirect(url_for(".index"))
