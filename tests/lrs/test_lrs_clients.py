"""LRS credentials: CLI, admin page, hashed secrets, authority from the credential."""

from __future__ import annotations

import hashlib
import json
import re

import sqlalchemy as sa
from lrs_helpers import XAPIClient, csrf_token, make_statement

from lms_service.extensions import db
from lms_service.lrs.models import LRSClient


def test_cli_create_json_prints_key_and_secret_and_stores_a_hash(app, runner, client):
    result = runner.invoke(
        args=[
            "lrs",
            "clients",
            "create",
            "--name",
            "BI tool",
            "--scope",
            "statements/read",
            "--scope",
            "all/read",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"key", "secret"}
    with app.app_context():
        row = db.session.execute(sa.select(LRSClient).where(LRSClient.key == data["key"])).scalar_one()
        assert row.secret_hash == hashlib.sha256(data["secret"].encode()).hexdigest()
        assert data["secret"] not in (row.secret_hash, row.scopes, row.name)
        assert row.scope_set == {"statements/read", "all/read"}
    response = XAPIClient(client, data["key"], data["secret"]).get("statements")
    assert response.status_code == 200


def test_cli_create_plain_output_and_list_and_revoke(app, runner, client):
    result = runner.invoke(args=["lrs", "clients", "create", "--name", "Player", "--scope", "all"])
    assert result.exit_code == 0
    key = re.search(r"key:\s+(\S+)", result.output).group(1)
    secret = re.search(r"secret:\s+(\S+)", result.output).group(1)
    listing = runner.invoke(args=["lrs", "clients", "list"])
    assert key in listing.output and "active" in listing.output
    assert secret not in listing.output
    assert runner.invoke(args=["lrs", "clients", "revoke", key]).exit_code == 0
    listed = json.loads(runner.invoke(args=["lrs", "clients", "list", "--json"]).output)
    assert listed[0]["revoked"] is True
    assert XAPIClient(client, key, secret).get("statements").status_code == 401


def test_cli_rejects_unknown_scope_and_organisation(app, runner):
    bad_scope = runner.invoke(args=["lrs", "clients", "create", "--name", "x", "--scope", "everything"])
    assert bad_scope.exit_code != 0 and "unknown scope" in bad_scope.output
    bad_org = runner.invoke(
        args=["lrs", "clients", "create", "--name", "x", "--scope", "all", "--org", "999"]
    )
    assert bad_org.exit_code != 0 and "organisation" in bad_org.output
    bad_revoke = runner.invoke(args=["lrs", "clients", "revoke", "nope"])
    assert bad_revoke.exit_code != 0
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(LRSClient)).scalar_one() == 0


def test_authority_of_stored_statement_is_the_credential(app, client, make_credential):
    key, secret = make_credential("all", name="OEM connector")
    xapi = XAPIClient(client, key, secret)
    statement = make_statement(authority={"objectType": "Agent", "mbox": "mailto:forged@example.com"})
    statement_id = xapi.post_statements(statement).get_json()[0]
    stored = xapi.get("statements", query={"statementId": statement_id}).get_json()
    assert stored["authority"]["name"] == "OEM connector"
    assert stored["authority"]["account"]["homePage"] == "http://localhost"


def _login_admin(app, client):
    from lms_service.accounts.services import create_user

    with app.app_context():
        create_user("admin@example.com", "Admin", "a-long-password-123", "en", roles=("admin",))
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": "admin@example.com", "password": "a-long-password-123", "csrf_token": token}
    )
    assert response.status_code == 302


def test_admin_page_needs_the_admin_role(app, client):
    from lms_service.accounts.services import create_user

    assert client.get("/admin/lrs/clients").status_code in (302, 401)
    with app.app_context():
        create_user("learner@example.com", "Learner", "a-long-password-123", "en")
    token = csrf_token(client, "/login")
    client.post(
        "/login",
        data={"email": "learner@example.com", "password": "a-long-password-123", "csrf_token": token},
    )
    assert client.get("/admin/lrs/clients").status_code == 403


def test_admin_page_creates_and_revokes(app, client):
    _login_admin(app, client)
    token = csrf_token(client, "/admin/lrs/clients")
    response = client.post(
        "/admin/lrs/clients",
        data={"name": "Dashboard", "scopes": ["statements/read"], "organisation": "", "csrf_token": token},
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    key = re.search(r'id="new-key">([0-9a-f]+)<', page).group(1)
    secret = re.search(r'id="new-secret">([^<]+)<', page).group(1)
    assert XAPIClient(client, key, secret).get("statements").status_code == 200
    with app.app_context():
        client_id = db.session.execute(sa.select(LRSClient.id).where(LRSClient.key == key)).scalar_one()
    # Without the CSRF token nothing happens.
    client.post(f"/admin/lrs/clients/{client_id}/revoke", data={})
    assert XAPIClient(client, key, secret).get("statements").status_code == 200
    token = csrf_token(client, "/admin/lrs/clients")
    response = client.post(f"/admin/lrs/clients/{client_id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302
    assert XAPIClient(client, key, secret).get("statements").status_code == 401


def test_admin_page_refuses_a_form_without_scopes(app, client):
    _login_admin(app, client)
    token = csrf_token(client, "/admin/lrs/clients")
    response = client.post(
        "/admin/lrs/clients", data={"name": "No scopes", "organisation": "", "csrf_token": token}
    )
    assert response.status_code == 200
    assert 'id="new-key"' not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(LRSClient)).scalar_one() == 0
