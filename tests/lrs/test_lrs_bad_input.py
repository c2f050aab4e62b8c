"""Bad input of every kind: a clear 4xx JSON error, nothing stored, never a 500."""

from __future__ import annotations

import base64
import json

import pytest
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


# -- values Python's json accepts but the store cannot hold or serve back (issue #14) ----------------

STATE = {"activityId": "http://example.com/a", "agent": '{"mbox": "mailto:a@example.com"}', "stateId": "s"}


def post_raw(xapi, text: str):
    return xapi.post("statements", data=text.encode(), headers={"Content-Type": "application/json"})


def statement_text(**replace: str) -> str:
    """A valid statement as JSON text, with placeholders swapped for raw JSON (NaN, escapes ...)."""
    statement = make_statement(result={"score": {"raw": "RAW"}, "extensions": {"http://example.com/e": "EXT"}})
    text = json.dumps(statement)
    for name, raw in replace.items():
        text = text.replace(f'"{name}"', raw)
    return text


@pytest.mark.parametrize(
    "replace, path",
    [
        ({"RAW": '"\\udc00"'}, "result.score.raw"),  # a string there is a type error; the surrogate comes first
        ({"EXT": '"caf\\udce9"'}, "result.extensions.http://example.com/e"),
        ({"EXT": '{"\\ud800": 1}'}, "result.extensions.http://example.com/e.\\ud800"),
        ({"RAW": "1" + "0" * 400}, "result.score.raw"),
        ({"RAW": "-1e400"}, "result.score.raw"),
        ({"EXT": "NaN"}, "result.extensions.http://example.com/e"),
        ({"EXT": "[1, Infinity]"}, "result.extensions.http://example.com/e[1]"),
        ({"EXT": "9" * 5000}, "result.extensions.http://example.com/e"),
    ],
    ids=["surrogate", "surrogate-in-text", "surrogate-key", "huge-int", "huge-float", "nan", "infinity",
         "past-int-str-limit"],
)
def test_unstorable_values_are_400_naming_their_path(app, xapi, replace, path):
    body = statement_text(**{"RAW": "5", "EXT": "1", **replace})
    error = assert_error(post_raw(xapi, body), 400)
    assert error["path"] == path, error
    assert stored_count(app) == 0
    as_batch = assert_error(post_raw(xapi, f"[{statement_text(RAW='5', EXT='1')}, {body}]"), 400)
    assert as_batch["path"] == "[1]." + path
    assert stored_count(app) == 0


def test_surrogate_pairs_are_characters_and_round_trip(app, xapi):
    body = statement_text(RAW="5", EXT='"\\ud83d\\ude00 \\u00e5"')
    response = post_raw(xapi, body)
    assert response.status_code == 200, response.data
    (statement_id,) = response.get_json()
    got = xapi.get("statements", query={"statementId": statement_id}).get_json()
    assert got["result"]["extensions"]["http://example.com/e"] == "\U0001f600 å"


def test_nesting_is_capped_with_the_path_of_the_first_level_too_deep(app, xapi):
    from xapi.jsontext import MAX_DEPTH

    def nested(containers: int) -> str:
        return statement_text(RAW="5", EXT="[" * (containers - 1) + "{}" + "]" * (containers - 1))

    # The extension value sits three containers down (statement, result, extensions).
    assert post_raw(xapi, nested(MAX_DEPTH - 3)).status_code == 200
    error = assert_error(post_raw(xapi, nested(MAX_DEPTH - 2)), 400)
    assert error["path"] == "result.extensions.http://example.com/e" + "[0]" * (MAX_DEPTH - 3)
    assert str(MAX_DEPTH) in error["message"]


def test_score_beyond_a_double_from_python_is_refused_by_validation():
    from xapi import validation
    from xapi.errors import XAPIValidationError

    statement = make_statement(result={"score": {"raw": 10**400, "max": 10**500}})
    with pytest.raises(XAPIValidationError) as error:
        validation.validate_statement(statement, "2.0.0")
    assert error.value.path == "result.score.max"


@pytest.mark.parametrize(
    "body, path",
    [
        (b'{"a": "\\udc00"}', "a"),
        (b'{"a": NaN}', "a"),
        (b'{"a": [1e999]}', "a[0]"),
        (b"[" * 100 + b"]" * 100, "[0]" * 64),
        (b'{"a": 1', ""),
    ],
)
def test_json_documents_must_be_storable_json(app, xapi, body, path):
    for method in ("PUT", "POST"):
        response = xapi.request(method, "activities/state", query=STATE, data=body,
                                headers={"Content-Type": "application/json"})
        assert assert_error(response, 400).get("path", "") == path
    assert xapi.get("activities/state", query=STATE).status_code == 404


