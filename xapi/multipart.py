"""multipart/mixed statement requests and responses with attachments (Communication 1.5.2).

The parser is strict where the spec says MUST (CRLF line breaks, a boundary, the
statements in a first ``application/json`` part, ``X-Experience-API-Hash`` and
``Content-Transfer-Encoding: binary`` on every other part) and reports each problem with
its own message, so a client can see what is wrong with its request.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import jsontext
from .errors import XAPIValidationError

__all__ = [
    "SIGNATURE_USAGE_TYPE",
    "Part",
    "build_multipart_mixed",
    "check_attachments",
    "iter_attachments",
    "loads_json",
    "parse_multipart_mixed",
]

SIGNATURE_USAGE_TYPE = "http://adlnet.gov/expapi/attachments/signature"

_CRLF = b"\r\n"
_HASH_FUNCS = {56: hashlib.sha224, 64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_BOUNDARY_CHARS_RE = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")


@dataclass(frozen=True)
class Part:
    """One attachment part: its raw bytes, declared Content-Type and SHA-2 (lower-case hex)."""

    sha2: str
    content_type: str
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _fail(message: str, path: str = "") -> XAPIValidationError:
    return XAPIValidationError(path, message)


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _parse_content_type(header: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type header into its lower-case media type and parameters."""
    media, _, rest = header.partition(";")
    params: dict[str, str] = {}
    # Parameters may be quoted strings holding ";" (RFC 2045), so walk them with a regex.
    for match in re.finditer(r'\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)\s*(?:;|$)', rest):
        name, value = match.group(1).lower(), match.group(2).strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name] = value
    return media.strip().lower(), params


def loads_json(data: bytes | str, path: str = "") -> Any:
    """Decode a JSON body strictly: :func:`xapi.jsontext.loads` (UTF-8, no NaN/Infinity, storable values)."""
    return jsontext.loads(data, path)


def _parse_headers(block: bytes, index: int) -> dict[str, str]:
    headers: dict[str, str] = {}
    if not block:
        return headers
    for line in block.split(_CRLF):
        if b"\n" in line or b"\r" in line:
            raise _fail(f"part {index}: header lines must end with CRLF")
        name, colon, value = line.partition(b":")
        if not colon or not name.strip():
            raise _fail(f"part {index}: malformed header line {line[:60]!r}")
        try:
            headers[name.decode("ascii").strip().lower()] = value.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise _fail(f"part {index}: header {name[:40]!r} is not valid text") from None
    return headers


def _split_parts(body: bytes, boundary: str) -> list[bytes]:
    delimiter = b"--" + boundary.encode("ascii")
    # The first delimiter may open the body; every later one follows a CRLF (RFC 2046 5.1.1).
    if body.startswith(delimiter):
        position = 0
    else:
        position = body.find(_CRLF + delimiter)
        if position < 0:
            if body.find(delimiter) >= 0:
                raise _fail("the first boundary delimiter must start the body or follow a CRLF")
            raise _fail("the body does not contain the boundary given in the Content-Type header")
        position += 2
    parts: list[bytes] = []
    separator = _CRLF + delimiter
    while True:
        after = position + len(delimiter)
        if body.startswith(b"--", after):
            return parts  # close delimiter; anything after it is the epilogue
        # Transport padding (spaces/tabs) may follow a delimiter before its CRLF.
        line_end = body.find(_CRLF, after)
        if line_end < 0 or body[after:line_end].strip(b" \t"):
            raise _fail("a boundary delimiter line must end with CRLF")
        start = line_end + 2
        next_delimiter = body.find(separator, start)
        if next_delimiter < 0:
            raise _fail("the multipart body is not terminated by the closing boundary (--boundary--)")
        parts.append(body[start:next_delimiter])
        position = next_delimiter + 2


def parse_multipart_mixed(body: bytes, content_type_header: str) -> tuple[object, dict[str, Part]]:
    """Parse a multipart/mixed statement request.

    Returns the decoded JSON of the first part (a statement or an array; not yet
    validated) and the attachment parts keyed by their ``X-Experience-API-Hash`` (lower
    case). Raises :class:`XAPIValidationError` for a missing/unused boundary, missing CRLFs,
    a first part that is not ``application/json``, an attachment part without the hash
    header, without ``Content-Transfer-Encoding: binary``, or whose content does not hash
    to the declared value.
    """
    media, params = _parse_content_type(content_type_header or "")
    if media != "multipart/mixed":
        raise _fail(f"the Content-Type must be multipart/mixed, not {media or 'missing'!r}")
    boundary = params.get("boundary")
    if not boundary:
        raise _fail("the multipart/mixed Content-Type header has no boundary parameter")
    if _BOUNDARY_CHARS_RE.fullmatch(boundary) is None:
        raise _fail("the boundary parameter has characters or a length RFC 2046 does not allow")
    raw_parts = _split_parts(body, boundary)
    if not raw_parts:
        raise _fail("the multipart body has no parts; the first part must hold the statements")
    statements: object = None
    attachments: dict[str, Part] = {}
    for index, raw in enumerate(raw_parts):
        if raw.startswith(_CRLF):
            header_block, content = b"", raw[2:]
        else:
            end = raw.find(_CRLF + _CRLF)
            if end < 0:
                raise _fail(f"part {index}: the headers must be followed by an empty line (CRLF CRLF)")
            header_block, content = raw[:end], raw[end + 4 :]
        headers = _parse_headers(header_block, index)
        part_type = headers.get("content-type", "")
        if index == 0:
            if _media_type(part_type) != "application/json":
                raise _fail(
                    "the first part must hold the statements with Content-Type application/json, "
                    f"not {part_type or 'none'!r}"
                )
            statements = loads_json(content)
            continue
        sha2 = headers.get("x-experience-api-hash")
        if not sha2:
            raise _fail(
                f"part {index}: every attachment part needs an X-Experience-API-Hash header "
                "(statements belong in the first part only)"
            )
        encoding = headers.get("content-transfer-encoding")
        if encoding is None:
            raise _fail(f"part {index}: every attachment part needs Content-Transfer-Encoding: binary")
        if encoding.lower() != "binary":
            raise _fail(f"part {index}: Content-Transfer-Encoding must be binary, not {encoding!r}")
        sha2 = sha2.lower()
        hash_func = _HASH_FUNCS.get(len(sha2))
        if hash_func is None or _HEX_RE.fullmatch(sha2) is None:
            raise _fail(f"part {index}: X-Experience-API-Hash must be a hex SHA-224/256/384/512 digest")
        if hash_func(content).hexdigest() != sha2:
            raise _fail(f"part {index}: the content does not match its X-Experience-API-Hash {sha2}")
        attachments.setdefault(sha2, Part(sha2=sha2, content_type=part_type, content=content, headers=headers))
    return statements, attachments


