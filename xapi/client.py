"""The outbound LRS client: sends stored statements to an external Learning Record Store.

Framework-free (no Flask, no lms_service). Built on tincan's ``RemoteLRS`` (its request and response
types, Basic auth string and endpoint handling) with what forwarding needs and ``RemoteLRS`` lacks:

- an explicit timeout on every connect and read, and one kept-alive connection per client;
- xAPI 2.0.0 as well as 1.0.x in the version header;
- the statement JSON sent exactly as given (a round trip through tincan's object model would drop
  2.0 properties such as ``contextAgents``), as one PUT per statement id so a resend is harmless, or
  as one POST of a batch whose statements all carry their ids (just as harmless, and fewer requests);
- attachments as multipart/mixed;
- every body sent as UTF-8 bytes: tincan's ``HTTPRequest`` decodes a bytes body back to ``str``, and
  ``http.client`` encodes a ``str`` body as Latin-1, which fails on an en dash, ’, € or an emoji (and
  would garble å, ä, ö, which Latin-1 does hold); the request line and headers are kept ASCII too;
- every answer classified as ``SENT``, ``RETRY``, ``REJECT`` or ``CONFLICT`` with a readable reason,
  and never an exception for anything the target does (refused connection, timeout, garbage);
  a statement that cannot be written as JSON at all raises :class:`StatementNotSendable`.
"""
from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from tincan import RemoteLRS
from tincan.http_request import HTTPRequest
from tincan.lrs_response import LRSResponse

from .multipart import build_multipart_mixed

__all__ = [
    "CONFLICT",
    "REJECT",
    "RETRY",
    "SENT",
    "EndpointError",
    "OutboundLRS",
    "SendResult",
    "StatementNotSendable",
    "classify_status",
    "printable",
    "statement_json",
    "validate_endpoint",
]

SENT = "sent"
RETRY = "retry"  # the target (not the statement) has a problem: try again later
REJECT = "reject"  # the target refused this statement: retrying cannot help
CONFLICT = "conflict"  # 409: the target holds a statement with this id already

VERSIONS = ("2.0.0", "1.0.3")

# 4xx answers that describe the target or our credential, not the statement: retried with backoff
# so that fixing the credential or the URL delivers everything without touching each statement.
_TARGET_PROBLEMS = {
    401: "the target refused the credentials (401): check the key and secret",
    403: "the target refused access (403): the credential may lack the statements/write scope",
    404: "the target has no statements resource at this endpoint (404): check the endpoint URL",
    405: "the target does not accept this method at this endpoint (405): check the endpoint URL",
    407: "a proxy asked for credentials (407)",
    408: "the target timed out reading the request (408)",
    429: "the target asked us to slow down (429)",
}


class EndpointError(ValueError):
    """An endpoint URL that cannot be used (not http or https, no host, credentials in the URL ...)."""


class StatementNotSendable(ValueError):
    """A statement that no target could ever receive as it is (no id, or text that is not valid Unicode
    such as a lone surrogate): resending cannot help, so forwarding makes it a dead letter with this reason."""


