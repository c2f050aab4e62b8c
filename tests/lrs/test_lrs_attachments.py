"""Attachments (multipart/mixed in and out, sha2 matching, fileUrl-only) and signed statements."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lrs_helpers import make_statement, new_id

from lms_service.extensions import db
from lms_service.lrs.models import Attachment, Statement
from xapi import multipart, signatures

SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"


def attachment_meta(content: bytes, content_type: str = "text/plain", **extra) -> dict:
    return {
        "usageType": "http://example.com/attachment-usage/test",
        "display": {"en-US": "A file"},
        "contentType": content_type,
        "length": len(content),
        "sha2": hashlib.sha256(content).hexdigest(),
        **extra,
    }


def post_multipart(xapi, statements, parts):
    body, content_type = multipart.build_multipart_mixed(statements, parts)
    return xapi.post("statements", data=body, headers={"Content-Type": content_type})


def count(app, model) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def test_multipart_in_and_out(app, xapi):
    content = b"hello attachments"
    statement = make_statement(attachments=[attachment_meta(content)])
    sha2 = statement["attachments"][0]["sha2"]
    response = post_multipart(xapi, statement, [(sha2, "text/plain", content)])
    assert response.status_code == 200, response.get_json()
    statement_id = response.get_json()[0]

    got = xapi.get("statements", query={"statementId": statement_id, "attachments": "true"})
    assert got.status_code == 200
    assert got.headers["Content-Type"].startswith("multipart/mixed")
    message = email.message_from_bytes(
        b"Content-Type: " + got.headers["Content-Type"].encode() + b"\r\n\r\n" + got.data,
        policy=email.policy.HTTP,
    )
    parts = list(message.iter_parts())
    assert parts[0].get_content_type() == "application/json"
    assert parts[1]["X-Experience-API-Hash"] == sha2
    assert parts[1].get_payload(decode=True) == content

    query = xapi.get("statements", query={"attachments": "true"})
    assert query.headers["Content-Type"].startswith("multipart/mixed")
    assert content in query.data


def test_missing_part_is_400_and_stores_nothing(app, xapi):
    statement = make_statement(attachments=[attachment_meta(b"never sent")])
    response = xapi.post_statements(statement)
    assert response.status_code == 400
    assert "attachments" in response.get_json()["error"].get("path", "")
    assert count(app, Statement) == 0


def test_part_with_wrong_hash_is_400(app, xapi):
    content = b"real content"
    statement = make_statement(attachments=[attachment_meta(content)])
    body, content_type = multipart.build_multipart_mixed(statement, [("0" * 64, "text/plain", content)])
    response = xapi.post("statements", data=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert count(app, Statement) == 0 and count(app, Attachment) == 0


def test_file_url_only_attachment_needs_no_part(app, xapi):
    meta = attachment_meta(b"remote", fileUrl="http://example.com/files/remote.txt")
    response = xapi.post_statements(make_statement(attachments=[meta]))
    assert response.status_code == 200
    assert count(app, Attachment) == 0


@pytest.fixture(scope="module")
def signing_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test signer")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, certificate


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_signed_statement_is_accepted(app, xapi, signing_key, algorithm):
    key, certificate = signing_key
    statement = make_statement(id=new_id())
    jws = signatures.sign_statement(statement, key, algorithm=algorithm, certificates=[certificate])
    statement["attachments"] = [attachment_meta(jws, "application/octet-stream", usageType=SIGNATURE)]
    response = post_multipart(
        xapi, statement, [(statement["attachments"][0]["sha2"], "application/octet-stream", jws)]
    )
    assert response.status_code == 200, response.get_json()


def test_signature_that_does_not_match_the_statement_is_400(app, xapi, signing_key):
    key, certificate = signing_key
    statement = make_statement(id=new_id())
    jws = signatures.sign_statement(statement, key, certificates=[certificate])
    statement["verb"]["id"] = "http://adlnet.gov/expapi/verbs/failed"  # changed after signing
    statement["attachments"] = [attachment_meta(jws, "application/octet-stream", usageType=SIGNATURE)]
    response = post_multipart(
        xapi, statement, [(statement["attachments"][0]["sha2"], "application/octet-stream", jws)]
    )
    assert response.status_code == 400
    assert count(app, Statement) == 0


def test_overlong_content_type_is_400(app, xapi):
    content = b"data"
    long_type = "text/plain; " + "; ".join(f"p{i}=v" for i in range(60))
    statement = make_statement(attachments=[attachment_meta(content, long_type)])
    response = post_multipart(xapi, statement, [(statement["attachments"][0]["sha2"], long_type, content)])
    assert response.status_code == 400
    assert count(app, Statement) == 0
