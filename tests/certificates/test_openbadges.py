"""Open Badges 3.0 credentials, verified with an independent implementation (PyJWT) against the key the
service publishes, and checked against the OB 3.0 data model's structural rules (OB 3.0 section 8.2)."""
from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import jwt
import pytest
import sqlalchemy as sa

from lms_service.accounts.models import User
from lms_service.certificates import services
from lms_service.certificates.models import Certificate
from lms_service.extensions import db

from .helpers import pass_module

SCHEMA = json.loads((Path(__file__).parent / "data" / "openbadge_credential.schema.json").read_text())


def _segments(token: str) -> tuple[dict, dict]:
    def decode(segment: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))

    header, payload, _signature = token.split(".")
    return decode(header), decode(payload)


@pytest.fixture
def issued(app, catalogue, create_user, client, auth):
    user_id = create_user(email="asa@example.se", display_name="Åsa Öberg", language="en")
    with app.app_context():
        pass_module(user_id, "a1-energy", scaled=0.9)
        cert = db.session.execute(sa.select(Certificate)).scalar_one()
        db.session.expunge(cert)
    auth.login("asa@example.se")
    response = client.get(f"/certificates/{cert.public_id}/credential.jwt")
    assert response.status_code == 200
    assert response.mimetype == "application/vc+jwt"
    assert "attachment" in response.headers["Content-Disposition"]
    return cert, response.get_data(as_text=True), user_id


def test_the_downloaded_credential_verifies_with_pyjwt_against_the_published_key(issued, client):
    cert, token, user_id = issued
    header, _payload = _segments(token)
    # OB 3.0: only alg, kid and typ; kid dereferences to the public JWK.
    assert set(header) == {"alg", "kid", "typ"} and header["alg"] == "EdDSA" and header["typ"] == "JWT"
    kid_url = urlparse(header["kid"])
    assert kid_url.netloc == "localhost"
    key_response = client.get(kid_url.path)
    assert key_response.status_code == 200
    jwk = key_response.get_json(force=True)
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk

    public_key = jwt.PyJWK(jwk, algorithm="EdDSA").key
    claims = jwt.decode(token, public_key, algorithms=["EdDSA"], options={"require": ["iss", "sub", "nbf", "jti"]})
    # The JWT claims agree with the credential (OB 3.0 "Verify a Credential VC-JWT Signature").
    assert claims["iss"] == claims["issuer"]["id"]
    assert claims["sub"] == claims["credentialSubject"]["id"]
    assert claims["jti"] == claims["id"] == f"http://localhost/verify/{cert.public_id}"
    assert claims["nbf"] == int(dt.datetime.fromisoformat(claims["validFrom"].replace("Z", "+00:00")).timestamp())
    assert claims["exp"] == int(dt.datetime.fromisoformat(claims["validUntil"].replace("Z", "+00:00")).timestamp())

    # The same key is in the JWK Set, and the issuer profile is served at the issuer id.
    jwks = client.get("/certificates/issuer/jwks.json").get_json()
    assert [k["x"] for k in jwks["keys"]] == [jwk["x"]]
    profile = client.get(urlparse(claims["iss"]).path)
    assert profile.status_code == 200 and profile.mimetype == "application/ld+json"
    body = profile.get_json(force=True)
    assert body["id"] == claims["iss"] and "Profile" in body["type"] and body["name"] == "Green transition modules"


def test_the_credential_follows_the_ob3_data_model_and_says_what_the_certificate_says(app, issued):
    cert, token, user_id = issued
    _header, claims = _segments(token)
    credential = {k: v for k, v in claims.items() if k not in {"iss", "sub", "jti", "nbf", "exp"}}
    validator = jsonschema.Draft201909Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(credential), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]

    subject = credential["credentialSubject"]
    assert subject["identifier"] == [{"type": "IdentityObject", "identityType": "name", "hashed": False,
                                      "identityHash": "Åsa Öberg"}]
    assert subject["achievement"]["id"] == cert.subject_iri
    assert subject["achievement"]["name"] == "Energy mapping"  # the learner's language (en)
    assert subject["achievement"]["version"] == "1.2.0"
    assert subject["result"][0]["value"] == "90"
    # No e-mail address or account name in the credential: the subject is a pseudonymous URN.
    with app.app_context():
        user = db.session.get(User, user_id)
    text = json.dumps(credential, ensure_ascii=False)
    assert user.email not in text and user.xapi_account_name not in text
    assert subject["id"].startswith("urn:uuid:")


def test_a_tampered_credential_or_another_key_fails_verification(issued, client):
    _cert, token, _user = issued
    header, claims = _segments(token)
    jwk = client.get(urlparse(header["kid"]).path).get_json(force=True)
    key = jwt.PyJWK(jwk, algorithm="EdDSA").key

    claims["credentialSubject"]["identifier"][0]["identityHash"] = "Someone Else"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    head, _payload, signature = token.split(".")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{head}.{forged_payload}.{signature}", key, algorithms=["EdDSA"])

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, Ed25519PrivateKey.generate().public_key(), algorithms=["EdDSA"])


def test_an_unknown_key_id_is_a_404(client, app):
    assert client.get("/certificates/issuer/keys/not-our-key").status_code == 404


def test_renewal_credentials_point_to_the_certificate_they_renew(ctx, catalogue, create_user):
    services.set_policy("https://id.lms-service.org/modules/a1-energy", 365, 60)
    user = db.session.get(User, create_user())
    start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    kwargs = dict(subject_kind="module", subject_iri="https://id.lms-service.org/modules/a1-energy",
                  title={"sv": "Energikartläggning", "en": "Energy mapping"}, version="1.2.0")
    first = services.issue_for_progress(user, basis="x@1", earned_at=start, **kwargs).certificate
    second = services.issue_for_progress(user, basis="x@2", earned_at=start + dt.timedelta(days=330),
                                         **kwargs).certificate
    credential = services.credential_for(second)
    related = credential["credentialSubject"]["achievement"]["related"]
    assert related[0]["id"] == services.verification_url(first.public_id)