def test_non_json_documents_round_trip_byte_for_byte(app, xapi):
    content = b'\xed\xb2\x80 {"a": NaN} \x00\xff'
    response = xapi.put("activities/state", query=STATE, data=content, headers={"Content-Type": "text/plain"})
    assert response.status_code == 204
    assert xapi.get("activities/state", query=STATE).data == content


def test_percent_escapes_that_are_not_utf8_are_400_naming_the_parameter(app, xapi):
    headers = {"Authorization": xapi.auth, "X-Experience-API-Version": "2.0.0"}
    for raw in ("stateId=%ED%B2%80", "stateId=ok%FF", "stateId=s&%C3=x"):
        response = xapi.client.put(
            f"/xapi/activities/state?activityId=http://example.com/a&agent=%7B%22mbox%22%3A%22mailto%3Aa%40b.c%22%7D"
            f"&{raw}",
            data=b"x",
            headers={**headers, "Content-Type": "text/plain"},
        )
        error = assert_error(response, 400)
        assert error["path"] in ("stateId", "\N{REPLACEMENT CHARACTER}"), error
    assert stored_documents(app) == 0


def stored_documents(app) -> int:
    from lms_service.lrs.models import Document

    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(Document)).scalar_one()


def test_agent_parameter_with_an_unpaired_surrogate(app, xapi):
    agent = '{"account": {"homePage": "http://example.com", "name": "\\udc00"}}'
    error = assert_error(xapi.put("agents/profile", query={"agent": agent, "profileId": "p"}, data=b"x",
                                  headers={"Content-Type": "text/plain", "If-None-Match": "*"}), 400)
    assert error["path"] == "agent.account.name"


def test_odd_limits_and_timestamps(app, xapi):
    assert_error(xapi.get("statements", query={"limit": "\N{SUPERSCRIPT TWO}"}), 400)  # isdigit() but not int()
    assert xapi.get("statements", query={"limit": "9" * 5000}).status_code == 200
    # Valid ISO 8601, but before the first moment UTC can hold (datetime raised OverflowError).
    assert_error(xapi.get("statements", query={"since": "0001-01-01T00:00:00+01:00"}), 400)
    late = make_statement(timestamp="9999-12-31T23:59:59-01:00")
    assert assert_error(xapi.post_statements(late), 400)["path"] == "[0].timestamp"
    assert stored_count(app) == 0


def test_forged_more_tokens_are_400(app, xapi):
    for data in ({"after_pk": 1, "after_stored": 1, "limit": "x"}, {"after_pk": 1, "after_stored": 10**30},
                 [[[[[]]]]]):
        token = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
        assert_error(xapi.get(f"statements/more/{token}"), 400)
    for statement_id in (new_id(), new_id()):
        xapi.put("statements", query={"statementId": statement_id}, json_body=make_statement())
    more = xapi.get("statements", query={"limit": "1"}).get_json()["more"]
    assert xapi.get(more.removeprefix("/xapi/")).status_code == 200


def test_nul_in_the_basic_key_is_401(app, client):
    garbage = "Basic " + base64.b64encode(b"\x00key:\x00").decode()
    response = client.get("/xapi/statements", headers={"Authorization": garbage, "X-Experience-API-Version": "2.0.0"})
    assert_error(response, 401)


def test_alternate_syntax_header_fields_must_be_header_values(app, xapi_103):
    from urllib.parse import urlencode

    for content_type in ("text/plain\r\nSet-Cookie: a=b", "text/\N{EURO SIGN}"):
        form = {"X-Experience-API-Version": "1.0.3", "Authorization": xapi_103.auth, "content": "abc",
                "Content-Type": content_type, "If-None-Match": "*", "activityId": "http://example.com/a",
                "profileId": "p"}
        response = xapi_103.client.post("/xapi/activities/profile?method=PUT", data=urlencode(form),
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert assert_error(response, 400)["path"] == "Content-Type"
    not_utf8 = xapi_103.client.post("/xapi/activities/profile?method=PUT", data="content=%ED%B2%80",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(not_utf8, 400)
    assert stored_documents(app) == 0
