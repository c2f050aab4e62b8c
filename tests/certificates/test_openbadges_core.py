"""xapi/openbadges.py without Flask: the signing primitive against RFC 8037's Ed25519 test vectors, and the
credential and JWT claims OB 3.0 section 8.2 asks for."""
from __future__ import annotations

import base64
import datetime as dt
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from xapi import openbadges

# RFC 8037, Appendix A.1-A.4 (Ed25519 key, its JWK thumbprint and a signed JWS).
RFC_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC_JWS = ("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
           "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")


def _rfc_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(RFC_D + "="))


def test_rfc8037_vectors():
    key = _rfc_key()
    jwk = openbadges.public_jwk(key)
    assert jwk == {"kty": "OKP", "crv": "Ed25519", "x": RFC_X}
    assert openbadges.jwk_thumbprint(jwk) == RFC_THUMBPRINT
    assert openbadges.sign_compact_jws({"alg": "EdDSA"}, b"Example of Ed25519 signing", key) == RFC_JWS
    with pytest.raises(ValueError):
        openbadges.sign_compact_jws({"alg": "RS256"}, b"x", key)


def test_keys_round_trip_through_pem_and_refuse_other_kinds():
    key = openbadges.generate_private_key()
    again = openbadges.load_private_key(openbadges.private_key_pem(key))
    assert openbadges.public_jwk(again) == openbadges.public_jwk(key)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ValueError, match="Ed25519"):
        openbadges.load_private_key(other)
    # A JWK with a kid never carries the private part.
    assert "d" not in openbadges.public_jwk(key, kid="https://example.se/keys/1")


def _credential(**overrides):
    data = dict(credential_id="https://lms.example.se/verify/abc", subject_id="urn:uuid:1f0e6c52-0000-4000-8000-000000000000",
                learner_name="Åsa Öberg", achievement_id="https://id.example.se/modules/a1",
                achievement_name="Energikartläggning", achievement_description="Intyg för Energikartläggning.",
                criteria="Godkänd på modulen.", language="sv",
                valid_from=dt.datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=dt.UTC),
                valid_until=dt.datetime(2029, 3, 1, 8, 30, 15, tzinfo=dt.UTC), version="1.0.0",
                score_percent=80)
    data.update(overrides)
    issuer = openbadges.IssuerProfile(id="https://lms.example.se/certificates/issuer", name="Exempel AB",
                                      url="https://lms.example.se")
    return openbadges.build_credential(openbadges.CredentialInput(**data), issuer)


def test_jwt_claims_mirror_the_credential():
    credential = _credential()
    assert credential["validFrom"] == "2026-03-01T08:30:15Z"
    claims = openbadges.jwt_claims(credential)
    assert claims["iss"] == "https://lms.example.se/certificates/issuer"
    assert claims["jti"] == "https://lms.example.se/verify/abc"
    assert claims["sub"] == credential["credentialSubject"]["id"]
    assert claims["nbf"] == int(dt.datetime(2026, 3, 1, 8, 30, 15, tzinfo=dt.UTC).timestamp())
    assert claims["exp"] == int(dt.datetime(2029, 3, 1, 8, 30, 15, tzinfo=dt.UTC).timestamp())
    no_expiry = openbadges.jwt_claims(_credential(valid_until=None, score_percent=None))
    assert "exp" not in no_expiry and "validUntil" not in no_expiry
    assert "result" not in no_expiry["credentialSubject"]


def test_a_signed_credential_verifies_with_pyjwt_and_keeps_utf8():
    key = openbadges.generate_private_key()
    token = openbadges.sign_vc_jwt(_credential(), key, "https://lms.example.se/certificates/issuer/keys/k1")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "EdDSA", "kid": "https://lms.example.se/certificates/issuer/keys/k1", "typ": "JWT"}
    claims = jwt.decode(token, key.public_key(), algorithms=["EdDSA"],
                        options={"verify_exp": False, "verify_nbf": False})
    assert claims["credentialSubject"]["identifier"][0]["identityHash"] == "Åsa Öberg"
