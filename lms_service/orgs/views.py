"""Companies: the register (admin, coordinator), a company's members, invitations and join requests."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts.access import managed_organisation_or_abort, role_required
from ..errors import UserError
from ..forms import select_choices
from ..i18n import current_language
from ..orgs.models import OrgKind
from . import services
from .counties import KIND_LABELS, county_choices, county_name
from .forms import ActionForm, InvitationForm, OrganisationForm

bp = Blueprint("orgs", __name__, template_folder="templates", url_prefix="/companies")


def _invite_url(token: str) -> str:
    return current_app.config["BASE_URL"] + url_for("orgs.accept_invitation", token=token)


@bp.app_context_processor
def org_labels():
    return {"county_name": lambda code: county_name(code, current_language()), "kind_labels": KIND_LABELS}


@bp.route("/")
@role_required("admin", "coordinator")
def index():
    return render_template("orgs/index.html", organisations=services.list_organisations())


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin")
def create():
    form = OrganisationForm()
    form.county.choices = select_choices([("", _("Choose a county"))] + county_choices(current_language()))
    form.kind.choices = select_choices((k.value, KIND_LABELS[k.value]) for k in OrgKind)
    if form.validate_on_submit():
        try:
            organisation = services.create_organisation(form.name.data, form.org_number.data, form.county.data,
                                                        form.kind.data)
        except UserError as error:
            field = getattr(form, error.field or "", None)
            if field is not None:
                field.errors = list(field.errors) + [error.message]
            else:
                flash(error.message, "error")
        else:
            flash(_("%(org)s has been registered.", org=organisation.name), "success")
            return redirect(url_for("orgs.show", org_id=organisation.id))
    return render_template("orgs/new.html", form=form), 400 if form.errors else 200


@bp.route("/<int:org_id>")
@login_required
def show(org_id: int):
    organisation = managed_organisation_or_abort(org_id)
    return render_template(
        "orgs/show.html", organisation=organisation, members=services.members(organisation),
        invitations=services.list_invitations(organisation),
        requests=services.pending_join_requests(organisation),
        invite_form=InvitationForm(), action_form=ActionForm(), new_link=None,
    )


@bp.route("/<int:org_id>/invitations", methods=["POST"])
@login_required
def invite(org_id: int):
    organisation = managed_organisation_or_abort(org_id)
    form = InvitationForm()
    link = None
    if form.validate_on_submit():
        try:
            link = services.create_invitation(organisation, current_user, _invite_url, form.email.data or None)
        except UserError as error:
            form.email.errors = list(form.email.errors) + [error.message]
        else:
            if form.email.data:
                flash(_("An invitation has been sent to %(email)s.", email=form.email.data), "success")
                return redirect(url_for("orgs.show", org_id=org_id))
    status = 400 if form.errors else 200
    return render_template(
        "orgs/show.html", organisation=organisation, members=services.members(organisation),
        invitations=services.list_invitations(organisation),
        requests=services.pending_join_requests(organisation),
        invite_form=form, action_form=ActionForm(), new_link=link,
    ), status


def _action(org_id: int, do, message: str):
    organisation = managed_organisation_or_abort(org_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        do(organisation)
    except UserError as error:
        flash(error.message, "error")
    else:
        flash(message, "success")
    return redirect(url_for("orgs.show", org_id=org_id))


@bp.route("/<int:org_id>/invitations/<int:invitation_id>/revoke", methods=["POST"])
@login_required
def revoke_invitation(org_id: int, invitation_id: int):
    return _action(org_id, lambda org: services.revoke_invitation(org, invitation_id),
                   _("The invitation has been withdrawn."))


@bp.route("/<int:org_id>/requests/<int:request_id>/<any(approve, reject):decision>", methods=["POST"])
@login_required
def decide_request(org_id: int, request_id: int, decision: str):
    approve = decision == "approve"
    return _action(org_id, lambda org: services.decide_join_request(org, request_id, current_user, approve),
                   _("The request has been approved.") if approve else _("The request has been declined."))


@bp.route("/<int:org_id>/members/<int:user_id>/remove", methods=["POST"])
@login_required
def remove_member(org_id: int, user_id: int):
    return _action(org_id, lambda org: services.remove_member(org, user_id, current_user),
                   _("The member has been removed from the company."))


@bp.route("/<int:org_id>/members/<int:user_id>/<any(grant, revoke):change>-admin", methods=["POST"])
@login_required
def change_admin(org_id: int, user_id: int, change: str):
    return _action(org_id, lambda org: services.set_org_admin(org, user_id, change == "grant", current_user),
                   _("The member's role has been changed."))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    try:
        invitation = services.find_invitation(token)
    except UserError as error:
        return render_template("orgs/invitation_invalid.html", message=error.message), error.status
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.signup", invitation=token))
    form = ActionForm()
    if form.validate_on_submit():
        try:
            organisation = services.accept_invitation(token, current_user)
        except UserError as error:
            flash(error.message, "error")
            return redirect(url_for("core.home"))
        flash(_("You have joined %(org)s.", org=organisation.name), "success")
        return redirect(url_for("core.home"))
    return render_template("orgs/accept.html", invitation=invitation, form=form)
