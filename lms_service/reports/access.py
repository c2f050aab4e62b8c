"""Who may see which report: one place, so views and templates never re-implement the rules.

- A company admin sees their own company: figures and individual employees.
- An admin sees every company, individual employees included.
- A coordinator sees the programme's aggregates and each company's figures, but no individual learner:
  there is no mechanism yet for a company to grant a coordinator that.
"""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from ..accounts.access import can_manage_org
from ..extensions import db
from ..orgs.models import Organisation


def may_see_company_figures(user, organisation_id: int) -> bool:
    return can_manage_org(user, organisation_id) or user.has_role("coordinator")


def may_see_individuals(user, organisation_id: int) -> bool:
    """Individual learners' rows are for the company's own admins (and admins), never for coordinators."""
    return can_manage_org(user, organisation_id)


def may_see_programme(user) -> bool:
    return user.has_role("coordinator") or user.has_role("admin")


def reported_organisation_or_abort(org_id: int, individuals: bool = False) -> Organisation:
    """The company (404) whose figures, or with ``individuals`` whose employees' rows, the user may see (403)."""
    # An id beyond the integer column's range names no company (and would overflow the database driver).
    organisation = db.session.get(Organisation, org_id) if 0 < org_id < 2**31 else None
    if organisation is None:
        abort(404)
    allowed = may_see_individuals if individuals else may_see_company_figures
    if not allowed(current_user, organisation.id):
        abort(403)
    return organisation
