"""A visitor signs up, logs out and logs in again, in a real browser."""
import pytest
import sqlalchemy as sa

from lms_service.accounts.models import User
from lms_service.extensions import db

pytestmark = pytest.mark.browser


def test_sign_up_then_log_in(app, live_server, page):
    page.goto(f"{live_server}/")
    page.get_by_role("button", name="English").click()
    page.get_by_role("link", name="Create an account").click()

    page.get_by_label("Your name").fill("Maja Montör")
    page.get_by_label("E-mail").fill("maja@montering.se")
    page.get_by_label("Password (at least 10 characters)").fill("a-long-password-1")
    page.get_by_label("Password again").fill("a-long-password-1")
    page.get_by_label("Language").select_option("en")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{live_server}/")
    assert "Welcome! Your account has been created." in page.content()

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Log in").first.click()
    page.get_by_label("E-mail").fill("maja@montering.se")
    page.get_by_label("Password").fill("a-long-password-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/")
    assert "Logged in as Maja Montör." in page.content()
    with app.app_context():
        user = db.session.execute(sa.select(User)).scalar_one()
        assert (user.email, user.language) == ("maja@montering.se", "en")


def test_keyboard_only_login_on_a_phone(app, live_server, phone_page, create_user):
    create_user(email="op@komponent.se", password="a-long-password-1", language="sv")
    page = phone_page
    page.goto(f"{live_server}/login")
    # The skip link is the first thing the keyboard reaches.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.get_by_label("E-post").focus()
    page.keyboard.type("op@komponent.se")
    page.keyboard.press("Tab")
    page.keyboard.type("a-long-password-1")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/")
    # Nothing overflows a 360 px wide screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
