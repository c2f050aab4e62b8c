"""Access checks for views: one place, so templates and views never re-implement them."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from ..extensions import db


def role_required(*roles: str) -> Callable:
    """Login required, then 403 unless the user has one of ``roles``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not any(current_user.has_role(role) for role in roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def can_manage_org(user, organisation_id: int) -> bool:
    """Org admins manage their own company; admins manage every company."""
    if user.has_role("admin"):
        return True
    return user.has_role("org_admin") and user.organisation_id == organisation_id


def managed_organisation_or_abort(org_id: int):
    """Load the company (404 when there is none) that the current user may manage (403 otherwise)."""
    from ..orgs.models import Organisation

    organisation = db.session.get(Organisation, org_id)
    if organisation is None:
        abort(404)
    if not can_manage_org(current_user, organisation.id):
        abort(403)
    return organisation
