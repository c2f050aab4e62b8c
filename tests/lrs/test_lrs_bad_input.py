"""Bad input of every kind: a clear 4xx JSON error, nothing stored, never a 500."""

from __future__ import annotations

import base64

import sqlalchemy as sa
from lrs_helpers import XAPIClient, make_statement, new_id

from lms_service.extensions import db
from lms_service.lrs.models import Statement


def stored_count(app) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(Statement)).scalar_one()


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.data[:300])
    body = response.get_json()
    assert body["error"]["status"] == status
    assert body["error"]["message"]
    return body["error"]


def test_malformed_json(app, xapi):
    response = xapi.post("statements", data=b'{"actor": ', headers={"Content-Type": "application/json"})
    assert_error(response, 400)
    assert stored_count(app) == 0


def test_invalid_utf8_body(app, xapi):
    response = xapi.post("statements", data=b"\xff\xfe{}", headers={"Content-Type": "application/json"})
    assert_error(response, 400)


def test_wrong_content_type(app, xapi):
    response = xapi.post("statements", data=b"actor=x", headers={"Content-Type": "text/plain"})
    assert "Content-Type" in assert_error(response, 400)["message"]
    assert stored_count(app) == 0


def test_broken_multipart(app, xapi):
    body = b"--abc\r\nContent-Type: application/json\r\n\r\n{not json\r\n--abc--\r\n"
    response = xapi.post("statements", data=body, headers={"Content-Type": "multipart/mixed; boundary=abc"})
    assert_error(response, 400)
    missing_boundary = xapi.post("statements", data=body, headers={"Content-Type": "multipart/mixed"})
    assert_error(missing_boundary, 400)
    assert stored_count(app) == 0


def test_body_over_the_limit_is_413(app, make_app, make_credential):
    small = make_app(LRS_MAX_BODY_BYTES=200)
    key, secret = make_credential("all")
    xapi = XAPIClient(small.test_client(), key, secret)
    statement = make_statement(result={"response": "x" * 500})
    response = xapi.post_statements(statement)
    assert_error(response, 413)
    assert stored_count(app) == 0


def test_unknown_parameter(app, xapi):
    assert_error(xapi.get("statements", query={"colour": "red"}), 400)
    assert_error(xapi.post("statements", query={"statementId": new_id()}, json_body=make_statement()), 400)


def test_repeated_parameter(app, xapi):
    response = xapi.client.get(
        "/xapi/statements?verb=http://a.example/v&verb=http://b.example/v",
        headers={"Authorization": xapi.auth, "X-Experience-API-Version": "2.0.0"},
    )
    assert "more than once" in assert_error(response, 400)["message"]


def test_bad_parameter_values(app, xapi):
    for query in (
        {"limit": "-1"},
        {"limit": "many"},
        {"since": "yesterday"},
        {"format": "pretty"},
        {"ascending": "yes"},
        {"agent": "{not json"},
        {"agent": '{"name": "no ifi"}'},
        {"verb": "not an iri"},
        {"registration": "123"},
        {"statementId": "nope"},
        {"statementId": new_id(), "verb": "http://example.com/v"},
    ):
        assert_error(xapi.get("statements", query=query), 400)


def test_missing_credentials_is_401_with_challenge(app, client):
    response = client.get("/xapi/statements", headers={"X-Experience-API-Version": "2.0.0"})
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_wrong_secret_is_401(app, client, make_credential):
    key, _secret = make_credential("all")
    xapi = XAPIClient(client, key, "wrong-secret")
    response = xapi.post_statements(make_statement())
    assert_error(response, 401)
    assert "WWW-Authenticate" in response.headers
    assert stored_count(app) == 0


def test_garbage_authorization_header_is_401(app, client):
    for header in ("Basic !!!", "Bearer abc", "Basic " + base64.b64encode(b"\xff\xfe").decode()):
        response = client.get(
            "/xapi/statements", headers={"Authorization": header, "X-Experience-API-Version": "2.0.0"}
        )
        assert_error(response, 401)


def test_revoked_credential_is_401(app, client, make_credential):
    from lms_service.lrs.clients import revoke_client

    key, secret = make_credential("all")
    with app.app_context():
        revoke_client(key)
    assert_error(XAPIClient(client, key, secret).get("statements"), 401)


def test_missing_scope_is_403(app, client, make_credential):
    reader = XAPIClient(client, *make_credential("statements/read"))
    assert_error(reader.post_statements(make_statement()), 403)
    writer = XAPIClient(client, *make_credential("statements/write"))
    assert_error(writer.get("statements"), 403)
    state_only = XAPIClient(client, *make_credential("state"))
    assert_error(
        state_only.put(
            "activities/profile", query={"activityId": "http://example.com/a", "profileId": "p"}, json_body={}
        ),
        403,
    )
    assert stored_count(app) == 0


def test_all_read_reads_but_does_not_write(app, client, make_credential):
    reader = XAPIClient(client, *make_credential("all/read"))
    assert reader.get("statements").status_code == 200
    assert_error(reader.post_statements(make_statement()), 403)


def test_missing_or_unknown_version_header(app, xapi):
    assert_error(xapi.get("statements", headers={"X-Experience-API-Version": None}), 400)
    assert_error(xapi.get("statements", headers={"X-Experience-API-Version": "0.95"}), 400)


def test_unknown_resource_and_method(app, xapi):
    assert_error(xapi.get("nothing-here"), 404)
    assert_error(xapi.delete("statements"), 405)
    assert_error(xapi.post("activities", json_body={}), 405)


def test_statement_that_is_not_an_object(app, xapi):
    assert_error(xapi.post_statements([1, 2]), 400)
    assert_error(xapi.post_statements([]), 400)
    assert_error(xapi.put("statements", query={"statementId": new_id()}, json_body=[make_statement()]), 400)


def test_deeply_nested_json_is_400(app, xapi):
    deep = b"[" * 100_000 + b"]" * 100_000
    assert_error(xapi.post("statements", data=deep, headers={"Content-Type": "application/json"}), 400)
    agent = "[" * 100_000 + "]" * 100_000
    assert_error(xapi.get("statements", query={"agent": agent}), 400)
    document = xapi.post(
        "activities/state",
        query={
            "activityId": "http://example.com/a",
            "stateId": "s",
            "agent": '{"mbox": "mailto:a@example.com"}',
        },
        data=deep,
        headers={"Content-Type": "application/json"},
    )
    assert_error(document, 400)


def test_revocation_reaches_other_processes_within_the_cache_window(
    app, client, make_credential, monkeypatch
):
    from lms_service.lrs import clients

    key, secret = make_credential("all")
    xapi = XAPIClient(client, key, secret)
    assert xapi.get("statements").status_code == 200
    with app.app_context():  # revoke as another worker process would: no cache clearing here
        from lms_service.lrs.models import LRSClient, utcnow

        row = db.session.execute(sa.select(LRSClient).where(LRSClient.key == key)).scalar_one()
        row.revoked = utcnow()
        db.session.commit()
    assert xapi.get("statements").status_code == 200  # still cached in this process
    monkeypatch.setattr(clients, "AUTH_CACHE_SECONDS", 0.0)
    assert_error(xapi.get("statements"), 401)
