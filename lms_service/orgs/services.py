"""Organisation services: companies, invitations and join requests. Each owns its transaction."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from ..accounts.models import User
from ..accounts.passwords import new_token, token_digest
from ..accounts.services import new_user, normalise_email
from ..errors import UserError
from ..extensions import db
from ..mail import send_mail
from ..timeutil import utcnow
from .counties import COUNTIES
from .models import Invitation, JoinRequest, JoinRequestStatus, Organisation, OrgKind
from .orgnr import OrgNumberError, normalise_org_number

ORG_NUMBER_MESSAGES = {
    "format": lambda: _("Enter the organisation number as ten digits, like 556677-8899."),
    "check_digit": lambda: _("The organisation number's check digit does not match. Check the number for a typo."),
    "not_legal_entity": lambda: _("This is not a company organisation number (its third digit must be 2 or more)."),
}


def check_org_number(text: str) -> str:
    try:
        return normalise_org_number(text)
    except OrgNumberError as error:
        raise UserError(ORG_NUMBER_MESSAGES[error.code](), field="org_number") from None


def get_organisation(org_id: int) -> Organisation | None:
    return db.session.get(Organisation, org_id)


def list_organisations() -> list[Organisation]:
    return list(db.session.execute(sa.select(Organisation).order_by(Organisation.name)).scalars())


def create_organisation(name: str, org_number: str, county: str, kind: str) -> Organisation:
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise UserError(_("Enter the company name (at most 200 characters)."), field="name")
    number = check_org_number(org_number)
    if county not in COUNTIES:
        raise UserError(_("Choose one of Sweden's 21 counties."), field="county")
    if kind not in {k.value for k in OrgKind}:
        raise UserError(_("Choose a kind of company: vehicle industry supplier, IT firm or other."), field="kind")
    exists = db.session.execute(sa.select(Organisation.id).where(Organisation.org_number == number)).first()
    if exists:
        raise UserError(_("A company with organisation number %(number)s is already registered.", number=number),
                        field="org_number")
    organisation = Organisation(name=name, org_number=number, county=county, kind=kind)
    db.session.add(organisation)
    db.session.commit()
    return organisation


def members(organisation: Organisation) -> list[User]:
    return list(db.session.execute(
        sa.select(User).where(User.organisation_id == organisation.id).order_by(User.display_name)
    ).scalars())


# Invitations ------------------------------------------------------------------------------------------

def create_invitation(organisation: Organisation, invited_by: User, invite_url, email: str | None = None) -> str:
    """Create a single-use invitation; mail it when ``email`` is given. Returns the link."""
    address = normalise_email(email) if email else None
    if address:
        existing = db.session.execute(sa.select(User).where(User.email == address)).scalar_one_or_none()
        if existing is not None and existing.organisation_id == organisation.id:
            raise UserError(_("%(email)s is already a member of %(org)s.", email=address, org=organisation.name),
                            field="email")
    token, digest = new_token()
    days = current_app.config["INVITATION_DAYS"]
    db.session.add(Invitation(organisation_id=organisation.id, email=address, token_hash=digest,
                              invited_by_id=invited_by.id, expires_at=utcnow() + dt.timedelta(days=days)))
    link = invite_url(token)
    if address:
        language = existing.language if address and existing else invited_by.language
        with force_locale(language):
            send_mail(address, _("Invitation to %(org)s", org=organisation.name),
                      _("Hello,\n\n%(inviter)s invites you to take the green-transition modules with %(org)s.\n"
                        "Open this link within %(days)d days to join:\n\n%(url)s\n",
                        inviter=invited_by.display_name, org=organisation.name, days=days, url=link))
    db.session.commit()
    return link


def list_invitations(organisation: Organisation) -> list[Invitation]:
    return list(db.session.execute(
        sa.select(Invitation).where(Invitation.organisation_id == organisation.id,
                                    Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .order_by(Invitation.created_at.desc())
    ).scalars())


def find_invitation(token: str) -> Invitation:
    invitation = db.session.execute(
        sa.select(Invitation).where(Invitation.token_hash == token_digest(token or ""))
    ).scalar_one_or_none()
    if invitation is None:
        raise UserError(_("This invitation link is not valid."), status=404)
    if not invitation.is_usable(utcnow()):
        raise UserError(_("This invitation has expired or has already been used. Ask your company's "
                          "administrator for a new one."), status=410)
    return invitation


def _join_by_invitation(invitation: Invitation, user: User) -> None:
    if invitation.email and invitation.email != user.email:
        raise UserError(_("This invitation was sent to another e-mail address."), status=403)
    user.organisation_id = invitation.organisation_id
    invitation.accepted_at = utcnow()
    invitation.accepted_by_id = user.id
    # An approved invitation settles any pending request to join another company.
    db.session.execute(sa.update(JoinRequest)
                       .where(JoinRequest.user_id == user.id, JoinRequest.status == JoinRequestStatus.pending.value)
                       .values(status=JoinRequestStatus.rejected.value, decided_at=utcnow()))


def accept_invitation(token: str, user: User) -> Organisation:
    invitation = find_invitation(token)
    _join_by_invitation(invitation, user)
    db.session.commit()
    return invitation.organisation


def revoke_invitation(organisation: Organisation, invitation_id: int) -> None:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.organisation_id != organisation.id:
        raise UserError(_("No such invitation."), status=404)
    invitation.revoked_at = utcnow()
    db.session.commit()


# Sign-up ----------------------------------------------------------------------------------------------

def sign_up(email: str, display_name: str, password: str, language: str,
            organisation_id: int | None = None, invitation_token: str | None = None) -> User:
    """Create an account; with an invitation it joins that company, with a chosen company it asks to join.

    All in one transaction: a bad field leaves no half-made account behind.
    """
    invitation = find_invitation(invitation_token) if invitation_token else None
    organisation = None
    if invitation is None and organisation_id:
        organisation = db.session.get(Organisation, organisation_id)
        if organisation is None:
            raise UserError(_("Choose a company from the list."), field="organisation_id")
    user = new_user(email, display_name, password, language)
    db.session.flush()
    if invitation is not None:
        _join_by_invitation(invitation, user)
    elif organisation is not None:
        db.session.add(JoinRequest(organisation_id=organisation.id, user_id=user.id))
    db.session.commit()
    return user


# Join requests ----------------------------------------------------------------------------------------

def request_to_join(user: User, organisation_id: int) -> JoinRequest:
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None:
        raise UserError(_("Choose a company from the list."), field="organisation_id")
    if user.organisation_id == organisation.id:
        raise UserError(_("You are already a member of %(org)s.", org=organisation.name))
    pending = db.session.execute(sa.select(JoinRequest).where(
        JoinRequest.user_id == user.id, JoinRequest.status == JoinRequestStatus.pending.value)).scalars().all()
    if any(r.organisation_id == organisation.id for r in pending):
        raise UserError(_("You have already asked to join %(org)s; its administrator will decide.",
                          org=organisation.name))
    request = JoinRequest(organisation_id=organisation.id, user_id=user.id)
    db.session.add(request)
    db.session.commit()
    return request


def pending_join_requests(organisation: Organisation) -> list[JoinRequest]:
    return list(db.session.execute(
        sa.select(JoinRequest).where(JoinRequest.organisation_id == organisation.id,
                                     JoinRequest.status == JoinRequestStatus.pending.value)
        .order_by(JoinRequest.created_at)
    ).scalars())


def pending_request_of(user: User) -> JoinRequest | None:
    return db.session.execute(sa.select(JoinRequest).where(
        JoinRequest.user_id == user.id, JoinRequest.status == JoinRequestStatus.pending.value)
        .order_by(JoinRequest.created_at.desc())).scalars().first()


def decide_join_request(organisation: Organisation, request_id: int, decided_by: User, approve: bool) -> JoinRequest:
    request = db.session.get(JoinRequest, request_id)
    if request is None or request.organisation_id != organisation.id:
        raise UserError(_("No such request to join."), status=404)
    if request.status != JoinRequestStatus.pending.value:
        raise UserError(_("This request has already been decided."), status=409)
    request.status = (JoinRequestStatus.approved if approve else JoinRequestStatus.rejected).value
    request.decided_at = utcnow()
    request.decided_by_id = decided_by.id
    if approve:
        request.user.organisation_id = organisation.id
    db.session.commit()
    return request


def remove_member(organisation: Organisation, user_id: int, acting: User) -> None:
    user = db.session.get(User, user_id)
    if user is None or user.organisation_id != organisation.id:
        raise UserError(_("No such member."), status=404)
    if user.id == acting.id:
        raise UserError(_("You cannot remove yourself from the company."))
    user.organisation_id = None
    user.revoke("org_admin")
    db.session.commit()


def set_org_admin(organisation: Organisation, user_id: int, make_admin: bool, acting: User) -> None:
    user = db.session.get(User, user_id)
    if user is None or user.organisation_id != organisation.id:
        raise UserError(_("No such member."), status=404)
    if not make_admin and user.id == acting.id:
        raise UserError(_("You cannot remove your own administrator role."))
    if make_admin:
        user.grant("org_admin")
    else:
        user.revoke("org_admin")
    db.session.commit()
