"""Account services: registration, login, password reset and account changes. Each owns its transaction."""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from ..errors import UserError
from ..extensions import db
from ..mail import send_mail
from ..timeutil import as_aware, utcnow
from .models import PasswordResetToken, Role, User
from .passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    new_token,
    token_digest,
    verify_password,
)

log = logging.getLogger(__name__)


def normalise_email(email: str) -> str:
    """A syntactically valid address, lower-cased; raises UserError(field='email')."""
    try:
        result = validate_email((email or "").strip(), check_deliverability=False)
    except EmailNotValidError:
        raise UserError(_("Enter a valid e-mail address, like name@company.se."), field="email") from None
    return result.normalized.lower()


def check_password_rules(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(_("The password must be at least %(n)d characters long.", n=MIN_PASSWORD_LENGTH),
                        field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(_("The password can be at most %(n)d characters long.", n=MAX_PASSWORD_LENGTH),
                        field="password")


def check_language(language: str) -> str:
    if language not in current_app.config["LANGUAGES"]:
        raise UserError(_("Unknown language. Choose Swedish or English."), field="language")
    return language


def check_display_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise UserError(_("Enter your name."), field="display_name")
    if len(name) > 120:
        raise UserError(_("The name can be at most 120 characters long."), field="display_name")
    return name


def get_user_by_email(email: str) -> User | None:
    return db.session.execute(sa.select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


def new_user(email: str, display_name: str, password: str, language: str) -> User:
    """Validate and add (not commit) a user; raises UserError naming the field that is wrong."""
    email = normalise_email(email)
    display_name = check_display_name(display_name)
    check_password_rules(password)
    language = check_language(language)
    if get_user_by_email(email) is not None:
        raise UserError(_("An account with this e-mail address already exists. Log in or reset your password."),
                        field="email")
    user = User(email=email, display_name=display_name, language=language, password_hash=hash_password(password))
    db.session.add(user)
    return user


def create_user(email: str, display_name: str, password: str, language: str = "sv",
                roles: tuple[Role | str, ...] = (), organisation_id: int | None = None) -> User:
    """Create a user with roles (CLI, demo data); commits."""
    user = new_user(email, display_name, password, language)
    user.organisation_id = organisation_id
    for role in roles:
        user.grant(role)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (same timing for unknown e-mails)."""
    user = get_user_by_email(email or "")
    ok = verify_password(user.password_hash if user else None, password or "")
    if not ok or user is None or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


def update_profile(user: User, display_name: str, language: str) -> None:
    user.display_name = check_display_name(display_name)
    user.language = check_language(language)
    db.session.commit()


def set_language(user: User, language: str) -> None:
    user.language = check_language(language)
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current or ""):
        raise UserError(_("The current password is not correct."), field="current_password")
    check_password_rules(new)
    user.password_hash = hash_password(new)
    user.session_version += 1
    db.session.commit()


def request_password_reset(email: str, reset_url) -> None:
    """E-mail a one-time link when the account exists; behaves identically when it does not (no enumeration)."""
    try:
        address = normalise_email(email)
    except UserError:
        raise
    user = get_user_by_email(address)
    if user is None or not user.active:
        log.info("password reset asked for an unknown address")
        return
    token, digest = new_token()
    hours = current_app.config["PASSWORD_RESET_HOURS"]
    db.session.add(PasswordResetToken(user_id=user.id, token_hash=digest,
                                      expires_at=utcnow() + dt.timedelta(hours=hours)))
    db.session.commit()
    with force_locale(user.language):
        send_mail(
            user.email,
            _("Reset your password"),
            _("Hello %(name)s,\n\nSomeone (hopefully you) asked to reset the password of your account.\n"
              "Open this link within %(hours)d hours to choose a new password:\n\n%(url)s\n\n"
              "If you did not ask for this, ignore this message: your password stays as it is.",
              name=user.display_name, hours=hours, url=reset_url(token)),
        )


def _reset_token(token: str) -> PasswordResetToken:
    row = db.session.execute(
        sa.select(PasswordResetToken).where(PasswordResetToken.token_hash == token_digest(token or ""))
    ).scalar_one_or_none()
    if row is None:
        raise UserError(_("This reset link is not valid. Ask for a new one."), status=404)
    if row.used_at is not None:
        raise UserError(_("This reset link has already been used. Ask for a new one."), status=410)
    if as_aware(row.expires_at) <= utcnow():
        raise UserError(_("This reset link has expired. Ask for a new one."), status=410)
    return row


def check_reset_token(token: str) -> None:
    _reset_token(token)


def reset_password(token: str, new: str) -> User:
    row = _reset_token(token)
    check_password_rules(new)
    user = row.user
    user.password_hash = hash_password(new)
    user.session_version += 1
    now = utcnow()
    # Every outstanding token of the user dies with the reset, not only this one.
    db.session.execute(sa.update(PasswordResetToken)
                       .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
                       .values(used_at=now))
    db.session.commit()
    return user


def grant_role(email: str, role: str) -> User:
    user = get_user_by_email(email)
    if user is None:
        raise UserError(_("No account with the e-mail address %(email)s.", email=email), field="email")
    try:
        user.grant(role)
    except ValueError:
        raise UserError(_("Unknown role %(role)s.", role=role), field="role") from None
    db.session.commit()
    return user


def search_users(query: str = "", page: int = 1, per_page: int = 50):
    """Users whose e-mail or name contains ``query``, newest first, one page at a time."""
    statement = sa.select(User).order_by(User.created_at.desc(), User.id.desc())
    query = (query or "").strip().lower()
    if query:
        pattern = f"%{query.replace('%', '').replace('_', '')}%"
        statement = statement.where(sa.or_(User.email.like(pattern), sa.func.lower(User.display_name).like(pattern)))
    return db.paginate(statement, page=page, per_page=per_page, error_out=False)


def set_roles(user_id: int, roles: set[str], acting: User) -> User:
    """Replace a user's granted roles (admins only; an admin cannot drop their own admin role)."""
    user = db.session.get(User, user_id)
    if user is None:
        raise UserError(_("No such account."), status=404)
    unknown = roles - {r.value for r in Role}
    if unknown:
        raise UserError(_("Unknown role %(role)s.", role=", ".join(sorted(unknown))), field="roles")
    if user.id == acting.id and Role.admin.value not in roles:
        raise UserError(_("You cannot remove your own administrator role."), field="roles")
    if Role.org_admin.value in roles and user.organisation_id is None:
        raise UserError(_("Only a member of a company can be its administrator."), field="roles")
    for role in Role:
        if role is Role.learner:
            continue
        if role.value in roles:
            user.grant(role)
        else:
            user.revoke(role)
    db.session.commit()
    return user


def set_active(user_id: int, active: bool, acting: User) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise UserError(_("No such account."), status=404)
    if user.id == acting.id and not active:
        raise UserError(_("You cannot deactivate your own account."))
    user.active = active
    if not active:
        user.session_version += 1  # ends the user's sessions now
    db.session.commit()
    return user
