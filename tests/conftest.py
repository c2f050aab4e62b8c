"""Shared fixtures, named for what they give.

The database is SQLite in a temporary folder unless TEST_DATABASE_URL points at PostgreSQL; there each
test session works in a fresh schema of its own that is dropped at the end, so runs never see each
other's rows. CSRF protection stays on: tests fetch the token the way a browser does (``csrf_token``).
"""
from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from lms_service import create_app
from lms_service.config import normalise_database_url
from lms_service.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
IS_POSTGRES = TEST_DATABASE_URL.startswith(("postgres://", "postgresql"))


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + TEST_DATABASE_URL if IS_POSTGRES else 'SQLite (temporary file)'}"


class _Database:
    """A database the test session may use freely: an SQLite file or a fresh PostgreSQL schema."""

    def __init__(self, tmp_path: Path):
        self.schema = None
        if IS_POSTGRES:
            base = normalise_database_url(TEST_DATABASE_URL)
            self.schema = f"test_{uuid.uuid4().hex[:12]}"
            self.admin_engine = sa.create_engine(base)
            with self.admin_engine.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
            sep = "&" if "?" in base else "?"
            self.url = f"{base}{sep}options={quote(f'-csearch_path={self.schema}')}"
        else:
            self.url = f"sqlite:///{tmp_path / 'test.sqlite3'}"

    def new_url(self, label: str, tmp_path: Path) -> tuple[str, callable]:
        """Another empty database (for migration tests): returns its URL and a cleanup callable."""
        if not IS_POSTGRES:
            return f"sqlite:///{tmp_path / (label + '.sqlite3')}", lambda: None
        schema = f"{self.schema}_{label}"[:63]
        with self.admin_engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        base = normalise_database_url(TEST_DATABASE_URL)
        sep = "&" if "?" in base else "?"

        def drop():
            with self.admin_engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))

        return f"{base}{sep}options={quote(f'-csearch_path={schema}')}", drop

    def close(self):
        if self.schema:
            with self.admin_engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            self.admin_engine.dispose()


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    database = _Database(tmp_path_factory.mktemp("db"))
    yield database
    database.close()


@pytest.fixture(scope="session")
def test_config(database, tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-for-signing",
        "SQLALCHEMY_DATABASE_URI": database.url,
        "MAIL_SERVER": "",
        "MAIL_FOLDER": str(instance / "mail"),
        "RATELIMIT_ENABLED": False,
        # One prefix per run: runs that share the Redis on 127.0.0.1 never count each other's requests.
        "RATELIMIT_KEY_PREFIX": f"lms-test-{uuid.uuid4().hex[:12]}",
        # argon2id's cheapest parameters: a test user costs microseconds instead of a real hash's 50 ms.
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 8,
        "PASSWORD_HASH_PARALLELISM": 1,
        "BASE_URL": "http://localhost",
        "SERVER_NAME": None,
    }


@pytest.fixture(scope="session")
def app(test_config):
    app = create_app(test_config)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_tables(request):
    """Every test starts from empty tables (only when it used the app)."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    import shutil

    shutil.rmtree(app.config["MAIL_FOLDER"], ignore_errors=True)
    with app.app_context():
        db.session.remove()
        tables = [t for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                if names:
                    conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(table.delete())


@pytest.fixture
def make_app(test_config):
    """Build another app on the same database with extra settings: ``make_app(RATELIMIT_ENABLED=True)``."""
    from lms_service.extensions import limiter

    apps = []
    limiter_enabled = limiter.enabled

    def factory(**overrides):
        app = create_app({**test_config, **overrides})
        apps.append(app)
        return app

    yield factory
    # The limiter is a process-wide singleton: undo what another app's settings did to it.
    limiter.enabled = limiter_enabled
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, url: str) -> str:
    """GET ``url`` and return the CSRF token of its form, as a browser would see it."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    match = _CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no csrf_token on {url}"
    return match.group(1)


PASSWORD = "correct-horse-battery"


@pytest.fixture
def create_user(app):
    """``create_user(email=..., roles=("author",), organisation=org)`` → the new user's id."""

    def factory(email="learner@example.se", display_name="Lena Lärling", password=PASSWORD, language="sv",
                roles=(), organisation=None):
        from lms_service.accounts.services import create_user as service_create_user

        with app.app_context():
            org_id = organisation if isinstance(organisation, int) or organisation is None else organisation.id
            user = service_create_user(email, display_name, password, language, roles=roles, organisation_id=org_id)
            return user.id

    return factory


@pytest.fixture
def create_org(app):
    """``create_org(name=..., org_number=...)`` → the new organisation's id."""
    numbers = iter(["556677-8899", "559012-3450", "556123-4567", "556036-0793", "556016-0680"])

    def factory(name="Komponent AB", org_number=None, county="01", kind="vehicle_supplier"):
        from lms_service.orgs.services import create_organisation

        with app.app_context():
            return create_organisation(name, org_number or next(numbers), county, kind).id

    return factory


def login(client, email, password=PASSWORD):
    """Log in through the real form (CSRF token included); returns the response."""
    token = csrf_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password})


@pytest.fixture
def auth(client):
    """``auth.login(email)`` / ``auth.logout()`` on the shared ``client``."""

    class Auth:
        def login(self, email, password=PASSWORD):
            response = login(client, email, password)
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
            return response

        def logout(self):
            token = csrf_token(client, "/account")
            return client.post("/logout", data={"csrf_token": token})

    return Auth()


def sent_mails(app) -> list:
    """The mails written to the mail folder, oldest first, as email.message.EmailMessage objects."""
    import email
    from email import policy

    folder = Path(app.config["MAIL_FOLDER"])
    paths = sorted(folder.glob("*.eml"), key=lambda p: (p.stat().st_mtime, p.name)) if folder.exists() else []
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in paths]


def last_mail_text(app) -> str:
    message = sent_mails(app)[-1]
    return f"To: {message['To']}\nSubject: {message['Subject']}\n\n{message.get_content()}"
