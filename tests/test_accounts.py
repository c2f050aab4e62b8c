import datetime as dt
import re

import sqlalchemy as sa

from lms_service.accounts.models import PasswordResetToken, User
from lms_service.extensions import db
from lms_service.orgs.models import JoinRequest
from tests.conftest import PASSWORD, csrf_token, last_mail_text, login, sent_mails


def count_users(app):
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count(User.id))).scalar()


def signup_data(client, **overrides):
    data = {
        "csrf_token": csrf_token(client, "/signup"),
        "display_name": "Sara Svetsare",
        "email": "sara@komponent.se",
        "password": PASSWORD,
        "password_again": PASSWORD,
        "language": "sv",
        "organisation_id": "",
    }
    data.update(overrides)
    return data


def test_signup_creates_an_account_and_logs_in(app, client):
    response = client.post("/signup", data=signup_data(client, email="Sara@Komponent.SE"))
    assert response.status_code == 302
    with app.app_context():
        user = db.session.execute(sa.select(User)).scalar_one()
        assert user.email == "sara@komponent.se"
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert user.roles == {"learner"}
        assert re.fullmatch(r"[0-9a-f]{32}", user.xapi_account_name)
    assert "Sara Svetsare" in client.get("/").get_data(as_text=True)


def test_signup_with_a_company_sends_a_join_request(app, client, create_org):
    org_id = create_org()
    response = client.post("/signup", data=signup_data(client, organisation_id=str(org_id)))
    assert response.status_code == 302
    with app.app_context():
        request = db.session.execute(sa.select(JoinRequest)).scalar_one()
        assert request.organisation_id == org_id and request.status == "pending"
        assert db.session.execute(sa.select(User)).scalar_one().organisation_id is None


