"""Certificate pages: the learner's certificates and downloads, the public verification page, the issuer
profile and key, the admin's revocation and the company admin's training plan (expiring, assignments).

Every handler loads (404), checks access (403) and calls a service; the access rules live in the loaders.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts.access import can_manage_org, managed_organisation_or_abort, role_required
from ..errors import UserError
from ..forms import select_choices
from ..i18n import current_language
from ..orgs.forms import ActionForm
from ..timeutil import utcnow
from . import services
from .forms import AssignmentForm, ReminderSettingsForm, RevokeForm
from .pdf import certificate_pdf

bp = Blueprint("certificates", __name__, template_folder="templates", url_prefix="/certificates")
verify_bp = Blueprint("verify", __name__, template_folder="templates")

JSON_LD = "application/ld+json"


def _certificate_or_404(public_id: str):
    certificate = services.get_by_public_id(public_id)
    if certificate is None:
        abort(404)
    return certificate


def _own_certificate(public_id: str):
    """The certificate (404), if it is the current learner's own or the user is an admin (403)."""
    certificate = _certificate_or_404(public_id)
    if certificate.user_id != current_user.id and not current_user.has_role("admin"):
        abort(403)
    return certificate


# ---------------------------------------------------------------- the learner


@bp.route("/")
@login_required
def mine():
    now = utcnow()
    certificates = services.learner_certificates(current_user)
    form = ReminderSettingsForm(opt_out=services.reminders_opted_out(current_user))
    return render_template(
        "certificates/mine.html", certificates=certificates, now=now,
        expiring={c.id for c in certificates if services.expiring_soon(c, now)},
        assignments=services.learner_assignments(current_user, now), reminder_form=form,
        notice_days=services.setting("CERTIFICATE_EXPIRY_NOTICE_DAYS"), lang=current_language())


@bp.route("/reminders", methods=["POST"])
@login_required
def reminder_settings():
    form = ReminderSettingsForm()
    if not form.validate_on_submit():
        abort(400)
    services.set_reminder_opt_out(current_user, bool(form.opt_out.data))
    flash(_("You will not get reminder e-mails.") if form.opt_out.data
          else _("You will get reminder e-mails again."), "success")
    return redirect(url_for("certificates.mine"))


@bp.route("/<public_id>.pdf")
@login_required
def download_pdf(public_id: str):
    certificate = _own_certificate(public_id)
    lang = certificate.user.language if certificate.user is not None else certificate.language
    data = certificate_pdf(certificate, services.verification_url(certificate.public_id), lang,
                           font=services.setting("CERTIFICATE_PDF_FONT"),
                           bold_font=services.setting("CERTIFICATE_PDF_FONT_BOLD"))
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="certificate-{certificate.public_id}.pdf"',
        "Cache-Control": "private, no-store"})


@bp.route("/<public_id>/credential.jwt")
@login_required
def download_credential(public_id: str):
    certificate = _own_certificate(public_id)
    return Response(services.credential_jwt(certificate), mimetype="application/vc+jwt", headers={
        "Content-Disposition": f'attachment; filename="openbadge-{certificate.public_id}.jwt"',
        "Cache-Control": "private, no-store"})


# ---------------------------------------------------------------- public: verification, issuer, key


@verify_bp.route("/verify/<public_id>")
def verify(public_id: str):
    certificate = services.get_by_public_id(public_id)
    if certificate is None:
        return render_template("certificates/verify_unknown.html"), 404
    now = utcnow()
    return render_template("certificates/verify.html", certificate=certificate, status=certificate.status(now),
                           renewed_by=services.renewed_by(certificate), lang=current_language())


@bp.route("/issuer")
def issuer():
    profile = services.issuer_profile().as_json(with_context=True)
    return Response(_json(profile), mimetype=JSON_LD)


@bp.route("/issuer/jwks.json")
def jwks():
    return jsonify(services.public_jwks())


@bp.route("/issuer/keys/<kid>")
def public_key(kid: str):
    key = services.public_jwks()["keys"][0]
    if kid != services.signing_key().kid:
        abort(404)
    return Response(_json(key), mimetype="application/jwk+json")


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, indent=2)


