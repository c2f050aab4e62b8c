"""Who may see which report: one place for the pages, the exports and the reporting API.

Every reader, a signed-in person or an API token, is first turned into a ``Viewer``; the rules below are
written once, against it:

- A company admin (or a token of one company) sees their own company: figures and individual employees
  (a token only with the ``reports:learners`` scope).
- A coordinator (or a global token) sees the programme's aggregates and every company's figures, and
  individual learners only of companies that granted the programme that (``CoordinatorGrant``).
- An admin sees everything.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort
from flask_login import current_user

from ..extensions import db
from ..orgs.models import Organisation
from .sharing import is_shared, shared_organisations


@dataclass(frozen=True)
class Viewer:
    """What one reader may see, whoever they are."""

    organisation_id: int | None  # the company a company admin or a company token belongs to
    programme: bool  # cross-company aggregates and every company's figures
    individuals: bool  # rows about individual learners at all (a token needs the reports:learners scope)
    every_individual: bool = False  # admins: individuals of every company, granted or not
    label: str = ""


def viewer_for_user(user) -> Viewer:
    """The Viewer of a signed-in person, from their roles."""
    if not getattr(user, "is_authenticated", False):
        return Viewer(None, False, False)
    admin = user.has_role("admin")
    org_admin = user.has_role("org_admin") and user.organisation_id is not None
    return Viewer(user.organisation_id if org_admin else None,
                  programme=admin or user.has_role("coordinator"), individuals=True, every_individual=admin,
                  label=f"user {user.id}")


def may_see_company_figures(viewer: Viewer, organisation_id: int) -> bool:
    return viewer.programme or viewer.organisation_id == organisation_id


def may_see_individuals(viewer: Viewer, organisation_id: int) -> bool:
    """Individual learners' rows: the company's own admins, admins, and the programme where the company
    granted it."""
    if not viewer.individuals:
        return False
    if viewer.every_individual or viewer.organisation_id == organisation_id:
        return True
    return viewer.programme and is_shared(organisation_id)


def individual_scope(viewer: Viewer) -> set[int] | None:
    """The companies whose learners ``viewer`` may see individually; None means every company."""
    if not viewer.individuals:
        return set()
    if viewer.every_individual:
        return None
    scope = {viewer.organisation_id} if viewer.organisation_id is not None else set()
    if viewer.programme:
        scope |= shared_organisations()
    return scope


def may_see_programme(viewer: Viewer) -> bool:
    return viewer.programme


def current_viewer() -> Viewer:
    return viewer_for_user(current_user)


def reported_organisation_or_abort(org_id: int, individuals: bool = False,
                                   viewer: Viewer | None = None) -> Organisation:
    """The company (404) whose figures, or with ``individuals`` whose employees' rows, the viewer may see (403)."""
    viewer = viewer or current_viewer()
    # An id beyond the integer column's range names no company (and would overflow the database driver).
    organisation = db.session.get(Organisation, org_id) if 0 < org_id < 2**31 else None
    if organisation is None:
        abort(404)
    allowed = may_see_individuals if individuals else may_see_company_figures
    if not allowed(viewer, organisation.id):
        abort(403)
    return organisation