def test_duplicate_email_is_refused_in_the_users_language(app, client, create_user):
    create_user(email="sara@komponent.se")
    response = client.post("/signup", data=signup_data(client, email="SARA@komponent.se", language="en"),
                           headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "An account with this e-mail address already exists" in response.get_data(as_text=True)
    assert count_users(app) == 1


def test_duplicate_email_message_in_swedish(app, client, create_user):
    create_user(email="sara@komponent.se")
    response = client.post("/signup", data=signup_data(client), headers={"Accept-Language": "sv"})
    assert response.status_code == 400
    assert "Det finns redan ett konto med den här e-postadressen" in response.get_data(as_text=True)


def test_malformed_email_is_refused(app, client):
    response = client.post("/signup", data=signup_data(client, email="sara@"), headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "Enter a valid e-mail address" in response.get_data(as_text=True)
    assert count_users(app) == 0


def test_short_and_mismatched_passwords_are_refused(app, client):
    response = client.post("/signup", data=signup_data(client, password="short", password_again="short"),
                           headers={"Accept-Language": "en"})
    assert "at least 10 characters" in response.get_data(as_text=True)
    response = client.post("/signup", data=signup_data(client, password_again="something-else-1"),
                           headers={"Accept-Language": "en"})
    assert "The two passwords are not the same" in response.get_data(as_text=True)
    assert count_users(app) == 0


def test_unknown_language_is_refused(app, client):
    response = client.post("/signup", data=signup_data(client, language="de"), headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "Unknown language" in response.get_data(as_text=True)
    assert count_users(app) == 0


def test_unknown_company_is_refused(app, client):
    response = client.post("/signup", data=signup_data(client, organisation_id="999"),
                           headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "Choose a company from the list" in response.get_data(as_text=True)
    assert count_users(app) == 0


def test_missing_csrf_token_changes_nothing(app, client):
    data = signup_data(client)
    del data["csrf_token"]
    response = client.post("/signup", data=data, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "Your form expired" in response.get_data(as_text=True)
    assert count_users(app) == 0


def test_login_and_logout(client, create_user):
    create_user(email="op@komponent.se")
    assert login(client, "op@komponent.se").status_code == 302
    assert client.get("/account").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    response = client.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_password_and_unknown_email_give_the_same_message(client, create_user):
    create_user(email="op@komponent.se")
    wrong = login(client, "op@komponent.se", "wrong-password-1")
    unknown = login(client, "nobody@komponent.se", "wrong-password-1")
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "E-postadressen eller lösenordet stämmer inte" in response.get_data(as_text=True)


def test_login_redirects_only_to_local_paths(client, create_user):
    create_user(email="op@komponent.se")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        token = csrf_token(client, "/login")
        response = client.post("/login", data={"csrf_token": token, "email": "op@komponent.se",
                                               "password": PASSWORD, "next": target})
        assert response.status_code == 302
        assert response.headers["Location"] == "/", target
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "email": "op@komponent.se", "password": PASSWORD,
                                           "next": "/account"})
    assert response.headers["Location"] == "/account"


def test_login_is_rate_limited(make_app, create_user):
    create_user(email="op@komponent.se")
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    with app.app_context():
        from lms_service.extensions import limiter
        limiter.reset()
    statuses = [login(client, "op@komponent.se", "wrong-password-1").status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    client.post("/language", data={"csrf_token": csrf_token(client, "/"), "language": "en"})
    assert "Too many attempts" in login(client, "op@komponent.se").get_data(as_text=True)


def _last_mail(app) -> str:
    return last_mail_text(app)


def _reset_link(app) -> str:
    return re.search(r"http://localhost(/password/reset/\S+)", last_mail_text(app)).group(1)


def test_password_reset_by_mailed_one_time_token(app, client, create_user):
    create_user(email="op@komponent.se", language="en")
    token = csrf_token(client, "/password/forgot")
    response = client.post("/password/forgot", data={"csrf_token": token, "email": "op@komponent.se"})
    assert response.status_code == 302
    assert "Reset your password" in _last_mail(app)
    link = _reset_link(app)
    with app.app_context():
        stored = db.session.execute(sa.select(PasswordResetToken)).scalar_one()
        assert link.rsplit("/", 1)[1] not in stored.token_hash  # only the digest is stored
    new_password = "a-brand-new-password"
    response = client.post(link, data={"csrf_token": csrf_token(client, link), "password": new_password,
                                       "password_again": new_password})
    assert response.status_code == 302
    assert login(client, "op@komponent.se", new_password).status_code == 302
    # Reused: refused with a clear message, nothing changed.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    response = client.get(link, headers={"Accept-Language": "en"})
    assert response.status_code == 410
    assert "already been used" in response.get_data(as_text=True)


def test_expired_and_unknown_reset_tokens(app, client, create_user):
    create_user(email="op@komponent.se", language="en")
    client.post("/password/forgot", data={"csrf_token": csrf_token(client, "/password/forgot"),
                                          "email": "op@komponent.se"})
    link = _reset_link(app)
    with app.app_context():
        db.session.execute(sa.update(PasswordResetToken).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
        db.session.commit()
    response = client.get(link, headers={"Accept-Language": "en"})
    assert response.status_code == 410 and "has expired" in response.get_data(as_text=True)
    response = client.post(link, data={"csrf_token": csrf_token(client, "/password/forgot"),
                                       "password": "another-password-1", "password_again": "another-password-1"},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 410
    assert login(client, "op@komponent.se").status_code == 302  # the old password still works
    response = client.get("/password/reset/not-a-token", headers={"Accept-Language": "en"})
    assert response.status_code == 404 and "not valid" in response.get_data(as_text=True)


def test_reset_for_unknown_address_looks_the_same_and_sends_nothing(app, client):
    response = client.post("/password/forgot", data={"csrf_token": csrf_token(client, "/password/forgot"),
                                                     "email": "nobody@komponent.se"})
    assert response.status_code == 302
    assert sent_mails(app) == []


def test_account_page_updates_name_and_language(app, client, auth, create_user):
    user_id = create_user(email="op@komponent.se")
    auth.login("op@komponent.se")
    token = csrf_token(client, "/account")
    response = client.post("/account", data={"csrf_token": token, "display_name": "  Ola   Operatör ",
                                             "language": "en"})
    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, user_id)
        assert (user.display_name, user.language) == ("Ola Operatör", "en")
    assert "My account" in client.get("/account").get_data(as_text=True)
    response = client.post("/account", data={"csrf_token": token, "display_name": "Ola", "language": "fi"})
    assert response.status_code == 400 and "Unknown language" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, user_id).language == "en"


def test_password_change_ends_other_sessions(app, create_user):
    create_user(email="op@komponent.se")
    first, second = app.test_client(), app.test_client()
    login(first, "op@komponent.se")
    login(second, "op@komponent.se")
    new_password = "changed-password-99"
    response = first.post("/account/password", data={
        "csrf_token": csrf_token(first, "/account"), "current_password": PASSWORD,
        "password": new_password, "password_again": new_password})
    assert response.status_code == 302
    assert first.get("/account").status_code == 200
    assert second.get("/account").status_code == 302  # logged out elsewhere


def test_wrong_current_password_changes_nothing(app, client, auth, create_user):
    create_user(email="op@komponent.se", language="en")
    auth.login("op@komponent.se")
    response = client.post("/account/password", data={
        "csrf_token": csrf_token(client, "/account"), "current_password": "not-the-password",
        "password": "changed-password-99", "password_again": "changed-password-99"})
    assert response.status_code == 400
    assert "The current password is not correct" in response.get_data(as_text=True)


def test_cli_create_admin_and_grant(app, runner):
    result = runner.invoke(args=["users", "create-admin", "--email", "boss@lms.se", "--name", "Boss",
                                 "--password", "admin-password-1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "create-admin", "--email", "boss@lms.se", "--name", "Boss",
                                 "--password", "admin-password-1"])
    assert result.exit_code == 1 and "already exists" in result.output
    result = runner.invoke(args=["users", "create-admin", "--email", "not-an-email", "--name", "X",
                                 "--password", "admin-password-1"])
    assert result.exit_code == 1 and "valid e-mail" in result.output
    result = runner.invoke(args=["users", "grant", "boss@lms.se", "author"])
    assert result.exit_code == 0
    with app.app_context():
        user = db.session.execute(sa.select(User)).scalar_one()
        assert user.roles == {"learner", "admin", "author"}
    result = runner.invoke(args=["users", "grant", "nobody@lms.se", "author"])
    assert result.exit_code == 1 and "No account" in result.output
