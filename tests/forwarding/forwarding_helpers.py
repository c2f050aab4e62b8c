"""Helpers of the forwarding tests: the second LRS, the fault proxy, statement builders, outbox reads."""
from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[2]
SOURCE_HOME = "http://localhost"  # BASE_URL of the test app: the homePage of pseudonymous accounts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SecondLRS:
    """Another instance of this service, reached over HTTP like any external LRS."""

    def __init__(self, port: int, key: str, secret: str):
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}/xapi/"
        self.key = key
        self.secret = secret

    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        auth = base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()
        all_headers = {"Authorization": f"Basic {auth}", "X-Experience-API-Version": "2.0.0", **(headers or {})}
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def put(self, statement: dict) -> int:
        status, _ = self._request("PUT", "/xapi/statements?" + urlencode({"statementId": statement["id"]}),
                                  json.dumps(statement).encode(), {"Content-Type": "application/json"})
        return status

    def get(self, statement_id: str) -> dict | None:
        status, body = self._request("GET", "/xapi/statements?" + urlencode({"statementId": statement_id}))
        return json.loads(body) if status == 200 else None

    def statements(self, registration: str) -> list[dict]:
        """Every statement of a registration, following ``more`` (duplicates would show as repeated ids)."""
        found: list[dict] = []
        path = "/xapi/statements?" + urlencode({"registration": registration, "limit": 500})
        while path:
            status, body = self._request("GET", path)
            assert status == 200, body[:300]
            result = json.loads(body)
            found.extend(result["statements"])
            path = result.get("more") or ""
        return found

    def ids(self, registration: str) -> list[str]:
        return [s["id"] for s in self.statements(registration)]


class FaultProxy:
    """An HTTP proxy in front of the second LRS that can fail on purpose.

    ``mode``: "pass", "500", "hang" (answers nothing until released), "garbage" (bytes that are not
    HTTP), "html" (200 with a web page for everything), "401", "409" (409 for PUT, GET passes).
    ``puts`` counts PUTs by statement id that reached the real target (and the ids of POSTed batches it
    stored): a count above 1 is a statement delivered twice while the target was up. ``delay`` slows each
    request; clearing ``gate`` holds every request until it is set; ``switch_after(n, mode)`` lets ``n``
    more statement writes (PUT/POST) through and then turns to ``mode``: a batch that fails part-way.
    """

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.mode = "pass"
        self.delay = 0.0
        self.puts: Counter[str] = Counter()
        self.requests = 0
        self.release = threading.Event()
        self.gate = threading.Event()  # cleared: every request waits (up to 30 s) until it is set again
        self.gate.set()
        self.lock = threading.Lock()
        self.switch: tuple[int, str] | None = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, Nagle's algorithm and the client's
            # delayed ACK stall every answer with a body by about 40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.gate.wait(30)
                with proxy.lock:
                    proxy.requests += 1
                    if proxy.switch is not None and self.command in ("PUT", "POST"):
                        writes, then = proxy.switch
                        if writes <= 0:
                            proxy.mode, proxy.switch = then, None
                        else:
                            proxy.switch = (writes - 1, then)
                if proxy.delay:
                    time.sleep(proxy.delay)
                mode = proxy.mode
                if mode == "hang":
                    proxy.release.wait(10)
                    self.close_connection = True
                    return
                if mode == "garbage":
                    self.wfile.write(b"\x00\xff\xfe garbage, not HTTP at all\r\n\r\n")
                    self.close_connection = True
                    return
                if mode in ("500", "html", "401") or (mode == "409" and self.command == "PUT"):
                    status = int(mode) if mode != "html" else 200
                    data = (b"<html><body>Welcome to our intranet</body></html>" if mode == "html"
                            else json.dumps({"message": f"injected {status}"}).encode())
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html" if mode == "html" else "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
                if self.command == "PUT" and 200 <= response.status < 300:
                    statement_id = parse_qs(urlsplit(self.path).query).get("statementId", [""])[0]
                    with proxy.lock:
                        proxy.puts[statement_id.lower()] += 1
                if self.command == "POST" and response.status == 200 and self.path.rstrip("/").endswith("statements"):
                    with proxy.lock:
                        for statement_id in json.loads(data):
                            proxy.puts[statement_id.lower()] += 1
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _guarded(self):
                try:
                    self._handle()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the worker went away (timeout or SIGKILL): expected here

            do_GET = do_PUT = do_POST = _guarded

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}/xapi/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def switch_after(self, writes: int, mode: str) -> None:
        with self.lock:
            self.switch = (writes, mode)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def make_statement(registration: str, n: int = 0, actor: dict | None = None, **extra) -> dict:
    statement = {
        "id": str(uuid.uuid4()),
        "actor": actor or {"objectType": "Agent", "account": {"homePage": SOURCE_HOME, "name": f"learner{n % 7}"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/progressed", "display": {"en-US": "progressed"}},
        "object": {"objectType": "Activity", "id": f"https://example.com/modules/m1/lessons/{n}"},
        "context": {"registration": registration,
                    "contextActivities": {"parent": [{"id": "https://example.com/modules/m1"}]}},
        "timestamp": "2026-11-26T10:00:00.000Z",
    }
    statement.update(extra)
    return statement


def swedish_texts() -> list[str]:
    """Ordinary Swedish course text beyond Latin-1 (and å ä ö, which Latin-1 holds but a Latin-1 body garbles):
    the bundled module b3's Swedish title with its en dash first."""
    import yaml

    module = yaml.safe_load((ROOT / "modules" / "b3-electrified-drivetrain" / "module.yaml").read_text("utf-8"))
    title = module["title"]["sv"]
    assert "\u2013" in title  # the en dash the issue is about
    return [title, "Leverantörens ’egna’ mål – före 2030", "Kostnad: 1 200 € per år och anställd",
            "Elbil 🚗⚡ i Sverige 🇸🇪", "Åsa, Ärla och Östen: å ä ö Å Ä Ö"]


def make_swedish_statement(registration: str, n: int = 0, **extra) -> dict:
    """A statement whose display texts, activity definition and response are full of non-Latin-1 text."""
    texts = swedish_texts()
    text = texts[n % len(texts)]
    statement = make_statement(registration, n, **extra)
    statement["verb"]["display"]["sv-SE"] = "gjorde framsteg – steg " + str(n)
    statement["object"]["definition"] = {"name": {"sv-SE": text, "en-US": f"Lesson {n} – “quoted” €"},
                                         "description": {"sv-SE": texts[(n + 1) % len(texts)]}}
    statement["result"] = {"response": texts[(n + 2) % len(texts)]}
    return statement


def outbox(app, target_id: int | None = None) -> list:
    import sqlalchemy as sa

    from lms_service.extensions import db
    from lms_service.forwarding.models import OutboxEntry

    with app.app_context():
        query = sa.select(OutboxEntry).order_by(OutboxEntry.id)
        if target_id is not None:
            query = query.where(OutboxEntry.target_id == target_id)
        rows = list(db.session.execute(query).scalars())
        db.session.expunge_all()
        return rows


def target_row(app, target_id: int):
    from lms_service.extensions import db
    from lms_service.forwarding.models import ForwardTarget

    with app.app_context():
        target = db.session.get(ForwardTarget, target_id)
        db.session.expunge(target)
        return target
