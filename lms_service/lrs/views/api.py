"""The xAPI resources under /xapi/: Statements, State, Activity/Agent Profile, Activities, Agents, About.

Each request is first reduced to an ``XRequest`` (method, parameters, headers, body), so the alternate
request syntax of xAPI 1.0.3 (a POST with ``?method=...`` and a form body) runs through the very same
handlers. Views are thin: parse and check parameters here, then call the services.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote_to_bytes

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from xapi import jsontext, timeutil, validation, versions
from xapi.errors import UnsupportedVersion, XAPIValidationError

from .. import documents as docs
from .. import query as queries
from ..clients import Credential, authenticate
from ..ingest import (
    MAX_DOCUMENT_ID_BYTES,
    MAX_IFI_BYTES,
    MAX_IRI_BYTES,
    IngestError,
    ingest_statements,
    too_long,
)

bp = Blueprint("lrs_api", __name__, url_prefix="/xapi")

DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024
ABOUT_VERSIONS = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"]
HEADER_FIELDS = {
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
}
READ_ANY = {"all", "all/read", "statements/read", "statements/read/mine", "state", "profile", "define"}
# What an HTTP header value may hold (RFC 9110 field-value): a stored Content-Type is sent back as one,
# and a newline in it would make every later GET of the document fail.
_HEADER_VALUE_RE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


class XAPIError(Exception):
    """A client error answered as JSON: ``status``, a message and (for invalid data) the property path."""

    def __init__(self, status: int, message: str, path: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.path = path
        self.headers = headers or {}


@dataclass
class XRequest:
    """One xAPI request, whether sent plainly or with the alternate request syntax."""

    method: str
    params: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    version: str = versions.LATEST
    credential: Credential | None = None
    alternate: bool = False
    version_known: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def mime(self) -> str:
        return self.content_type.split(";")[0].strip().lower()


# -- request plumbing -------------------------------------------------------------------------------


def _read_body() -> bytes:
    limit = int(current_app.config.get("LRS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
    if request.content_length is not None and request.content_length > limit:
        raise XAPIError(413, f"the request body is larger than {limit} bytes")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise XAPIError(413, f"the request body is larger than {limit} bytes")
    return body


def _single_params(pairs: dict[str, list[str]]) -> dict[str, str]:
    params = {}
    for name, values in pairs.items():
        if len(values) > 1:
            raise XAPIError(400, f"the parameter {name!r} is given more than once", name)
        if "\x00" in name or "\x00" in values[0]:
            # PostgreSQL text cannot hold NUL; no xAPI parameter needs it.
            raise XAPIError(400, f"the parameter {name!r} contains a NUL character", name)
        params[name] = values[0]
    return params


def _check_utf8_query(raw: bytes) -> None:
    # Werkzeug leaves percent-escapes that are not UTF-8 (%ED%B2%80, a surrogate; %FF) as literal text,
    # so "%FF" would silently become a three-character stateId: refuse them instead.
    for pair in raw.split(b"&"):
        name, _, value = pair.partition(b"=")
        for part in (name, value):
            try:
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                shown = unquote_to_bytes(name).decode("utf-8", "replace")
                raise XAPIError(
                    400, f"the parameter {shown!r} is not UTF-8 text once percent-decoded", shown
                ) from None


def _build_request() -> XRequest:
    headers = {k.lower(): v for k, v in request.headers.items()}
    _check_utf8_query(request.query_string)
    query = _single_params(request.args.to_dict(flat=False))
    body = _read_body()
    if "method" not in query:
        return XRequest(request.method, query, headers, body)

    # Alternate request syntax (xAPI 1.0.3 Communication 1.3): POST ?method=X with a form body.
    if request.method != "POST":
        raise XAPIError(400, "the alternate request syntax (?method=) must be sent as a POST")
    if len(query) > 1:
        raise XAPIError(400, "with the alternate request syntax the only query parameter allowed is 'method'")
    method = query["method"].upper()
    if method not in {"GET", "PUT", "POST", "DELETE", "HEAD"}:
        raise XAPIError(400, f"unknown method {query['method']!r}", "method")
    if headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise XAPIError(
            400, "the alternate request syntax needs Content-Type application/x-www-form-urlencoded"
        )
    try:
        form = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body), errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise XAPIError(
            400, "the form body is not valid application/x-www-form-urlencoded of UTF-8 text"
        ) from None
    fields = _single_params(form)
    params, content = {}, b""
    new_headers = {k: v for k, v in headers.items() if k not in ("content-type", "content-length")}
    for name, value in fields.items():
        if name.lower() in HEADER_FIELDS:
            if _HEADER_VALUE_RE.fullmatch(value) is None:
                raise XAPIError(400, f"the form field {name!r} is not a valid HTTP header value", name)
            new_headers[name.lower()] = value
        elif name == "content":
            content = value.encode("utf-8")
        else:
            params[name] = value
    if method in {"PUT", "POST"} and "content" not in fields:
        raise XAPIError(400, "the alternate request syntax sends the body in a form field named 'content'")
    if content and "content-type" not in new_headers:
        new_headers["content-type"] = "application/json"
    return XRequest(method, params, new_headers, content, alternate=True)


def _authenticate(xreq: XRequest) -> Credential:
    from base64 import b64decode

    header = xreq.headers.get("authorization", "")
    challenge = {"WWW-Authenticate": 'Basic realm="xAPI"'}
    if not header.lower().startswith("basic "):
        raise XAPIError(
            401, "authentication required: send the LRS key and secret with HTTP Basic", headers=challenge
        )
    try:
        key, _, secret = b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
        if "\x00" in key:  # PostgreSQL text cannot hold NUL, and no key has one
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise XAPIError(401, "the Authorization header is not valid HTTP Basic", headers=challenge) from None
    credential = authenticate(key, secret)
    if credential is None:
        raise XAPIError(401, "unknown key or wrong secret", headers=challenge)
    return credential


def _require(xreq: XRequest, *scopes: str) -> None:
    credential = xreq.credential
    if credential is None or not any(credential.allows(scope) for scope in scopes):
        raise XAPIError(
            403, f"this credential lacks the scope for this request (needs one of: {', '.join(scopes)})"
        )


def _check_params(xreq: XRequest, allowed: set[str], required: tuple[str, ...] = ()) -> None:
    for name in xreq.params:
        if name not in allowed:
            raise XAPIError(400, f"unknown parameter {name!r} for {xreq.method} on this resource", name)
    for name in required:
        if name not in xreq.params:
            raise XAPIError(400, f"the parameter {name!r} is required", name)


def _json_body(xreq: XRequest):
    if xreq.mime != "application/json":
        raise XAPIError(400, "expected Content-Type application/json")
    try:
        return jsontext.loads(xreq.body)
    except XAPIValidationError as error:
        raise XAPIError(400, error.message, error.path or None) from None


def _agent_param(xreq: XRequest, name: str = "agent") -> str:
    from xapi import identity

    raw = xreq.params[name]
    try:
        agent = jsontext.loads(raw, name, what=f"the parameter {name!r} (an Agent as JSON)")
    except XAPIValidationError as error:
        raise XAPIError(400, error.message, error.path) from None
    try:
        validation.validate_agent(agent, xreq.version, name)
        ifi = identity.actor_ifi(agent)
    except XAPIValidationError as error:
        raise XAPIError(400, error.message, error.path or name) from None
    except (ValueError, TypeError, KeyError, AttributeError):
        raise XAPIError(400, f"the parameter {name!r} is not a valid Agent", name) from None
    if ifi is None:
        raise XAPIError(400, f"the parameter {name!r} needs an identified Agent or Group", name)
    if too_long(ifi, MAX_IFI_BYTES):
        raise XAPIError(400, f"agent identifiers longer than {MAX_IFI_BYTES} bytes are not accepted", name)
    return ifi


def _uuid_param(xreq: XRequest, name: str) -> str:
    value = xreq.params[name]
    try:
        return str(uuid.UUID(value)) if validation.is_uuid(value) else _bad_uuid(name)
    except ValueError:
        return _bad_uuid(name)


def _bad_uuid(name: str):
    raise XAPIError(400, f"the parameter {name!r} must be a UUID", name)


def _iri_param(xreq: XRequest, name: str) -> str:
    value = xreq.params[name]
    if not validation.is_iri(value):
        raise XAPIError(400, f"the parameter {name!r} must be an IRI", name)
    if too_long(value, MAX_IRI_BYTES):
        raise XAPIError(400, f"IRIs longer than {MAX_IRI_BYTES} bytes are not accepted", name)
    return value


def _timestamp_param(xreq: XRequest, name: str):
    try:
        return timeutil.parse_timestamp(xreq.params[name])
    except ValueError:
        raise XAPIError(400, f"the parameter {name!r} must be an ISO 8601 timestamp", name) from None


def _bool_param(xreq: XRequest, name: str) -> bool:
    value = xreq.params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise XAPIError(400, f"the parameter {name!r} must be true or false", name)
    return value == "true"


def _languages(xreq: XRequest) -> list[str]:
    from xapi import formatting

    return formatting.parse_accept_language(xreq.headers.get("accept-language"))


def _json_response(data, status: int = 200, headers: dict | None = None) -> Response:
    response = current_app.response_class(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        status=status,
        mimetype="application/json",
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _no_content(headers: dict | None = None) -> Response:
    response = Response(status=204)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_date(value) -> str:
    from email.utils import format_datetime

    # PostgreSQL hands back the session's time zone; HTTP dates are GMT.
    value = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return format_datetime(value, usegmt=True)


# -- Statements -----------------------------------------------------------------------------------

STATEMENT_QUERY_PARAMS = {
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
}


def statements(xreq: XRequest) -> Response:
    if xreq.method in ("GET", "HEAD"):
        return _get_statements(xreq)
    if xreq.method in ("PUT", "POST"):
        _require(xreq, "statements/write")
        return _put_statement(xreq) if xreq.method == "PUT" else _post_statements(xreq)
    raise XAPIError(
        405,
        f"{xreq.method} is not allowed on the Statements resource",
        headers={"Allow": "GET, HEAD, PUT, POST"},
    )


def _statement_body(xreq: XRequest):
    """The statements of a PUT/POST body and the attachment parts, by SHA-2."""
    if xreq.mime == "multipart/mixed":
        from xapi import multipart

        try:
            body, parts = multipart.parse_multipart_mixed(xreq.body, xreq.content_type)
        except XAPIValidationError as error:
            raise XAPIError(400, error.message, error.path) from None
        except ValueError as error:
            raise XAPIError(400, f"the multipart/mixed body is not valid: {error}") from None
        return body, parts
    return _json_body(xreq), None


def _put_statement(xreq: XRequest) -> Response:
    _check_params(xreq, {"statementId"}, ("statementId",))
    statement_id = _uuid_param(xreq, "statementId")
    body, parts = _statement_body(xreq)
    if not isinstance(body, dict):
        raise XAPIError(400, "PUT takes a single statement (a JSON object)")
    if "id" in body and str(body["id"]).lower() != statement_id:
        raise XAPIError(400, "the statement id does not match the statementId parameter", "id")
    body = {**body, "id": statement_id}
    _ingest([body], xreq, parts)
    return _no_content()


def _post_statements(xreq: XRequest) -> Response:
    _check_params(xreq, set())
    body, parts = _statement_body(xreq)
    batch = body if isinstance(body, list) else [body]
    if not batch or not all(isinstance(s, dict) for s in batch):
        raise XAPIError(400, "POST takes a statement or a non-empty array of statements")
    return _json_response(_ingest(batch, xreq, parts))


def _ingest(batch: list[dict], xreq: XRequest, parts) -> list[str]:
    try:
        return ingest_statements(
            batch,
            version=xreq.version,
            authority=xreq.credential.authority(),
            attachments=parts,
            client=xreq.credential,
        )
    except IngestError as error:
        raise XAPIError(error.status, error.message, error.path) from None


def _get_statements(xreq: XRequest) -> Response:
    from xapi import formatting

    _require(xreq, "statements/read/mine")
    params = xreq.params
    _check_params(xreq, STATEMENT_QUERY_PARAMS | {"statementId", "voidedStatementId"})
    fmt = params.get("format", "exact")
    if fmt not in ("ids", "exact", "canonical"):
        raise XAPIError(400, "format must be ids, exact or canonical", "format")
    attachments = _bool_param(xreq, "attachments")
    languages = _languages(xreq) if fmt == "canonical" else []
    consistent = queries.consistent_through()
    headers = {"X-Experience-API-Consistent-Through": timeutil.format_timestamp(consistent)}

    single = [name for name in ("statementId", "voidedStatementId") if name in params]
    if single:
        if len(single) > 1 or set(params) - {single[0], "format", "attachments"}:
            raise XAPIError(400, f"{single[0]} cannot be combined with other filters", single[0])
        statement_id = _uuid_param(xreq, single[0])
        stored = queries.get_statement(
            statement_id, voided=single[0] == "voidedStatementId", credential=xreq.credential
        )
        if stored is None:
            raise XAPIError(404, f"no statement {statement_id}", headers=headers)
        headers["Last-Modified"] = _http_date(timeutil.parse_timestamp(stored["stored"]))
        shown = queries.with_canonical_definitions([stored])[0] if fmt == "canonical" else stored
        result = formatting.format_statement(shown, fmt, languages)
        return _statements_response(result, [stored], attachments, headers)

    query = queries.StatementQuery(format=fmt, attachments=attachments)
    if "agent" in params:
        query.agent = _agent_param(xreq)
    if "verb" in params:
        query.verb = _iri_param(xreq, "verb")
    if "activity" in params:
        query.activity = _iri_param(xreq, "activity")
    if "registration" in params:
        query.registration = _uuid_param(xreq, "registration")
    query.related_activities = _bool_param(xreq, "related_activities")
    query.related_agents = _bool_param(xreq, "related_agents")
    query.ascending = _bool_param(xreq, "ascending")
    if "since" in params:
        query.since = _timestamp_param(xreq, "since")
    if "until" in params:
        query.until = _timestamp_param(xreq, "until")
    if "limit" in params:
        # isdigit() alone lets through "²" and other digits int() refuses; past the maximum is the maximum.
        if not (params["limit"].isascii() and params["limit"].isdigit()):
            raise XAPIError(400, "limit must be a whole number (0 for the server's maximum)", "limit")
        digits = params["limit"].lstrip("0") or "0"
        query.limit = int(digits) if len(digits) <= 9 else queries.MAX_LIMIT
    return _run_query(query, xreq, headers, languages)


def _run_query(
    query: queries.StatementQuery, xreq: XRequest, headers: dict, languages: list[str]
) -> Response:
    from xapi import formatting

    page, more = queries.run_query(query, xreq.credential)
    shown = queries.with_canonical_definitions(page) if query.format == "canonical" else page
    result = {
        "statements": [formatting.format_statement(s, query.format, languages) for s in shown],
        "more": f"{bp.url_prefix}/statements/more/{more}" if more else "",
    }
    headers["Last-Modified"] = _http_date(queries.consistent_through())
    return _statements_response(result, page, query.attachments, headers)


def more_statements(xreq: XRequest, token: str) -> Response:
    if xreq.method not in ("GET", "HEAD"):
        raise XAPIError(405, "only GET is allowed on a 'more' link", headers={"Allow": "GET, HEAD"})
    _require(xreq, "statements/read/mine")
    _check_params(xreq, set())
    try:
        query = queries.decode_more(token)
    except queries.QueryError as error:
        raise XAPIError(400, str(error), "more") from None
    languages = _languages(xreq) if query.format == "canonical" else []
    headers = {"X-Experience-API-Consistent-Through": timeutil.format_timestamp(queries.consistent_through())}
    return _run_query(query, xreq, headers, languages)


def _statements_response(result, stored: list[dict], attachments: bool, headers: dict) -> Response:
    if not attachments:
        return _json_response(result, headers=headers)
    from xapi import multipart

    contents = queries.attachment_contents(stored)
    parts = [(sha2, content_type, content) for sha2, (content_type, content) in contents.items()]
    body, content_type = multipart.build_multipart_mixed(result, parts)
    response = Response(body, status=200, content_type=content_type)
    for name, value in headers.items():
        response.headers[name] = value
    return response


# -- Documents --------------------------------------------------------------------------------------


def _document_request(
    xreq: XRequest, kind: str, id_name: str, key_params: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Response:
    scope = "state" if kind == "state" else "profile"
    if xreq.method in ("GET", "HEAD"):
        _require(xreq, scope, "all/read")
    elif xreq.method in ("PUT", "POST", "DELETE"):
        _require(xreq, scope)
    else:
        raise XAPIError(
            405,
            f"{xreq.method} is not allowed on this resource",
            headers={"Allow": "GET, HEAD, PUT, POST, DELETE"},
        )
    allowed = set(key_params) | set(optional) | {id_name}
    if xreq.method in ("GET", "HEAD"):
        allowed.add("since")
    required = key_params + (
        (id_name,) if xreq.method in ("PUT", "POST") or kind != "state" and xreq.method == "DELETE" else ()
    )
    _check_params(xreq, allowed, required)

    org = xreq.credential.organisation_id or 0
    key = docs.DocumentKey(
        kind=kind,
        org_key=org,
        activity_id=_iri_param(xreq, "activityId") if "activityId" in key_params else "",
        agent_ifi=_agent_param(xreq) if "agent" in key_params else "",
        registration=_uuid_param(xreq, "registration") if "registration" in xreq.params else "",
    )
    document_id = xreq.params.get(id_name)
    if document_id is not None and too_long(document_id, MAX_DOCUMENT_ID_BYTES):
        raise XAPIError(400, f"{id_name} longer than {MAX_DOCUMENT_ID_BYTES} bytes is not accepted", id_name)
    if_match = xreq.headers.get("if-match")
    if_none_match = xreq.headers.get("if-none-match")
    try:
        if xreq.method in ("GET", "HEAD"):
            since = _timestamp_param(xreq, "since") if "since" in xreq.params else None
            if document_id is None:
                return _json_response(docs.list_document_ids(key, since))
            if since is not None:
                raise XAPIError(400, f"since cannot be combined with {id_name}", "since")
            document = docs.get_document(key, document_id)
            if document is None:
                raise XAPIError(404, f"no document {document_id!r}")
            response = Response(document.content, status=200, content_type=document.content_type)
            response.headers["ETag"] = f'"{document.etag}"'
            response.headers["Last-Modified"] = _http_date(document.updated)
            return response
        if xreq.method == "DELETE":
            if document_id is None:
                docs.delete_documents(key)
            else:
                docs.delete_document(key, document_id, if_match=if_match, if_none_match=if_none_match)
            return _no_content()
        if docs.is_json_type(xreq.content_type):
            # A JSON document is read back, merged and served as JSON: it must be JSON the store can hold.
            try:
                jsontext.loads(xreq.body, what="the document")
            except XAPIValidationError as error:
                raise XAPIError(400, error.message, error.path or None) from None
        # 1.0.3 asks for the precondition headers on profiles only; 2.0.0 on every document resource.
        strict = kind != "state" or xreq.version.startswith("2.")
        document = docs.save_document(
            key,
            document_id,
            xreq.body,
            xreq.content_type or "application/octet-stream",
            merge=xreq.method == "POST",
            if_match=if_match,
            if_none_match=if_none_match,
            require_precondition=strict,
            precondition_for_new=kind != "state" and xreq.version == "1.0.3",
        )
        return _no_content({"ETag": f'"{document.etag}"'})
    except docs.DocumentError as error:
        raise XAPIError(error.status, error.message) from None


def state(xreq: XRequest) -> Response:
    return _document_request(xreq, "state", "stateId", ("activityId", "agent"), ("registration",))


def activity_profile(xreq: XRequest) -> Response:
    return _document_request(xreq, "activity_profile", "profileId", ("activityId",))


def agent_profile(xreq: XRequest) -> Response:
    return _document_request(xreq, "agent_profile", "profileId", ("agent",))


# -- Activities, Agents, About ---------------------------------------------------------------------


def activities(xreq: XRequest) -> Response:
    if xreq.method not in ("GET", "HEAD"):
        raise XAPIError(405, "only GET is allowed on the Activities resource", headers={"Allow": "GET, HEAD"})
    _require(xreq, *READ_ANY)
    _check_params(xreq, {"activityId"}, ("activityId",))
    activity_id = _iri_param(xreq, "activityId")
    result = {"objectType": "Activity", "id": activity_id}
    definition = queries.activity_definition(activity_id)
    if definition:
        result["definition"] = definition
    return _json_response(result)


def agents(xreq: XRequest) -> Response:
    if xreq.method not in ("GET", "HEAD"):
        raise XAPIError(405, "only GET is allowed on the Agents resource", headers={"Allow": "GET, HEAD"})
    _require(xreq, *READ_ANY)
    _check_params(xreq, {"agent"}, ("agent",))
    _agent_param(xreq)
    agent = jsontext.loads(xreq.params["agent"])
    person: dict = {"objectType": "Person"}
    if agent.get("name"):
        person["name"] = [agent["name"]]
    for ifi in ("mbox", "mbox_sha1sum", "openid", "account"):
        if ifi in agent:
            person[ifi] = [agent[ifi]]
    return _json_response(person)


def about(xreq: XRequest) -> Response:
    if xreq.method not in ("GET", "HEAD"):
        raise XAPIError(405, "only GET is allowed on the About resource", headers={"Allow": "GET, HEAD"})
    _check_params(xreq, set())
    return _json_response({"version": ABOUT_VERSIONS, "extensions": {}})


# -- routing ---------------------------------------------------------------------------------------

RESOURCES: dict[str, Callable[[XRequest], Response]] = {
    "statements": statements,
    "activities/state": state,
    "activities/profile": activity_profile,
    "agents/profile": agent_profile,
    "activities": activities,
    "agents": agents,
    "about": about,
}
METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"]


def _dispatch(handler: Callable[..., Response], *args, public: bool = False) -> Response:
    xreq = None
    try:
        xreq = _build_request()
        if xreq.method == "OPTIONS":
            return _no_content({"Allow": ", ".join(METHODS)})
        if not (public and "x-experience-api-version" not in xreq.headers):
            try:
                xreq.version = versions.negotiate(xreq.headers.get("x-experience-api-version"))
                xreq.version_known = True
            except UnsupportedVersion as error:
                raise XAPIError(400, error.message, "X-Experience-API-Version") from None
        if xreq.alternate and xreq.version.startswith("2."):
            raise XAPIError(
                400,
                "xAPI 2.0 has no alternate request syntax: send the method, headers and "
                "body as a normal HTTP request",
            )
        if not public:
            xreq.credential = _authenticate(xreq)
        response = handler(xreq, *args)
    except XAPIError as error:
        body = {"error": {"status": error.status, "message": error.message}}
        if error.path:
            body["error"]["path"] = error.path
        response = _json_response(body, error.status, error.headers)
    if xreq is not None and xreq.method == "HEAD":
        response.set_data(b"")
    # Without a usable version header there is nothing to echo: answer with the configured default.
    response.headers["X-Experience-API-Version"] = (
        xreq.version
        if xreq is not None and xreq.version_known
        else current_app.config.get("LRS_DEFAULT_VERSION", versions.LATEST)
    )
    return response


@bp.route("/<path:resource>", methods=METHODS)
def resource_view(resource: str):
    resource = resource.rstrip("/")
    if resource.startswith("statements/more/"):
        response = _dispatch(more_statements, resource[len("statements/more/") :])
    else:
        handler = RESOURCES.get(resource)
        if handler is None:
            return _dispatch(_not_found)
        response = _dispatch(handler, public=resource == "about")
    if (
        resource.startswith("statements")
        and request.method in ("GET", "HEAD", "POST")
        and "X-Experience-API-Consistent-Through" not in response.headers
    ):
        # Every answer to a statement query carries the header, errors included (Communication 2.1.3).
        response.headers["X-Experience-API-Consistent-Through"] = timeutil.format_timestamp(
            queries.consistent_through()
        )
    return response


@bp.route("/", methods=METHODS)
def root_view():
    return _dispatch(_not_found, public=True)


def _not_found(xreq: XRequest) -> Response:
    raise XAPIError(404, "no such xAPI resource; see /xapi/about")


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return _json_response({"error": {"status": error.code, "message": error.description}}, error.code or 500)