def iter_attachments(statements: Iterable[dict[str, Any]]) -> Iterable[tuple[str, dict[str, Any]]]:
    """Yield ``(path, attachment)`` for every attachment of the statements and their SubStatements."""
    for i, stmt in enumerate(statements):
        for j, attachment in enumerate(stmt.get("attachments") or ()):
            yield f"[{i}].attachments[{j}]", attachment
        obj = stmt.get("object")
        if type(obj) is dict and obj.get("objectType") == "SubStatement":
            for j, attachment in enumerate(obj.get("attachments") or ()):
                yield f"[{i}].object.attachments[{j}]", attachment


def check_attachments(statements: list[dict[str, Any]], parts: dict[str, Part]) -> None:
    """Check validated statements against the received attachment parts.

    Every attachment without a ``fileUrl`` must have a part with its sha2; every part must
    belong to some attachment; a part's Content-Type must agree with the attachment's
    contentType; signature attachments must be ``application/octet-stream`` and be sent as
    a part. Pass ``parts={}`` for an application/json request. Paths start with the
    statement index (``[0].attachments[1].sha2``).
    """
    used: set[str] = set()
    for path, attachment in iter_attachments(statements):
        sha2 = str(attachment.get("sha2", "")).lower()
        content_type = str(attachment.get("contentType", ""))
        if attachment.get("usageType") == SIGNATURE_USAGE_TYPE:
            if _media_type(content_type) != "application/octet-stream":
                raise _fail(
                    "a signature attachment must have contentType application/octet-stream", f"{path}.contentType"
                )
            if sha2 not in parts:
                raise _fail("the signature attachment (the JWS) must be sent as a multipart part", f"{path}.sha2")
        part = parts.get(sha2)
        if part is None:
            if "fileUrl" not in attachment:
                raise _fail(
                    "no multipart part has this hash and the attachment has no fileUrl", f"{path}.sha2"
                )
            continue
        used.add(sha2)
        if part.content_type and _media_type(part.content_type) != _media_type(content_type):
            raise _fail(
                f"the attachment part's Content-Type {part.content_type!r} does not match contentType",
                f"{path}.contentType",
            )
    extra = set(parts) - used
    if extra:
        raise _fail(f"the multipart body has a part no attachment refers to (X-Experience-API-Hash {min(extra)})")


def build_multipart_mixed(
    statement_json: Any, attachments: Iterable[Part | tuple[str, str, bytes]]
) -> tuple[bytes, str]:
    """Build a multipart/mixed response body for GET /statements?attachments=true.

    ``statement_json`` is the JSON document (bytes, str, or an object to serialise);
    ``attachments`` are :class:`Part` objects or ``(sha2, content_type, content)`` tuples,
    each sent once. Returns the body and the Content-Type header value.
    """
    if isinstance(statement_json, bytes):
        document = statement_json
    elif isinstance(statement_json, str):
        document = statement_json.encode("utf-8")
    else:
        document = json.dumps(statement_json, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    items: list[tuple[str, str, bytes]] = []
    seen: set[str] = set()
    for item in attachments:
        sha2, content_type, content = (
            (item.sha2, item.content_type, item.content) if isinstance(item, Part) else item
        )
        if sha2 in seen:
            continue
        seen.add(sha2)
        items.append((sha2, content_type or "application/octet-stream", content))
    while True:
        boundary = f"xapi-{uuid.uuid4().hex}"
        marker = boundary.encode("ascii")
        # A boundary must not occur inside any part (RFC 2046); a uuid practically never
        # does, but checking costs one scan.
        if marker not in document and not any(marker in content for _, _, content in items):
            break
    chunks = [b"--", marker, b"\r\nContent-Type: application/json\r\n\r\n", document]
    for sha2, content_type, content in items:
        chunks += [
            b"\r\n--", marker, b"\r\nContent-Type: ", content_type.encode("utf-8"),
            b"\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: ", sha2.encode("ascii"),
            b"\r\n\r\n", content,
        ]
    chunks += [b"\r\n--", marker, b"--\r\n"]
    return b"".join(chunks), f"multipart/mixed; boundary={boundary}"
