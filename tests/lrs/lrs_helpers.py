"""Helpers shared by the LRS tests: an xAPI test client, statement builders, the CSRF token of a form."""

from __future__ import annotations

import base64
import json
import uuid

from tests.conftest import csrf_token  # noqa: E402,F401  (the one helper the whole suite uses)


class XAPIClient:
    """A Flask test client speaking xAPI: Basic auth and X-Experience-API-Version on every request."""

    def __init__(self, client, key: str, secret: str, version: str = "2.0.0"):
        self.client = client
        self.auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
        self.version = version

    def request(self, method: str, path: str, *, json_body=None, data=None, headers=None, query=None, **kw):
        all_headers = {"Authorization": self.auth, "X-Experience-API-Version": self.version}
        all_headers.update(headers or {})
        for name in [n for n, v in all_headers.items() if v is None]:
            del all_headers[name]
        if json_body is not None:
            data = json.dumps(json_body)
            all_headers.setdefault("Content-Type", "application/json")
        return self.client.open(
            f"/xapi/{path}", method=method, data=data, headers=all_headers, query_string=query, **kw
        )

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def post_statements(self, statements):
        return self.post("statements", json_body=statements)


def make_statement(
    actor: str = "learner@example.com",
    verb: str = "http://adlnet.gov/expapi/verbs/completed",
    activity: str = "http://example.com/activities/module-1",
    **extra,
) -> dict:
    statement = {
        "actor": {"objectType": "Agent", "mbox": f"mailto:{actor}"},
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": {"objectType": "Activity", "id": activity},
    }
    statement.update(extra)
    return statement


def new_id() -> str:
    return str(uuid.uuid4())
