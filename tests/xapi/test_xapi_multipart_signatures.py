"""multipart/mixed parsing and building, attachment checks, and JWS signed statements."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from xapi.errors import XAPIValidationError
from xapi.multipart import (
    SIGNATURE_USAGE_TYPE,
    Part,
    build_multipart_mixed,
    check_attachments,
    loads_json,
    parse_multipart_mixed,
)
from xapi.signatures import sign_statement, verify_signatures, verify_signed_statement
from xapi.validation import validate_statements

BOUNDARY = "-------314159265358979323846"
CT = f"multipart/mixed; boundary={BOUNDARY}"
TEXT1 = b"here is a simple attachment"
TEXT2 = b"here is another simple attachment"
SHA1 = hashlib.sha256(TEXT1).hexdigest()
SHA2 = hashlib.sha256(TEXT2).hexdigest()


def attachment(content: bytes, **extra):
    return {"usageType": "http://example.com/attachment-usage/test", "display": {"en-US": "A test attachment"},
            "contentType": "text/plain", "length": len(content), "sha2": hashlib.sha256(content).hexdigest(),
            **extra}


def statement(*attachments):
    stmt = {"actor": {"mbox": "mailto:xapi@adlnet.gov"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"},
            "object": {"id": "http://www.example.com/meetings/34534"}}
    if attachments:
        stmt["attachments"] = list(attachments)
    return stmt


def body(*parts, preamble=b"", close=b"--\r\n", boundary=BOUNDARY):
    """parts: (headers list, content) pairs."""
    out = preamble
    for headers, content in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        out += b"".join(h.encode() + b"\r\n" for h in headers) + b"\r\n" + content + b"\r\n"
    return out + b"--" + boundary.encode() + close


def json_part(doc):
    return (["Content-Type: application/json"], json.dumps(doc).encode())


def text_part(content, sha2=None, encoding="binary", content_type="text/plain"):
    headers = [f"Content-Type: {content_type}"]
    if encoding is not None:
        headers.append(f"Content-Transfer-Encoding: {encoding}")
    if sha2 is not False:
        headers.append(f"X-Experience-API-Hash: {sha2 or hashlib.sha256(content).hexdigest()}")
    return headers, content


# --------------------------------------------------------------------------- parsing


def test_parse_statement_and_two_attachments():
    doc = statement(attachment(TEXT1), attachment(TEXT2))
    stmts, parts = parse_multipart_mixed(body(json_part(doc), text_part(TEXT1), text_part(TEXT2)), CT)
    assert stmts == doc
    assert set(parts) == {SHA1, SHA2}
    assert parts[SHA1] == Part(sha2=SHA1, content_type="text/plain", content=TEXT1, headers=parts[SHA1].headers)
    assert parts[SHA2].content == TEXT2
    check_attachments(validate_statements(stmts, "2.0.0"), parts)


def test_parse_suite_signature_layout():
    # Leading CRLF (empty preamble), headers without a space, no CRLF after the close delimiter.
    doc = statement(attachment(TEXT1))
    raw = (b"\r\n--" + BOUNDARY.encode() + b"\r\nContent-Type:application/json\r\n\r\n" + json.dumps(doc).encode()
           + b"\r\n--" + BOUNDARY.encode() + b"\r\nContent-Type:text/plain\r\nContent-Transfer-Encoding:binary\r\n"
           + b"X-Experience-API-Hash:" + SHA1.encode() + b"\r\n\r\n" + TEXT1 + b"\r\n--" + BOUNDARY.encode() + b"--")
    stmts, parts = parse_multipart_mixed(raw, CT)
    assert stmts == doc and parts[SHA1].content == TEXT1


def test_parse_quoted_boundary_preamble_epilogue_and_binary_content():
    binary = bytes(range(256)) * 4 + b"\r\n--not-the-boundary\r\n"
    doc = statement(attachment(binary, contentType="application/octet-stream"))
    raw = body(json_part(doc), text_part(binary, content_type="application/octet-stream"),
               preamble=b"This is the preamble.\r\n", close=b"--\r\nepilogue")
    stmts, parts = parse_multipart_mixed(raw, f'multipart/mixed; charset=utf-8; boundary="{BOUNDARY}"')
    assert stmts == doc
    assert parts[hashlib.sha256(binary).hexdigest()].content == binary


def test_parse_statements_only():
    doc = [statement(), statement(attachment(TEXT1, fileUrl="http://over.there.com/file.txt"))]
    stmts, parts = parse_multipart_mixed(body(json_part(doc)), CT)
    assert stmts == doc and parts == {}
    check_attachments(stmts, parts)


def test_parse_sha512_hash():
    sha = hashlib.sha512(TEXT1).hexdigest()
    _, parts = parse_multipart_mixed(body(json_part(statement()), text_part(TEXT1, sha2=sha.upper())), CT)
    assert list(parts) == [sha]


def test_parse_duplicate_parts_are_kept_once():
    _, parts = parse_multipart_mixed(body(json_part(statement()), text_part(TEXT1), text_part(TEXT1)), CT)
    assert list(parts) == [SHA1]


BAD_BODIES = [
    ("no boundary parameter", body(json_part(statement())), "multipart/mixed;", "no boundary"),
    ("not multipart/mixed", body(json_part(statement())), f"multipart/form-data; boundary={BOUNDARY}",
     "multipart/mixed"),
    ("boundary not in body", body(json_part(statement()), boundary="other"), CT, "does not contain the boundary"),
    ("no close delimiter", body(json_part(statement()))[: -len(b"--\r\n") - len(BOUNDARY) - 2], CT, "closing boundary"),
    ("LF line endings", body(json_part(statement()), text_part(TEXT1)).replace(b"\r\n", b"\n"), CT, "boundary"),
    ("headers not ended by blank line", b"--" + BOUNDARY.encode() + b"\r\nContent-Type: application/json\r\n--"
     + BOUNDARY.encode() + b"--", CT, "empty line"),
    ("first part text/plain", body((["Content-Type: text/plain"], json.dumps(statement()).encode())), CT,
     "application/json"),
    ("first part without content type", body(([], json.dumps(statement()).encode())), CT, "application/json"),
    ("first part broken JSON", body((["Content-Type: application/json"], b"{'actor': 1}")), CT, "not valid JSON"),
    ("first part NaN", body((["Content-Type: application/json"], b'{"a": NaN}')), CT, "not valid JSON"),
    ("first part not UTF-8", body((["Content-Type: application/json"], b'{"a": "\xff"}')), CT, "UTF-8"),
    ("missing hash", body(json_part(statement()), text_part(TEXT1, sha2=False)), CT, "X-Experience-API-Hash"),
    ("statements in two parts", body(json_part(statement()), json_part(statement())), CT, "X-Experience-API-Hash"),
    ("missing transfer encoding", body(json_part(statement()), text_part(TEXT1, encoding=None)), CT,
     "Content-Transfer-Encoding"),
    ("base64 transfer encoding", body(json_part(statement()), text_part(TEXT1, encoding="base64")), CT,
     "must be binary"),
    ("hash of other content", body(json_part(statement()), text_part(TEXT1, sha2=SHA2)), CT, "does not match"),
    ("hash not hex", body(json_part(statement()), text_part(TEXT1, sha2="x" * 64)), CT, "hex"),
    ("malformed header", body(json_part(statement()), (["Content-Type text/plain"], TEXT1)), CT, "malformed header"),
    ("garbage after delimiter", body(json_part(statement())).replace(BOUNDARY.encode() + b"\r\n",
                                                                     BOUNDARY.encode() + b"xx\r\n", 1), CT, "CRLF"),
    ("empty body", b"", CT, "boundary"),
    ("no parts", b"--" + BOUNDARY.encode() + b"--\r\n", CT, "no parts"),
    ("missing content type header", body(json_part(statement())), "", "multipart/mixed"),
]


@pytest.mark.parametrize("raw,content_type,message", [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES])
def test_parse_rejects(raw, content_type, message):
    with pytest.raises(XAPIValidationError) as info:
        parse_multipart_mixed(raw, content_type)
    assert message in info.value.message


def test_suite_boundary_missing_before_attachment():
    # The statement part runs straight into the attachment headers: the JSON is broken.
    raw = (b"--" + BOUNDARY.encode() + b"\r\nContent-Type: application/json\r\n\r\n" + json.dumps(statement()).encode()
           + b"\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: "
           + SHA1.encode() + b"\r\n\r\n" + TEXT1 + b"\r\n--" + BOUNDARY.encode() + b"--\r\n")
    with pytest.raises(XAPIValidationError, match="not valid JSON"):
        parse_multipart_mixed(raw, CT)


def test_loads_json():
    assert loads_json(b'{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
    for bad in (b"", b"{", b'{"a": Infinity}', b"[1] x"):
        with pytest.raises(XAPIValidationError):
            loads_json(bad)


# --------------------------------------------------------------------------- check_attachments


def _parts(*contents, content_type="text/plain"):
    return {hashlib.sha256(c).hexdigest(): Part(hashlib.sha256(c).hexdigest(), content_type, c) for c in contents}


def test_check_attachments_missing_part():
    stmts = [statement(attachment(TEXT1), attachment(TEXT2))]
    with pytest.raises(XAPIValidationError) as info:
        check_attachments(stmts, _parts(TEXT1))
    assert info.value.path == "[0].attachments[1].sha2"


def test_check_attachments_json_request_needs_file_urls():
    with pytest.raises(XAPIValidationError) as info:
        check_attachments([statement(), statement(attachment(TEXT1))], {})
    assert info.value.path == "[1].attachments[0].sha2"
    check_attachments([statement(attachment(TEXT1, fileUrl="http://x.se/f.txt"))], {})


def test_check_attachments_excess_part():
    with pytest.raises(XAPIValidationError, match="no attachment refers to"):
        check_attachments([statement(attachment(TEXT1))], _parts(TEXT1, TEXT2))


def test_check_attachments_part_for_file_url_attachment_is_used():
    check_attachments([statement(attachment(TEXT1, fileUrl="http://x.se/f.txt"))], _parts(TEXT1))


def test_check_attachments_substatement_and_shared_parts():
    sub = {**statement(attachment(TEXT2)), "objectType": "SubStatement"}
    stmts = [statement(attachment(TEXT1)), {**statement(attachment(TEXT1)), "object": sub}]
    check_attachments(stmts, _parts(TEXT1, TEXT2))
    with pytest.raises(XAPIValidationError) as info:
        check_attachments(stmts, _parts(TEXT1))
    assert info.value.path == "[1].object.attachments[0].sha2"


def test_check_attachments_content_type_mismatch():
    with pytest.raises(XAPIValidationError) as info:
        check_attachments([statement(attachment(TEXT1))], _parts(TEXT1, content_type="image/jpeg"))
    assert info.value.path == "[0].attachments[0].contentType"
    check_attachments([statement(attachment(TEXT1, contentType="text/plain; charset=ascii"))],
                      _parts(TEXT1, content_type="TEXT/PLAIN"))


def test_check_attachments_signature_content_type():
    sig = attachment(TEXT1, usageType=SIGNATURE_USAGE_TYPE, contentType="text/plain; charset=ascii")
    with pytest.raises(XAPIValidationError) as info:
        check_attachments([statement(sig)], _parts(TEXT1, content_type="text/plain; charset=ascii"))
    assert info.value.path == "[0].attachments[0].contentType"


def test_check_attachments_signature_needs_part():
    sig = attachment(TEXT1, usageType=SIGNATURE_USAGE_TYPE, contentType="application/octet-stream",
                     fileUrl="http://x.se/sig")
    with pytest.raises(XAPIValidationError) as info:
        check_attachments([statement(sig)], {})
    assert info.value.path == "[0].attachments[0].sha2"


# --------------------------------------------------------------------------- building


def test_build_round_trip():
    doc = {"statements": [statement(attachment(TEXT1), attachment(TEXT2))], "more": ""}
    raw, content_type = build_multipart_mixed(doc, [(SHA1, "text/plain", TEXT1), Part(SHA2, "text/plain", TEXT2),
                                                    (SHA1, "text/plain", TEXT1)])
    assert content_type.startswith("multipart/mixed; boundary=")
    parsed, parts = parse_multipart_mixed(raw, content_type)
    assert parsed == doc
    assert {k: p.content for k, p in parts.items()} == {SHA1: TEXT1, SHA2: TEXT2}
    assert raw.count(b"X-Experience-API-Hash") == 2


def test_build_from_bytes_and_str():
    for document in (b'{"a": 1}', '{"a": 1}'):
        raw, content_type = build_multipart_mixed(document, [])
        assert parse_multipart_mixed(raw, content_type) == ({"a": 1}, {})


# --------------------------------------------------------------------------- signatures


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def certificate(rsa_key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xapi test signer")])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(rsa_key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .sign(rsa_key, hashes.SHA256()))


def signed_request(stmt, jws):
    """The statement with its signature attachment and the matching parts, as an LRS receives them."""
    sig = {"usageType": SIGNATURE_USAGE_TYPE, "display": {"en-US": "Signature"},
           "contentType": "application/octet-stream", "length": len(jws), "sha2": hashlib.sha256(jws).hexdigest()}
    received = {**copy.deepcopy(stmt), "attachments": [sig]}
    return received, _parts(jws, content_type="application/octet-stream")


SIGNED = {"id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee", **statement()}


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_signed_statement_round_trip(rsa_key, certificate, algorithm):
    jws = sign_statement(SIGNED, rsa_key, algorithm=algorithm, certificates=[certificate])
    received, parts = signed_request(SIGNED, jws)
    check_attachments(validate_statements([received], "2.0.0"), parts)
    verify_signatures([received], parts)
    header = verify_signed_statement(received, jws)
    assert header["alg"] == algorithm and len(header["x5c"]) == 1


def test_signature_without_certificate_checks_structure_and_payload(rsa_key):
    jws = sign_statement(SIGNED, rsa_key)
    received, parts = signed_request(SIGNED, jws)
    verify_signatures([statement(), received], parts)
    verify_signed_statement(received, jws, public_key=rsa_key.public_key())


def test_signature_payload_ignores_lrs_assigned_properties(rsa_key):
    jws = sign_statement({k: v for k, v in SIGNED.items() if k != "id"}, rsa_key)
    received, _ = signed_request(SIGNED, jws)
    received.update(stored="2026-01-01T00:00:00Z", version="2.0.0", timestamp="2026-01-01T00:00:00Z")
    verify_signed_statement(received, jws)


def test_signature_payload_must_match(rsa_key, certificate):
    jws = sign_statement(SIGNED, rsa_key, certificates=[certificate])
    received, parts = signed_request({**SIGNED, "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"}}, jws)
    with pytest.raises(XAPIValidationError) as info:
        verify_signatures([received], parts)
    assert info.value.path == "[0].attachments[0]"
    assert "does not match" in info.value.message


def test_signature_wrong_key(rsa_key, certificate):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jws = sign_statement(SIGNED, other, certificates=[certificate])
    with pytest.raises(XAPIValidationError, match="does not verify"):
        verify_signed_statement(SIGNED, jws)


def test_signature_tampered_payload(rsa_key, certificate):
    jws = sign_statement(SIGNED, rsa_key, certificates=[certificate])
    header, _, signature = jws.split(b".")
    forged = base64.urlsafe_b64encode(json.dumps({**SIGNED, "result": {"success": True}}).encode()).rstrip(b"=")
    with pytest.raises(XAPIValidationError, match="does not verify"):
        verify_signed_statement(SIGNED, b".".join([header, forged, signature]))


def _token(header, payload, signature=b"c2ln"):
    enc = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=")
    return b".".join([enc(header), enc(payload), signature])


@pytest.mark.parametrize("jws,message", [
    (b"not a jws", "compact serialization"),
    (b"a.b", "compact serialization"),
    (_token(b'{"alg":"HS256"}', json.dumps(SIGNED).encode()), "RS256, RS384 or RS512"),
    (_token(b'{"alg":"none"}', json.dumps(SIGNED).encode(), b""), "RS256"),
    (_token(b'{"typ":"JWT"}', json.dumps(SIGNED).encode()), "RS256"),
    (_token(b'{"alg":"RS256"}', json.dumps(SIGNED).replace('"', "'", 1).encode()), "payload is not a valid JSON"),
    (_token(b'{"alg":"RS256"}', b"[1, 2]"), "payload must be a JSON object"),
    (_token(b"{alg}", b"{}"), "header is not a valid JSON"),
    (_token(b'{"alg":"RS256","crit":["x"]}', json.dumps(SIGNED).encode()), "crit"),
    (_token(b'{"alg":"RS256","x5c":"abc"}', json.dumps(SIGNED).encode()), "x5c"),
    (_token(b'{"alg":"RS256","x5c":["!!!"]}', json.dumps(SIGNED).encode()), "x5c"),
    (b"e30=.e30.c2ln", "base64url"),
    (_token(b'{"alg":"RS256"}', json.dumps(SIGNED).encode(), b"***"), "base64url"),
])
def test_malformed_signatures(jws, message):
    with pytest.raises(XAPIValidationError) as info:
        verify_signed_statement(SIGNED, jws)
    assert message in info.value.message


def test_hs256_signed_with_rsa_key_material_is_refused(rsa_key):
    # The suite signs with HS256 using the PEM as the secret: the algorithm alone must refuse it.
    import hmac

    header = base64.urlsafe_b64encode(b'{"alg":"HS256"}').rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(SIGNED).encode()).rstrip(b"=")
    mac = hmac.new(b"secret", header + b"." + payload, hashlib.sha256).digest()
    jws = header + b"." + payload + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")
    received, parts = signed_request(SIGNED, jws)
    with pytest.raises(XAPIValidationError, match="RS256"):
        verify_signatures([received], parts)


def test_x5c_with_non_rsa_key():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec")])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(2).not_valid_before(now).not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    from cryptography.hazmat.primitives.serialization import Encoding

    x5c = base64.b64encode(cert.public_bytes(Encoding.DER)).decode()
    jws = _token(json.dumps({"alg": "RS256", "x5c": [x5c]}).encode(), json.dumps(SIGNED).encode())
    with pytest.raises(XAPIValidationError, match="RSA"):
        verify_signed_statement(SIGNED, jws)


def test_two_signatures_refused(rsa_key):
    jws = sign_statement(SIGNED, rsa_key)
    received, parts = signed_request(SIGNED, jws)
    received["attachments"].append(copy.deepcopy(received["attachments"][0]))
    with pytest.raises(XAPIValidationError, match="only one signature"):
        verify_signatures([received], parts)


def test_sign_statement_rejects_other_algorithms(rsa_key):
    with pytest.raises(ValueError):
        sign_statement(SIGNED, rsa_key, algorithm="HS256")
