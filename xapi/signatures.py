"""Signed statements (Data 2.6): JWS compact serialization with RS256/RS384/RS512.

The LRS checks that a signature is well formed, that its payload is the statement it is
attached to, and, when the JWS header carries an ``x5c`` certificate chain, that the
signature verifies against the first certificate's public key. As the spec notes, this
catches mistakes; it does not establish who signed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from .errors import XAPIValidationError
from .identity import statements_equivalent
from .multipart import SIGNATURE_USAGE_TYPE, Part, iter_attachments

__all__ = ["ALGORITHMS", "sign_statement", "verify_signatures", "verify_signed_statement"]

_B64URL_RE = re.compile(rb"[A-Za-z0-9_-]+")
ALGORITHMS: dict[str, hashes.HashAlgorithm] = {
    "RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()
}


def _fail(message: str, path: str = "") -> XAPIValidationError:
    return XAPIValidationError(path, message)


def _b64url_decode(segment: bytes, what: str, path: str) -> bytes:
    # urlsafe_b64decode silently drops characters outside the alphabet, so check first.
    if _B64URL_RE.fullmatch(segment) is None:
        raise _fail(f"the JWS {what} is not base64url without padding", path)
    try:
        return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise _fail(f"the JWS {what} is not valid base64url", path) from None


def _b64url_encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _json_object(raw: bytes, what: str, path: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse)
    except (UnicodeDecodeError, ValueError):
        raise _fail(f"the JWS {what} is not a valid JSON serialization", path) from None
    if type(value) is not dict:
        raise _fail(f"the JWS {what} must be a JSON object", path)
    return value


def _refuse(name: str) -> None:
    raise ValueError(name)


def _public_key_from_x5c(chain: object, path: str) -> rsa.RSAPublicKey:
    if type(chain) is not list or not chain or not isinstance(chain[0], str):
        raise _fail('the JWS header "x5c" must be a non-empty array of base64 certificates', path)
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
    except (binascii.Error, ValueError):
        raise _fail('the first "x5c" certificate of the JWS header cannot be read', path) from None
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise _fail('the "x5c" certificate does not hold an RSA key, which RS256/384/512 need', path)
    return key


def verify_signed_statement(
    statement: dict[str, Any],
    jws: bytes,
    *,
    public_key: rsa.RSAPublicKey | None = None,
    path: str = "",
) -> dict[str, Any]:
    """Check a statement's JWS signature attachment; return the decoded JWS header.

    ``jws`` is the raw content of the signature part (compact serialization,
    ``header.payload.signature``). Checks: well-formed JWS; ``alg`` is RS256, RS384 or
    RS512; the payload is a JSON object equivalent to ``statement`` under the statement
    comparison rules (LRS-assigned id/stored/timestamp/authority/version, attachments, and
    the other immutability exceptions are ignored); and the signature verifies with the
    ``x5c`` certificate's key, or with ``public_key`` if given. Raises
    :class:`XAPIValidationError` otherwise.
    """
    token = jws.strip()
    segments = token.split(b".")
    if len(segments) != 3:
        raise _fail("the signature is not a JWS in compact serialization (header.payload.signature)", path)
    header_raw, payload_raw, signature_raw = segments
    header = _json_object(_b64url_decode(header_raw, "header", path), "header", path)
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise _fail(f'the JWS algorithm must be RS256, RS384 or RS512, not {algorithm!r}', path)
    if "crit" in header:
        raise _fail('the JWS header has "crit" extensions this LRS does not understand', path)
    payload = _json_object(_b64url_decode(payload_raw, "payload", path), "payload", path)
    signature = _b64url_decode(signature_raw, "signature", path)
    if "x5c" in header:
        public_key = _public_key_from_x5c(header["x5c"], path)
    if public_key is not None:
        try:
            public_key.verify(
                signature, header_raw + b"." + payload_raw, padding.PKCS1v15(), ALGORITHMS[algorithm]
            )
        except InvalidSignature:
            raise _fail("the JWS signature does not verify against the signing certificate's key", path) from None
    if not statements_equivalent(payload, statement):
        raise _fail("the signed payload (JWS) does not match the statement it is attached to", path)
    return header


def verify_signatures(statements: list[dict[str, Any]], parts: dict[str, Part]) -> None:
    """Verify every signature attachment of validated statements (after ``check_attachments``).

    Statements without a signature attachment pass. A statement may carry only one
    signature.
    """
    for i, stmt in enumerate(statements):
        found = [
            (path, a) for path, a in iter_attachments([stmt])
            if a.get("usageType") == SIGNATURE_USAGE_TYPE and not path.startswith("[0].object")
        ]
        if not found:
            continue
        if len(found) > 1:
            raise _fail("a statement can carry only one signature attachment", f"[{i}].attachments")
        attachment_path, attachment = found[0]
        part = parts.get(str(attachment.get("sha2", "")).lower())
        if part is None:
            raise _fail("the signature attachment was not sent as a multipart part", f"[{i}].attachments")
        verify_signed_statement(stmt, part.content, path=f"[{i}]" + attachment_path[3:])


def sign_statement(statement: dict[str, Any], private_key: rsa.RSAPrivateKey, *, algorithm: str = "RS256",
                   certificates: Iterable[x509.Certificate] = ()) -> bytes:
    """Sign a statement (without its attachments) and return the compact JWS.

    For the service's own outgoing statements and for tests. ``certificates`` become the
    ``x5c`` chain of the header.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
    header: dict[str, Any] = {"alg": algorithm}
    chain = [base64.b64encode(c.public_bytes(Encoding.DER)).decode("ascii") for c in certificates]
    if chain:
        header["x5c"] = chain
    body = {k: v for k, v in statement.items() if k != "attachments"}
    signing_input = (
        _b64url_encode(json.dumps(header, separators=(",", ":")).encode())
        + b"."
        + _b64url_encode(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    )
    signature = private_key.sign(signing_input, padding.PKCS1v15(), ALGORITHMS[algorithm])
    return signing_input + b"." + _b64url_encode(signature)

