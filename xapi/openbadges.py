"""Open Badges 3.0 credentials: build an OpenBadgeCredential and sign it as a VC-JWT with EdDSA (Ed25519).

Framework-free (no Flask): the certificates feature passes in plain values. The credential follows the
OB 3.0 data model on the W3C Verifiable Credentials data model 2.0 (``validFrom``/``validUntil``, the
``credentials/v2`` context); the proof is the spec's "JSON Web Token Proof Format": a compact JWS whose
payload is the credential itself plus the registered claims ``iss``, ``jti``, ``sub``, ``nbf`` and (when
the credential expires) ``exp``, and whose JOSE header holds only ``alg``, ``kid`` and ``typ``.

OB 3.0 names RS256 as the algorithm every verifier must support and allows others; Ed25519 keeps keys and
signatures small and is what the project chose. ``kid`` is an HTTP URL that dereferences to the public JWK.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "CONTEXTS", "CredentialInput", "IssuerProfile", "build_credential", "generate_private_key", "jwk_thumbprint",
    "jwt_claims", "load_private_key", "private_key_pem", "public_jwk", "sign_compact_jws", "sign_vc_jwt",
]

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CONTEXTS = [VC_CONTEXT, OB_CONTEXT]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode("utf-8")


def _timestamp(moment: dt.datetime) -> str:
    """An XML Schema dateTime in UTC with a Z, to the second (what OB 3.0's DateTime examples use)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------------ keys


def generate_private_key() -> Ed25519PrivateKey:
    """A new Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def load_private_key(pem: bytes | str) -> Ed25519PrivateKey:
    """Load an unencrypted PKCS#8 PEM Ed25519 private key; raises ValueError for anything else."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the signing key must be an Ed25519 private key (PEM, PKCS#8)")
    return key


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM (what ``openssl genpkey -algorithm ed25519`` writes)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_jwk(key: Ed25519PrivateKey | Ed25519PublicKey, kid: str | None = None) -> dict[str, str]:
    """The public key as an RFC 8037 OKP JWK (never the private part ``d``)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}
    if kid is not None:
        jwk.update({"kid": kid, "alg": "EdDSA", "use": "sig"})
    return jwk


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """The RFC 7638 SHA-256 thumbprint of an OKP JWK: a stable name for the key."""
    required = {name: jwk[name] for name in ("crv", "kty", "x")}
    digest = hashlib.sha256(json.dumps(required, separators=(",", ":"), sort_keys=True).encode("utf-8")).digest()
    return _b64url(digest)


# ------------------------------------------------------------------------------------------------ credential


@dataclass(frozen=True)
class IssuerProfile:
    """The issuing organisation as an OB 3.0 Profile."""

    id: str  # a URL that returns this profile
    name: str
    url: str | None = None
    email: str | None = None
    description: str | None = None

    def as_json(self, *, with_context: bool = False) -> dict[str, Any]:
        """The profile as JSON-LD (with the @context when served on its own)."""
        profile: dict[str, Any] = {}
        if with_context:
            profile["@context"] = list(CONTEXTS)
        profile.update({"id": self.id, "type": ["Profile"], "name": self.name})
        if self.url:
            profile["url"] = self.url
        if self.email:
            profile["email"] = self.email
        if self.description:
            profile["description"] = self.description
        return profile


@dataclass(frozen=True)
class CredentialInput:
    """What one certificate says, in the language it is issued in."""

    credential_id: str  # the public verification URL
    subject_id: str  # a pseudonymous URN for the learner (never an e-mail address)
    learner_name: str
    achievement_id: str  # the module or learning path IRI
    achievement_name: str
    achievement_description: str
    criteria: str
    language: str  # 'sv' or 'en'
    valid_from: dt.datetime
    valid_until: dt.datetime | None = None
    version: str | None = None
    score_percent: int | None = None
    credential_name: str | None = None
    renewal_of: str | None = None  # the credential id this one renews
    extra_achievement: dict[str, Any] = field(default_factory=dict)


def build_credential(data: CredentialInput, issuer: IssuerProfile) -> dict[str, Any]:
    """An OpenBadgeCredential (OB 3.0 on VC data model 2.0) for one certificate, without a proof."""
    achievement: dict[str, Any] = {
        "id": data.achievement_id,
        "type": ["Achievement"],
        "achievementType": "Certificate",
        "name": data.achievement_name,
        "description": data.achievement_description,
        "criteria": {"narrative": data.criteria},
        "inLanguage": data.language,
    }
    if data.version:
        achievement["version"] = data.version
    subject: dict[str, Any] = {
        "id": data.subject_id,
        "type": ["AchievementSubject"],
        # OB 3.0 carries a plain name as an IdentityObject of type "name" (hashed false).
        "identifier": [{"type": "IdentityObject", "identityType": "name", "hashed": False,
                        "identityHash": data.learner_name}],
        "achievement": achievement,
    }
    if data.score_percent is not None:
        description_id = f"{data.credential_id}#score"
        achievement["resultDescription"] = [{"id": description_id, "type": ["ResultDescription"],
                                             "name": "Score", "resultType": "Percent"}]
        subject["result"] = [{"type": ["Result"], "resultDescription": description_id,
                              "value": str(data.score_percent)}]
    achievement.update(data.extra_achievement)
    credential: dict[str, Any] = {
        "@context": list(CONTEXTS),
        "id": data.credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer.as_json(),
        "validFrom": _timestamp(data.valid_from),
        "name": data.credential_name or data.achievement_name,
        "credentialSubject": subject,
    }
    if data.valid_until is not None:
        credential["validUntil"] = _timestamp(data.valid_until)
    subject["activityEndDate"] = credential["validFrom"]
    if data.renewal_of:
        # Related is OB 3.0's link between versions of the same thing; here: the certificate this one renews.
        achievement.setdefault("related", []).append({"id": data.renewal_of, "type": ["Related"],
                                                      "inLanguage": data.language})
    return credential


def _numeric_date(text: str) -> int:
    return int(dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp())


def jwt_claims(credential: dict[str, Any]) -> dict[str, Any]:
    """The JWT payload: the credential plus iss, jti, sub, nbf and exp as OB 3.0 section 8.2 requires."""
    issuer = credential["issuer"]
    claims = dict(credential)
    claims["iss"] = issuer["id"] if isinstance(issuer, dict) else issuer
    claims["jti"] = credential["id"]
    claims["sub"] = credential["credentialSubject"]["id"]
    claims["nbf"] = _numeric_date(credential["validFrom"])
    if credential.get("validUntil"):
        claims["exp"] = _numeric_date(credential["validUntil"])
    return claims


def sign_compact_jws(header: dict[str, Any], payload: bytes, key: Ed25519PrivateKey) -> str:
    """RFC 7515 compact serialization signed with EdDSA/Ed25519 (RFC 8037); ``header`` must say alg EdDSA."""
    if header.get("alg") != "EdDSA":
        raise ValueError("an Ed25519 key signs with alg EdDSA")
    signing_input = _b64url(_compact_json(header)) + "." + _b64url(payload)
    return signing_input + "." + _b64url(key.sign(signing_input.encode("ascii")))


def sign_vc_jwt(credential: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> str:
    """Sign ``credential`` as a compact JWS (VC-JWT, alg EdDSA); ``kid`` must dereference to the public JWK."""
    return sign_compact_jws({"alg": "EdDSA", "kid": kid, "typ": "JWT"}, _compact_json(jwt_claims(credential)), key)
