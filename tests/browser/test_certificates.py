"""Certificates in a real browser: the learner's page and downloads, and the public verification page on a
phone (no login, nothing overflows, the status is in words)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from lms_service.certificates.models import Certificate
from lms_service.extensions import db
from tests.certificates.helpers import make_module, pass_module

pytestmark = pytest.mark.browser


@pytest.fixture
def certificate(app, create_user):
    user_id = create_user(email="op@komponent.se", display_name="Åsa Öberg", password="a-long-password-1",
                          language="en")
    with app.app_context():
        make_module("a1-energy")
        pass_module(user_id, "a1-energy", scaled=0.9)
        public_id = db.session.execute(sa.select(Certificate.public_id)).scalar_one()
        db.session.remove()
    return public_id


def test_the_learner_finds_and_downloads_the_certificate(app, live_server, page, certificate):
    page.goto(f"{live_server}/login")
    page.get_by_label("E-post").fill("op@komponent.se")
    page.get_by_label("Lösenord").fill("a-long-password-1")
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(f"{live_server}/")
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="My certificates").click()
    row = page.get_by_role("row", name="Energy mapping")
    assert "Valid" in row.inner_text()
    with page.expect_download() as pdf:
        row.get_by_role("link", name="PDF Energy mapping").click()
    assert pdf.value.suggested_filename == f"certificate-{certificate}.pdf"
    with page.expect_download() as badge:
        row.get_by_role("link", name="Open Badge Energy mapping").click()
    assert badge.value.suggested_filename == f"openbadge-{certificate}.jwt"


def test_the_verification_page_on_a_phone(app, live_server, phone_page, certificate):
    page = phone_page
    page.goto(f"{live_server}/verify/{certificate}")
    # The verdict is a sentence with a symbol, not a colour alone.
    verdict = page.get_by_role("status").inner_text().strip()
    assert verdict.startswith("✓") and len(verdict) > 10
    assert "Åsa Öberg" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.goto(f"{live_server}/verify/not-a-certificate")
    assert page.get_by_role("heading", level=1).inner_text() in ("Certificate not found", "Intyget finns inte")