def statement_json(statement: Any) -> bytes:
    """A statement (or a list of them) as the UTF-8 JSON document sent to a target.

    Raises :class:`StatementNotSendable` when it cannot be written as JSON: NaN or Infinity (not JSON),
    a value JSON has no type for, or a string holding a lone surrogate (no UTF-8 for it).
    """
    try:
        return json.dumps(statement, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError as error:
        bad = error.object[error.start:error.end]
        raise StatementNotSendable(
            f"the statement holds text that is not valid Unicode ({bad!a} at character {error.start} of its "
            "JSON) and cannot be sent as UTF-8") from None
    except (TypeError, ValueError) as error:
        raise StatementNotSendable(f"the statement cannot be written as JSON: {printable(str(error), 200)}") from None


def validate_endpoint(url: str) -> str:
    """Check an LRS endpoint URL and return it normalised with a trailing slash.

    Only ``http`` and ``https`` URLs with a host are accepted; credentials, a query or a fragment in
    the URL are refused (the key and secret are configured separately and never logged).
    """
    text = (url or "").strip()
    if not text:
        raise EndpointError("the endpoint URL is required")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise EndpointError(f"the endpoint URL is not valid: {error}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise EndpointError("the endpoint URL must start with http:// or https://")
    if not parts.hostname:
        raise EndpointError("the endpoint URL has no host name")
    if parts.username or parts.password:
        raise EndpointError("put the key and secret in their own fields, not in the endpoint URL")
    if parts.query or parts.fragment:
        raise EndpointError("the endpoint URL must not have a query (?...) or a fragment (#...)")
    if port == 0:
        raise EndpointError("the endpoint URL has an invalid port")
    return text if text.endswith("/") else text + "/"


def classify_status(status: int) -> str:
    """What an HTTP status from a statements PUT/POST means for forwarding (SENT, RETRY, REJECT, CONFLICT)."""
    if 200 <= status < 300:
        return SENT
    if status == 409:
        return CONFLICT
    if status in _TARGET_PROBLEMS or status >= 500 or status < 200 or 300 <= status < 400:
        return RETRY
    return REJECT


@dataclass(frozen=True)
class SendResult:
    """The outcome of one request: ``outcome`` is SENT, RETRY, REJECT or CONFLICT.

    ``status`` is the HTTP status, or None when no valid HTTP answer came (refused, timeout, garbage);
    ``error`` is a readable reason ('' when sent); ``retry_after`` the seconds a 429/503 asked for.
    """

    outcome: str
    status: int | None = None
    error: str = ""
    retry_after: float | None = None
    data: bytes = b""


def printable(text: str, limit: int = 300) -> str:
    """Foreign text made safe to store and log: control characters (NUL ...) replaced, whitespace folded."""
    cleaned = "".join(c if c.isprintable() else " " for c in text)
    cleaned = " ".join(cleaned.split())
    # The ellipsis counts: callers store the result in columns of ``limit`` characters.
    return cleaned if len(cleaned) <= limit else cleaned[:max(limit - 1, 0)] + "…"


def _reason_from_body(data: bytes, limit: int = 300) -> str:
    """The message of an error answer: xAPI LRSs answer JSON with a message, others plain text or HTML."""
    text = data.decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for candidate in (parsed.get("message"), (parsed.get("error") or {}).get("message")
                          if isinstance(parsed.get("error"), dict) else parsed.get("error"), parsed.get("detail")):
            if isinstance(candidate, str) and candidate.strip():
                text = candidate.strip()
                break
    return printable(text, limit)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date: our own backoff is good enough
    return seconds if 0 <= seconds <= 24 * 3600 else None


class _Answer:
    """What came back: status, headers and raw body (tincan's LRSResponse decodes the body, we keep bytes)."""

    __slots__ = ("data", "headers", "status")

    def __init__(self, status: int, headers: http.client.HTTPMessage, data: bytes):
        self.status = status
        self.headers = headers
        self.data = data


class _Request(HTTPRequest):
    """tincan's HTTPRequest whose ``content`` stays bytes.

    tincan's setter decodes a bytes body to ``str``; ``http.client`` would then encode it as Latin-1,
    failing on any character beyond it and garbling the ones it holds, and a binary attachment in a
    multipart body would not even decode. A ``str`` given here is encoded as UTF-8 at once.
    """

    @property
    def content(self) -> bytes | None:
        """The request body as the bytes that go on the wire."""
        return self._content

    @content.setter
    def content(self, value: bytes | str | None) -> None:
        self._content = value.encode("utf-8") if isinstance(value, str) else value


def _ascii_header(name: str, value: Any) -> str:
    # http.client encodes header values as Latin-1; anything beyond ASCII in a header is our own bug
    # (the credentials are base64, the media types ours), so say which header instead of failing inside it.
    text = str(value)
    if not text.isascii():
        raise ValueError(f"the {name} header of a request to the target must be ASCII, got {text!a}")
    return text


class OutboundLRS(RemoteLRS):
    """A RemoteLRS with an explicit timeout, a kept-alive connection and xAPI 2.0.0.

    ``OutboundLRS(endpoint, key, secret, version="2.0.0", timeout=10.0)``. Not thread-safe: one per
    worker thread. Call :meth:`close` when done (or use it as a context manager).
    """

    _props = [*RemoteLRS._props, "timeout", "connection", "last_answer"]

    _connection: http.client.HTTPConnection | None
    _last_answer: _Answer | None

    def __init__(self, endpoint: str, key: str, secret: str, version: str = "2.0.0", timeout: float = 10.0):
        self._timeout = float(timeout)
        self._connection = None
        self._last_answer = None
        # RemoteLRS would build the Basic credentials as ASCII and fail on a secret like "sécret";
        # RFC 7617 says UTF-8.
        token = base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")
        super().__init__(endpoint=validate_endpoint(endpoint), auth=f"Basic {token}", version=version)

    # tincan only knows 1.0.x; the forwarder speaks both versions this service does.
    @property
    def version(self) -> str:
        """The xAPI version sent in X-Experience-API-Version ("2.0.0" or "1.0.3")."""
        return self._version

    @version.setter
    def version(self, value: str | None) -> None:
        if value is None:
            value = VERSIONS[0]
        if value not in VERSIONS:
            raise ValueError(f"xAPI version must be one of {', '.join(VERSIONS)}, got {value!r}")
        self._version = value

    @property
    def timeout(self) -> float:
        """Seconds allowed for the connection and for each read."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: float) -> None:
        if not value or float(value) <= 0:
            raise ValueError("the timeout must be a positive number of seconds")
        self._timeout = float(value)

    @property
    def connection(self):
        """The kept-alive HTTP connection, or None before the first request and after an error."""
        return self._connection

    @connection.setter
    def connection(self, value) -> None:
        self._connection = value

    @property
    def last_answer(self):
        """Status, headers and raw body of the latest answer."""
        return self._last_answer

    @last_answer.setter
    def last_answer(self, value) -> None:
        self._last_answer = value

    def __enter__(self) -> OutboundLRS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the kept-alive connection (a later request opens a new one)."""
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    # ------------------------------------------------------------------ transport

    def _open(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.endpoint)
        host = parts.hostname or ""  # validate_endpoint guarantees a host
        if parts.scheme.lower() == "https":
            return http.client.HTTPSConnection(host, parts.port, timeout=self._timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(host, parts.port, timeout=self._timeout)

    def _path(self, request: HTTPRequest) -> str:
        # An endpoint path such as /xapi/lärande/ is sent percent-encoded: http.client writes the request
        # line as ASCII. Escapes already in the URL (%2F ...) are kept as they are.
        base = quote(urlsplit(self.endpoint).path or "/", safe="/%:@!$&'()*+,;=~")
        path = base + quote(request.resource, safe="/%:@!$&'()*+,;=~")
        if request.query_params:
            path += "?" + "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}"
                                   for k, v in request.query_params.items())
        return path

    def _send_request(self, request: HTTPRequest) -> LRSResponse:
        """RemoteLRS's transport, replaced: explicit timeout, keep-alive, one retry on a stale connection.

        Raises OSError or http.client.HTTPException when no valid HTTP answer arrives; the public
        methods below turn those into a RETRY result.
        """
        headers = {"X-Experience-API-Version": self.version, "Authorization": self.auth}
        headers.update(request.headers or {})
        headers = {name: _ascii_header(name, value) for name, value in headers.items()}
        body = request.content
        if isinstance(body, str):
            # A plain tincan HTTPRequest (RemoteLRS's own methods): UTF-8, never http.client's Latin-1.
            body = body.encode("utf-8")
        path = self._path(request)
        for attempt in (0, 1):
            reused = self._connection is not None
            connection = self._connection or self._open()
            self._connection = connection
            try:
                connection.request(request.method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                # A kept-alive connection the server closed meanwhile: one fresh attempt. Every request
                # here is idempotent (GET, PUT by id, POST of statements with ids).
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:
                self.close()
                raise
            if response.will_close:
                self.close()
            answer = _Answer(response.status, response.headers, data)
            self._last_answer = answer
            return LRSResponse(success=200 <= response.status < 300, request=request, response=response,
                               data=data.decode("utf-8", "replace"))
        raise RuntimeError("unreachable")  # pragma: no cover

    def _exchange(self, request: HTTPRequest) -> tuple[_Answer | None, str]:
        """Send and return (answer, '') or (None, reason) when no valid HTTP answer came."""
        try:
            self._send_request(request)
        except TimeoutError:
            return None, f"no answer within the timeout of {self._timeout:g} s"
        except ConnectionRefusedError:
            return None, "connection refused: the target is down or the port is wrong"
        except ssl.SSLError as error:
            return None, f"TLS error: {printable(str(error.reason or error))}"
        except socket.gaierror as error:
            return None, f"the host name cannot be resolved: {error.strerror or error}"
        except http.client.HTTPException as error:
            return None, f"the target's answer is not valid HTTP ({type(error).__name__}: {printable(str(error), 100)})"
        except OSError as error:
            return None, f"network error: {printable(str(error.strerror or error))}"
        return self._last_answer, ""

    def _result(self, answer: _Answer) -> SendResult:
        outcome = classify_status(answer.status)
        if outcome == SENT:
            return SendResult(SENT, answer.status, "", None, answer.data)
        reason = _TARGET_PROBLEMS.get(answer.status)
        detail = _reason_from_body(answer.data)
        if reason is None:
            if 300 <= answer.status < 400:
                reason = (f"the target redirects ({answer.status}) to {answer.headers.get('Location', '?')}; "
                          "set the endpoint to the final URL")
            else:
                reason = f"the target answered {answer.status}"
        if detail:
            reason = f"{reason}: {detail}"
        return SendResult(outcome, answer.status, reason, _retry_after(answer.headers.get("Retry-After")), answer.data)

    # ------------------------------------------------------------------ xAPI resources

    def check_about(self) -> SendResult:
        """GET about: SENT when the endpoint answers as an xAPI LRS that speaks our version, else RETRY.

        A web server that answers 200 to anything would otherwise swallow every statement.
        """
        answer, error = self._exchange(_Request(method="GET", resource="about", headers={}, query_params={}))
        if answer is None:
            return SendResult(RETRY, None, error)
        if not 200 <= answer.status < 300:
            result = self._result(answer)
            return SendResult(RETRY, answer.status, f"GET about: {result.error}", result.retry_after)
        try:
            about = json.loads(answer.data)
        except ValueError:
            about = None
        versions = about.get("version") if isinstance(about, dict) else None
        if not isinstance(versions, list):
            return SendResult(RETRY, answer.status,
                              "the endpoint does not answer as an xAPI LRS (GET about gave no version list): "
                              + (_reason_from_body(answer.data, 120) or "empty answer"))
        if not any(isinstance(v, str) and v.split(".")[:2] == self.version.split(".")[:2] for v in versions):
            offered = printable(", ".join(map(str, versions)), 100)
            return SendResult(RETRY, answer.status,
                              f"the target does not speak xAPI {self.version} (it offers {offered})")
        return SendResult(SENT, answer.status)

    def put_statement(self, statement: dict[str, Any],
                      attachments: Iterable[tuple[str, str, bytes]] = ()) -> SendResult:
        """PUT one statement by its id (multipart/mixed when attachment contents are given)."""
        statement_id = statement.get("id")
        if not isinstance(statement_id, str) or not statement_id:
            raise StatementNotSendable("the statement needs an id to be PUT")
        document = statement_json(statement)
        request = _Request(method="PUT", resource="statements", headers={},
                           query_params={"statementId": statement_id})
        attachments = list(attachments)
        if attachments:
            request.content, request.headers["Content-Type"] = build_multipart_mixed(document, attachments)
        else:
            request.content = document
            request.headers["Content-Type"] = "application/json"
        answer, error = self._exchange(request)
        if answer is None:
            return SendResult(RETRY, None, error)
        return self._result(answer)

    def post_statements(self, statements: list[dict[str, Any]]) -> SendResult:
        """POST a batch of statements that all carry ids; SENT only when the target lists those ids back."""
        if not statements or not all(isinstance(s.get("id"), str) for s in statements):
            raise StatementNotSendable("every statement of a batch needs an id")
        request = _Request(method="POST", resource="statements", headers={"Content-Type": "application/json"},
                           query_params={}, content=statement_json(statements))
        answer, error = self._exchange(request)
        if answer is None:
            return SendResult(RETRY, None, error)
        result = self._result(answer)
        if result.outcome != SENT:
            return result
        try:
            ids = json.loads(answer.data)
        except ValueError:
            ids = None
        expected = [s["id"].lower() for s in statements]
        if not isinstance(ids, list) or [str(i).lower() for i in ids] != expected:
            return SendResult(RETRY, answer.status, "the target answered the batch without listing its statement "
                              "ids: " + (_reason_from_body(answer.data, 120) or "empty answer"))
        return result

    def get_statement(self, statement_id: str) -> tuple[SendResult, dict[str, Any] | None]:
        """GET one statement by id (voided or not); the result and the statement when it was found."""
        for param in ("statementId", "voidedStatementId"):
            request = _Request(method="GET", resource="statements", headers={},
                               query_params={param: statement_id})
            answer, error = self._exchange(request)
            if answer is None:
                return SendResult(RETRY, None, error), None
            if answer.status == 404:
                continue  # not there, or voided: a voided statement is only found by voidedStatementId
            result = self._result(answer)
            if result.outcome != SENT:
                return result, None
            try:
                statement = json.loads(answer.data)
            except ValueError:
                statement = None
            if not isinstance(statement, dict):
                return SendResult(RETRY, answer.status, "the target's statement is not a JSON object"), None
            return result, statement
        return SendResult(REJECT, 404, "the target answered 409 but then found no statement with this id"), None
