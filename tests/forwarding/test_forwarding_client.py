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


# ---------------------------------------------------------------------- text beyond Latin-1 (issue #14)

SWEDISH = "Elektrifierad drivlina – vad betyder den för leverantören? ’citat’ 1 200 € 🚗⚡ å ä ö Å Ä Ö"


def swedish_statement() -> dict:
    item = statement()
    item["verb"]["display"] = {"sv-SE": SWEDISH}
    item["object"]["definition"] = {"name": {"sv-SE": SWEDISH}}
    return item


def test_put_and_post_send_non_latin1_text_as_utf8(scripted):
    items = [swedish_statement(), swedish_statement()]
    with OutboundLRS(scripted.endpoint, "k", "s") as client:
        assert client.put_statement(items[0]).outcome == SENT
        scripted.answer = (200, {}, json.dumps([i["id"] for i in items]).encode())
        assert client.post_statements(items).outcome == SENT
    (_, _, put_headers, put_body), (_, _, post_headers, post_body) = scripted.received
    assert put_body.decode("utf-8") == json.dumps(items[0], ensure_ascii=False, separators=(",", ":"))
    assert json.loads(put_body.decode("utf-8")) == items[0] and json.loads(post_body.decode("utf-8")) == items
    # The length is of the UTF-8 bytes (a str body would have been measured, and sent, as Latin-1).
    assert int(put_headers["Content-Length"]) == len(put_body) > len(json.dumps(items[0], ensure_ascii=False))


def test_multipart_keeps_utf8_json_and_binary_attachments(scripted):
    import hashlib

    from xapi.multipart import parse_multipart_mixed

    content = bytes(range(256)) * 4  # not UTF-8: tincan's request would have failed to decode it
    sha2 = hashlib.sha256(content).hexdigest()
    item = swedish_statement()
    item["attachments"] = [{"usageType": "https://example.com/usage", "display": {"sv-SE": "Intyg – PDF"},
                            "contentType": "application/pdf", "length": len(content), "sha2": sha2}]
    with OutboundLRS(scripted.endpoint, "k", "s") as client:
        assert client.put_statement(item, [(sha2, "application/pdf", content)]).outcome == SENT
    _, _, headers, body = scripted.received[0]
    document, parts = parse_multipart_mixed(body, headers["Content-Type"])
    assert document == item and parts[sha2].content == content


def test_get_statement_and_about_read_non_latin1_answers(scripted):
    item = swedish_statement()
    with OutboundLRS(scripted.endpoint, "k", "s") as client:
        scripted.answer = (200, {"Content-Type": "application/json"}, json.dumps(item, ensure_ascii=False).encode())
        result, found = client.get_statement(item["id"])
        assert result.outcome == SENT and found == item
        scripted.answer = (200, {}, json.dumps({"version": ["2.0.0"], "extensions": {"x": SWEDISH}},
                                               ensure_ascii=False).encode())
        assert client.check_about().outcome == SENT
        scripted.answer = (400, {}, json.dumps({"message": f"felaktigt – {SWEDISH}"}, ensure_ascii=False).encode())
        result = client.put_statement(item)
    assert result.outcome == REJECT and "felaktigt – Elektrifierad" in result.error


def test_an_endpoint_path_beyond_ascii_is_percent_encoded(scripted):
    with OutboundLRS(scripted.endpoint + "/lärande–€/", "k", "s") as client:
        assert client.put_statement(statement()).outcome == SENT
    assert scripted.received[0][1].startswith("/lrs/xapi/l%C3%A4rande%E2%80%93%E2%82%AC/statements?statementId=")


def test_tincans_own_methods_send_utf8_too(scripted):
    # RemoteLRS's inherited methods build plain tincan requests with a str body.
    from tincan import Activity, Agent, StateDocument

    document = StateDocument(id="bokmärke", activity=Activity(id="http://x/a"), agent=Agent(mbox="mailto:a@example.se"),
                             content=SWEDISH, content_type="text/plain; charset=utf-8")
    with OutboundLRS(scripted.endpoint, "k", "s") as client:
        assert client.save_state(document).success
    assert scripted.received[0][3] == SWEDISH.encode("utf-8")


@pytest.mark.parametrize("change, reason", [
    ({"result": {"response": "fel \ud800 här"}}, "not valid Unicode ('\\ud800' at character"),
    ({"result": {"extensions": {"http://x/e": float("nan")}}}, "cannot be written as JSON"),
    ({"id": None}, "needs an id"),
])
def test_a_statement_that_cannot_be_written_raises_statement_not_sendable(scripted, change, reason):
    from xapi.client import StatementNotSendable

    item = {**statement(), **change}
    with OutboundLRS(scripted.endpoint, "k", "s") as client:
        with pytest.raises(StatementNotSendable, match=reason.replace("(", r"\(").replace("\\u", "\\\\u")):
            client.put_statement(item)
        if item["id"]:
            with pytest.raises(StatementNotSendable, match="not valid Unicode|cannot be written as JSON"):
                client.post_statements([statement(), item])
    assert scripted.received == []  # nothing half-sent


def test_printable_stays_within_its_limit():
    from xapi.client import printable

    assert len(printable("å" * 2000, 1000)) == 1000 and printable("å" * 2000, 1000).endswith("…")
    assert printable("kort – text", 1000) == "kort – text"
