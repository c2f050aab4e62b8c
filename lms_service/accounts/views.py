"""Log in and out, sign up, password reset, the account page. Load → check → call a service → render."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..errors import UserError
from ..extensions import limiter
from ..forms import select_choices
from ..i18n import current_language
from ..orgs import services as org_services
from ..security import safe_next
from . import services
from .forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    JoinForm,
    LoginForm,
    ProfileForm,
    ResetPasswordForm,
    SignupForm,
)

bp = Blueprint("accounts", __name__, template_folder="templates")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _field_error(form, error: UserError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = list(field.errors) + [error.message]
    else:
        flash(error.message, "error")


def _organisation_choices(include_none: bool = True):
    choices = [("", _("No company / choose later"))] if include_none else []
    return select_choices(choices + [(str(o.id), f"{o.name} ({o.org_number})")
                                     for o in org_services.list_organisations()])


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), url_for("core.home")))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors = [_("The e-mail address or the password is not correct.")]
        else:
            session.clear()  # a fresh session on login (no session fixation)
            login_user(user, remember=form.remember.data)
            session.permanent = True
            flash(_("Welcome, %(name)s.", name=user.display_name), "success")
            return redirect(safe_next(form.next.data, url_for("core.home")))
    return render_template("accounts/login.html", form=form), 200 if not form.errors else 400


@bp.route("/logout", methods=["POST"])
def logout():
    language = current_user.language if current_user.is_authenticated else session.get("lang")
    logout_user()
    session.clear()
    if language:
        session["lang"] = language  # the pages stay in the language the person chose
    flash(_("You have logged out."), "success")
    return redirect(url_for("core.home"))


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    invitation_token = request.values.get("invitation", "")
    invitation = None
    if invitation_token:
        try:
            invitation = org_services.find_invitation(invitation_token)
        except UserError as error:
            flash(error.message, "error")
            return redirect(url_for("accounts.signup"))
    form = SignupForm(language=current_language(), invitation=invitation_token)
    form.organisation_id.choices = _organisation_choices()
    if invitation and request.method == "GET" and invitation.email:
        form.email.data = invitation.email
    if form.validate_on_submit():
        try:
            org_id = int(form.organisation_id.data) if form.organisation_id.data else None
        except ValueError:
            org_id = -1  # not a number: the service reports it as an unknown company
        try:
            user = org_services.sign_up(form.email.data, form.display_name.data, form.password.data,
                                        form.language.data, organisation_id=org_id,
                                        invitation_token=invitation_token or None)
        except UserError as error:
            _field_error(form, error)
        else:
            session.clear()
            login_user(user)
            if invitation:
                flash(_("Welcome! You have joined %(org)s.", org=invitation.organisation.name), "success")
            elif org_id:
                flash(_("Welcome! Your request to join the company has been sent to its administrator."), "success")
            else:
                flash(_("Welcome! Your account has been created."), "success")
            return redirect(url_for("core.home"))
    status = 400 if form.errors else 200
    return render_template("accounts/signup.html", form=form, invitation=invitation), status


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        try:
            services.request_password_reset(
                form.email.data,
                lambda token: current_app.config["BASE_URL"] + url_for("accounts.reset_password", token=token))
        except UserError as error:
            _field_error(form, error)
        else:
            flash(_("If an account exists for that address, we have sent it a link to choose a new password."),
                  "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form), 400 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        services.check_reset_token(token)
    except UserError as error:
        return render_template("accounts/reset_invalid.html", message=error.message), error.status
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except UserError as error:
            _field_error(form, error)
        else:
            logout_user()
            flash(_("Your password has been changed. Log in with the new password."), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form), 400 if form.errors else 200


def _account_page(profile=None, password=None, join=None, status=200):
    profile = profile or ProfileForm(obj=current_user)
    password = password or ChangePasswordForm()
    join = join or JoinForm()
    join.organisation_id.choices = _organisation_choices(include_none=False)
    pending = org_services.pending_request_of(current_user)
    return render_template("accounts/account.html", profile=profile, password=password, join=join,
                           pending=pending), status


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = ProfileForm(obj=current_user)
    if request.method == "GET":
        return _account_page(profile=form)
    if form.validate_on_submit():
        try:
            services.update_profile(current_user, form.display_name.data, form.language.data)
        except UserError as error:
            _field_error(form, error)
        else:
            flash(_("Your details have been saved."), "success")
            return redirect(url_for("accounts.account"))
    return _account_page(profile=form, status=400)


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.password.data)
        except UserError as error:
            _field_error(form, error)
        else:
            login_user(current_user._get_current_object())  # the session version changed: keep this session, end the others
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("accounts.account"))
    return _account_page(password=form, status=400)


@bp.route("/account/join", methods=["POST"])
@login_required
def join_company():
    form = JoinForm()
    form.organisation_id.choices = _organisation_choices(include_none=False)
    if form.validate_on_submit():
        try:
            org_id = int(form.organisation_id.data or 0)
        except ValueError:
            org_id = 0
        try:
            org_services.request_to_join(current_user, org_id)
        except UserError as error:
            _field_error(form, error)
        else:
            flash(_("Your request has been sent to the company's administrator."), "success")
            return redirect(url_for("accounts.account"))
    return _account_page(join=form, status=400)
