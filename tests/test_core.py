import re
from pathlib import Path

import sqlalchemy as sa

from lms_service.accounts.models import User
from lms_service.extensions import db
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parent.parent


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_an_unreachable_database(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing-dir/x.sqlite3")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unreachable"}


def test_security_headers_on_every_page(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_is_httponly_and_samesite(client):
    client.get("/login")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_templates_need_no_inline_script_or_style_and_no_cdn():
    for template in ROOT.glob("lms_service/**/templates/**/*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline script in {template}"
        assert not re.search(r"\son[a-z]+=", text), f"inline event handler in {template}"
        assert not re.search(r"\sstyle=", text), f"inline style in {template}"
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f"external asset in {template}"


def test_errors_are_pages_for_people_and_json_for_api_clients(client):
    page = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Page not found" in page.get_data(as_text=True)
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.mimetype == "application/json"
    assert api.get_json()["error"]["status"] == 404


def test_404_page_in_swedish_by_default(client):
    assert "Sidan finns inte" in client.get("/no-such-page").get_data(as_text=True)


def test_500_page_hides_details(make_app):
    app = make_app()

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Something went wrong" in text and "secret internals" not in text


def test_accept_language_picks_the_visitors_language(client):
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="sv">' in client.get("/", headers={"Accept-Language": "sv-SE"}).get_data(as_text=True)
    assert '<html lang="sv">' in client.get("/", headers={"Accept-Language": "de"}).get_data(as_text=True)


def test_language_switch_for_visitors_and_saved_for_users(app, client, auth, create_user):
    token = csrf_token(client, "/")
    response = client.post("/language", data={"csrf_token": token, "language": "en", "next": "/login"})
    assert response.headers["Location"] == "/login"
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    user_id = create_user(email="op@komponent.se", language="sv")
    auth.login("op@komponent.se")
    client.post("/language", data={"csrf_token": csrf_token(client, "/"), "language": "en"})
    with app.app_context():
        assert db.session.get(User, user_id).language == "en"


def test_unknown_language_and_foreign_next_change_nothing(app, client, auth, create_user):
    user_id = create_user(email="op@komponent.se", language="sv")
    auth.login("op@komponent.se")
    response = client.post("/language", data={"csrf_token": csrf_token(client, "/"), "language": "xx",
                                              "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"
    assert "Okänt språk" in client.get("/").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, user_id).language == "sv"


def test_language_switch_needs_csrf(client):
    assert client.post("/language", data={"language": "en"}).status_code == 400


def test_every_asset_is_served_locally(client):
    page = client.get("/").get_data(as_text=True)
    for url in re.findall(r'(?:href|src)="(/static/[^"]+)"', page):
        with client.get(url) as response:
            assert response.status_code == 200, url


def test_demo_load_creates_every_role_and_is_idempotent(app, runner):
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0 and "0 new accounts" in second.output
    with app.app_context():
        roles = set()
        for user in db.session.execute(sa.select(User)).scalars():
            roles |= user.roles
        assert roles == {"learner", "author", "org_admin", "coordinator", "admin"}


def test_demo_load_is_refused_in_production(make_app):
    app = make_app(LMS_ENV="production")
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 1 and "refused" in result.output


def test_demo_employees_take_modules_through_the_player(app, runner):
    """With a module in the catalogue, the demo employees leave real statements, progress, certificates and
    statistics: the dashboards of a fresh `make run` are not empty."""
    from lms_service.certificates.models import Certificate
    from lms_service.lrs.models import Statement
    from lms_service.reports.models import ReportEnrolment

    imported = runner.invoke(args=["modules", "import", "docs/examples/sample-module"])
    assert imported.exit_code == 0, imported.output
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "15 modules taken" in result.output  # one module in the catalogue, fifteen employees
    with app.app_context():
        statuses = list(db.session.execute(sa.select(ReportEnrolment.status)).scalars())
        assert len(statuses) == 15 and "passed" in statuses and "in_progress" in statuses
        passes = statuses.count("passed")
        assert db.session.execute(sa.select(sa.func.count()).select_from(Certificate)).scalar_one() == passes
        assert db.session.execute(sa.select(sa.func.count()).select_from(Statement)).scalar_one() > 100
