"""Alternate request syntax (xAPI 1.0.3 Communication 1.3): POST ?method=X with a form body."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from lrs_helpers import make_statement, new_id

FORM = "application/x-www-form-urlencoded"


def alt(xapi, method: str, form: dict, version: str = "1.0.3", query: str | None = None):
    fields = {"X-Experience-API-Version": version, "Authorization": xapi.auth, **form}
    return xapi.client.post(
        f"/xapi/statements?{query or urlencode({'method': method})}",
        data=urlencode(fields),
        headers={"Content-Type": FORM},
    )


def test_put_and_get_through_the_alternate_syntax(app, xapi_103):
    statement_id = new_id()
    response = alt(xapi_103, "PUT", {"statementId": statement_id, "content": json.dumps(make_statement())})
    assert response.status_code == 204
    got = alt(xapi_103, "GET", {"statementId": statement_id})
    assert got.status_code == 200
    assert got.get_json()["id"] == statement_id
    listed = alt(xapi_103, "GET", {"limit": "1"})
    assert set(listed.get_json()) == {"statements", "more"}


def test_form_headers_override_request_headers(app, xapi_103):
    response = alt(
        xapi_103, "PUT", {"statementId": new_id(), "content": json.dumps(make_statement())}, version="0.8"
    )
    assert response.status_code == 400


def test_extra_query_parameters_are_refused(app, xapi_103):
    statement_id = new_id()
    response = alt(
        xapi_103,
        "PUT",
        {"statementId": statement_id, "content": json.dumps(make_statement())},
        query=urlencode({"method": "PUT", "statementId": statement_id}),
    )
    assert response.status_code == 400


def test_put_without_content_is_refused(app, xapi_103):
    assert alt(xapi_103, "PUT", {"statementId": new_id()}).status_code == 400


def test_body_that_is_not_a_form_is_refused(app, xapi_103):
    response = xapi_103.client.post(
        "/xapi/statements?method=PUT",
        data=json.dumps({"statementId": new_id()}),
        headers={"Content-Type": FORM, "Authorization": xapi_103.auth, "X-Experience-API-Version": "1.0.3"},
    )
    assert response.status_code == 400


def test_alternate_syntax_only_as_post(app, xapi_103):
    response = xapi_103.put(
        "statements",
        query={"method": "PUT"},
        data=urlencode({"content": "{}"}),
        headers={"Content-Type": FORM},
    )
    assert response.status_code == 400


def test_alternate_syntax_is_refused_in_xapi_2(app, xapi):
    response = alt(
        xapi, "PUT", {"statementId": new_id(), "content": json.dumps(make_statement())}, version="2.0.0"
    )
    assert response.status_code == 400
    assert "2.0" in response.get_json()["error"]["message"]


def test_documents_through_the_alternate_syntax(app, xapi_103):
    agent = json.dumps({"mbox": "mailto:learner@example.com"})
    params = {"activityId": "http://example.com/a", "agent": agent, "stateId": "s"}
    fields = {
        "X-Experience-API-Version": "1.0.3",
        "Authorization": xapi_103.auth,
        "Content-Type": "application/json",
        "content": json.dumps({"x": 1}),
        **params,
    }
    response = xapi_103.client.post(
        "/xapi/activities/state?method=PUT", data=urlencode(fields), headers={"Content-Type": FORM}
    )
    assert response.status_code == 204
    assert xapi_103.get("activities/state", query=params).get_json() == {"x": 1}
