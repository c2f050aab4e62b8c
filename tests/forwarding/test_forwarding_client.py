"""xapi.client.OutboundLRS against a scripted local HTTP server: what each kind of answer becomes."""
from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from xapi.client import CONFLICT, REJECT, RETRY, SENT, OutboundLRS


class Scripted:
    """Answers every request with ``(status, headers, body)`` from ``answer``; records what it received."""

    def __init__(self):
        self.answer = (204, {}, b"")
        self.received: list[tuple[str, str, dict, bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, Nagle's algorithm and the client's
            # delayed ACK stall every answer with a body by about 40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.received.append((self.command, self.path, dict(self.headers), body))
                status, headers, data = owner.answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/lrs/xapi"


@pytest.fixture
def scripted():
    server = Scripted()
    yield server
    server.server.shutdown()
    server.server.server_close()


def statement() -> dict:
    return {"id": str(uuid.uuid4()), "actor": {"account": {"homePage": "http://x", "name": "a"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"}, "object": {"id": "http://x/a"},
            "context": {"contextAgents": [{"objectType": "contextAgent",
                                           "agent": {"account": {"homePage": "http://x", "name": "b"}}}]}}


def test_put_sends_the_statement_as_is_with_auth_version_and_id(scripted):
    item = statement()
    with OutboundLRS(scripted.endpoint, "key", "sécret", version="2.0.0", timeout=5) as client:
        result = client.put_statement(item)
        again = client.put_statement(item)
    assert (result.outcome, result.status, again.outcome) == (SENT, 204, SENT)
    method, path, headers, body = scripted.received[0]
    assert method == "PUT" and path == f"/lrs/xapi/statements?statementId={item['id']}"
    assert headers["X-Experience-API-Version"] == "2.0.0"
    assert headers["Authorization"] == "Basic " + base64.b64encode("key:sécret".encode()).decode()
    assert json.loads(body) == item  # 2.0 properties (contextAgents) survive: no tincan round trip
    assert len(scripted.received) == 2


@pytest.mark.parametrize("status, headers, body, outcome, reason, retry_after", [
    (400, {}, json.dumps({"message": "bad verb"}).encode(), REJECT, "the target answered 400: bad verb", None),
    (400, {}, json.dumps({"error": {"status": 400, "message": "nested"}}).encode(), REJECT, "answered 400: nested", None),
    (409, {}, b"", CONFLICT, "answered 409", None),
    (429, {"Retry-After": "7"}, b"", RETRY, "slow down (429)", 7.0),
    (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"<h1>busy</h1>", RETRY, "answered 503: <h1>busy</h1>", None),
    (401, {}, b"", RETRY, "refused the credentials (401)", None),
    (302, {"Location": "https://elsewhere/"}, b"", RETRY, "redirects (302) to https://elsewhere/", None),
])
def test_answers_are_classified_with_a_reason(scripted, status, headers, body, outcome, reason, retry_after):
    scripted.answer = (status, headers, body)
    with OutboundLRS(scripted.endpoint, "k", "s") as client:
        result = client.put_statement(statement())
    assert (result.outcome, result.status, result.retry_after) == (outcome, status, retry_after)
    assert reason in result.error


def test_post_must_list_the_ids_back(scripted):
    items = [statement(), statement()]
    with OutboundLRS(scripted.endpoint, "k", "s") as client:
        scripted.answer = (200, {}, json.dumps([i["id"].upper() for i in items]).encode())
        assert client.post_statements(items).outcome == SENT
        scripted.answer = (200, {"Content-Type": "text/html"}, b"<html>welcome</html>")
        result = client.post_statements(items)
    assert result.outcome == RETRY and "without listing its statement ids: <html>welcome</html>" in result.error


def test_about_must_be_an_lrs_of_our_version(scripted):
    with OutboundLRS(scripted.endpoint, "k", "s", version="2.0.0") as client:
        scripted.answer = (200, {}, json.dumps({"version": ["1.0.3"]}).encode())
        result = client.check_about()
        assert result.outcome == RETRY and "does not speak xAPI 2.0.0 (it offers 1.0.3)" in result.error
        scripted.answer = (200, {}, json.dumps({"version": ["2.0.0", "1.0.3"]}).encode())
        assert client.check_about().outcome == SENT
        scripted.answer = (200, {}, b"\x00\x01binary")
        result = client.check_about()
    assert result.outcome == RETRY and "\x00" not in result.error and "not answer as an xAPI LRS" in result.error


def test_get_statement_falls_back_to_voided(scripted):
    item = statement()
    with OutboundLRS(scripted.endpoint, "k", "s") as client:
        scripted.answer = (404, {}, b"")
        result, found = client.get_statement(item["id"])
        assert found is None and result.outcome == REJECT and "found no statement" in result.error
        assert [r[1].split("?")[1].split("=")[0] for r in scripted.received] == ["statementId", "voidedStatementId"]
        scripted.answer = (200, {}, json.dumps(item).encode())
        result, found = client.get_statement(item["id"])
    assert result.outcome == SENT and found == item