# ---------------------------------------------------------------- admin: revocation


@bp.route("/admin")
@role_required("admin")
def admin_index():
    return render_template("certificates/admin.html", certificates=services.recent_certificates(), now=utcnow(),
                           lang=current_language())


@bp.route("/<public_id>/revoke", methods=["GET", "POST"])
@role_required("admin")
def revoke(public_id: str):
    certificate = _certificate_or_404(public_id)
    form = RevokeForm()
    if form.validate_on_submit():
        try:
            services.revoke_certificate(certificate, current_user, form.reason.data)
        except UserError as error:
            form.reason.errors = list(form.reason.errors) + [error.message]
        else:
            flash(_("The certificate has been revoked."), "success")
            return redirect(url_for("verify.verify", public_id=certificate.public_id))
    return (render_template("certificates/revoke.html", certificate=certificate, form=form,
                            lang=current_language()), 400 if form.errors else 200)


# ---------------------------------------------------------------- company admin: training plan


@bp.route("/company")
@login_required
def company():
    if current_user.organisation_id is None or not can_manage_org(current_user, current_user.organisation_id):
        abort(403)
    return redirect(url_for("certificates.company_plan", org_id=current_user.organisation_id))


def _assignment_form(organisation_id: int, lang: str) -> AssignmentForm:
    form = AssignmentForm()
    form.user_id.choices = select_choices(
        [("", _("Choose an employee"))] +
        [(str(u.id), f"{u.display_name} ({u.email})") for u in services.company_members(organisation_id)])
    subjects = services.list_subjects()
    form.subject.choices = select_choices(
        [("", _("Choose a module or learning path"))] +
        [(s.iri, (_("Learning path: %(title)s", title=s.label(lang)) if s.kind == "path"
                  else _("Module: %(title)s", title=s.label(lang)))) for s in subjects])
    return form


def _render_plan(organisation, form: AssignmentForm, status: int = 200):
    now = utcnow()
    days = services.setting("CERTIFICATE_EXPIRY_NOTICE_DAYS")
    return render_template(
        "certificates/company.html", organisation=organisation, form=form, action_form=ActionForm(),
        assignments=services.company_assignments(organisation.id, now),
        expiring=services.expiring_certificates(organisation.id, days, now), notice_days=days, now=now,
        lang=current_language()), status


@bp.route("/company/<int:org_id>")
@login_required
def company_plan(org_id: int):
    organisation = managed_organisation_or_abort(org_id)
    return _render_plan(organisation, _assignment_form(organisation.id, current_language()))


@bp.route("/company/<int:org_id>/assignments", methods=["POST"])
@login_required
def assign(org_id: int):
    organisation = managed_organisation_or_abort(org_id)
    form = _assignment_form(organisation.id, current_language())
    if form.validate_on_submit():
        try:
            try:
                user_id = int(form.user_id.data)
            except ValueError:
                raise UserError(_("Choose an employee of this company."), field="user_id") from None
            services.assign(organisation.id, current_user, user_id, form.subject.data,
                            services.parse_due_date(form.due_date.data))
        except UserError as error:
            field = getattr(form, error.field or "", None)
            if field is not None:
                field.errors = list(field.errors) + [error.message]
            else:
                flash(error.message, "error")
        else:
            flash(_("The assignment has been saved."), "success")
            return redirect(url_for("certificates.company_plan", org_id=org_id))
    return _render_plan(organisation, form, 400)


@bp.route("/company/<int:org_id>/assignments/<int:assignment_id>/remove", methods=["POST"])
@login_required
def remove_assignment(org_id: int, assignment_id: int):
    organisation = managed_organisation_or_abort(org_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    assignment = services.get_assignment(assignment_id)
    if assignment is None or assignment.organisation_id != organisation.id:
        abort(404)
    services.remove_assignment(assignment)
    flash(_("The assignment has been withdrawn."), "success")
    return redirect(url_for("certificates.company_plan", org_id=org_id))
