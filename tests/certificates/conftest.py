"""Fixtures for the certificate tests."""
from __future__ import annotations

import pytest

from lms_service.extensions import db
from lms_service.lrs.models import Statement

from .helpers import make_module, make_path


@pytest.fixture
def ctx(app):
    """An application context for service-level tests (the session is cleaned up afterwards)."""
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def catalogue(app):
    """Three modules and a learning path of them (moveOn Passed).

    Made in an app context of its own: view tests must not hold one open, or every request of the test
    client would share its ``g`` (the logged-in user, the CSRF token).
    """
    with app.app_context():
        for slug, sv, en in (("a1-energy", "Energikartläggning", "Energy mapping"),
                             ("a2-iso", "ISO 14001 och 50001", "ISO 14001 and 50001"),
                             ("a3-circular", "Återtillverkning", "Remanufacturing")):
            make_module(slug, sv, en)
        make_path("resource-efficiency", ["a1-energy", "a2-iso", "a3-circular"])
        db.session.remove()
    return ["a1-energy", "a2-iso", "a3-circular"]


def certificate_statements() -> list[dict]:
    """Bodies of the stored certificate statements (issued/renewed/revoked), oldest first."""
    import sqlalchemy as sa

    return [s.body for s in db.session.execute(
        sa.select(Statement).where(Statement.verb_id.like("%/verbs/certificate-%")).order_by(Statement.pk)).scalars()]
