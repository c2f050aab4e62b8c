"""Access checks for views: one place, so templates and views never re-implement them."""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import abort
from flask_login import current_user, login_required


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
