"""LRS credentials: create, list, revoke, and check HTTP Basic key/secret pairs."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from .models import LRSClient, utcnow

SCOPES = (
    "statements/write",
    "statements/read",
    "statements/read/mine",
    "state",
    "define",
    "profile",
    "all/read",
    "all",
)


class ClientError(ValueError):
    """A credential request that cannot be carried out (unknown scope, unknown organisation ...)."""


@dataclass(frozen=True)
class Credential:
    """What a request may do, resolved from its credential (detached from the ORM session)."""

    client_id: int | None
    name: str
    scopes: frozenset[str]
    organisation_id: int | None

    def allows(self, needed: str) -> bool:
        """Whether the credential grants scope ``needed`` (a read scope is implied by all/read and all)."""
        if "all" in self.scopes or needed in self.scopes:
            return True
        if (
            needed in {"statements/read", "state/read", "profile/read", "statements/read/mine"}
            and "all/read" in self.scopes
        ):
            return True
        if needed == "statements/read/mine" and "statements/read" in self.scopes:
            return True
        return False

    @property
    def reads_only_own(self) -> bool:
        """True when the credential may read only the statements it stored itself."""
        return (
            not (self.scopes & {"all", "all/read", "statements/read"})
            and "statements/read/mine" in self.scopes
        )

    @property
    def refers_only_own(self) -> bool:
        """True when the credential may refer only to the statements it stored itself (see ``may_refer_to``)."""
        return not (self.scopes & {"all", "all/read", "statements/read"})

    def may_refer_to(self, organisation_id: int | None, client_id: int | None) -> bool:
        """Whether statements this credential stores may void, re-send or answer to the filters of a stored
        statement of ``organisation_id`` stored by ``client_id``.

        The read rule of ``query._scope``: an organisation's credential reaches its organisation's statements
        only, and one that reads only its own statements (or reads none: a write-only credential) only the
        statements it stored. Anything else would let one tenant void another's statements or probe them.
        """
        if self.organisation_id is not None and organisation_id != self.organisation_id:
            return False
        return not self.refers_only_own or client_id == self.client_id

    def authority(self) -> dict:
        """The Agent recorded as the authority of statements this credential stores."""
        base = current_app.config.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
        name = f"client-{self.client_id}" if self.client_id is not None else "service"
        return {"objectType": "Agent", "name": self.name, "account": {"homePage": base, "name": name}}


def service_credential() -> Credential:
    """The credential of the service itself (the native player): every scope, no organisation."""
    return Credential(None, "lms_service", frozenset({"all"}), None)


def credentials_by_id(client_ids: set[int]) -> dict[int, Credential]:
    """The credentials with these ids, revoked ones included (scopes never change after creation, so they
    say what a credential could do when it stored a statement)."""
    if not client_ids:
        return {}
    rows = db.session.execute(
        sa.select(LRSClient.id, LRSClient.name, LRSClient.scopes, LRSClient.organisation_id).where(
            LRSClient.id.in_(client_ids)
        )
    )
    return {row.id: Credential(row.id, row.name, frozenset(row.scopes.split()), row.organisation_id) for row in rows}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_scopes(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """Split a comma/space separated scope list and reject unknown scopes."""
    items = (
        text.replace(",", " ").split()
        if isinstance(text, str)
        else [s for t in text for s in t.replace(",", " ").split()]
    )
    if not items:
        raise ClientError("at least one scope is required")
    unknown = [s for s in items if s not in SCOPES]
    if unknown:
        raise ClientError(f"unknown scope {unknown[0]!r}; choose from {', '.join(SCOPES)}")
    return sorted(set(items), key=SCOPES.index)


def create_client(
    name: str, scopes: list[str] | str, organisation_id: int | None = None
) -> tuple[LRSClient, str]:
    """Create a credential and commit; returns the client and its secret (shown once, stored hashed)."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ClientError("a name of 1 to 200 characters is required")
    scope_list = parse_scopes(scopes)
    if organisation_id is not None:
        from ..orgs.models import Organisation

        if db.session.get(Organisation, organisation_id) is None:
            raise ClientError(f"no organisation with id {organisation_id}")
    secret = secrets.token_urlsafe(32)
    client = LRSClient(
        name=name,
        key=secrets.token_hex(16),
        secret_hash=_hash(secret),
        scopes=" ".join(scope_list),
        organisation_id=organisation_id,
    )
    db.session.add(client)
    db.session.commit()
    return client, secret


def list_clients(include_revoked: bool = True) -> list[LRSClient]:
    """All credentials, newest first."""
    query = sa.select(LRSClient).order_by(LRSClient.id.desc())
    if not include_revoked:
        query = query.where(LRSClient.revoked.is_(None))
    return list(db.session.execute(query).scalars())


def revoke_client(key_or_id: str | int) -> LRSClient:
    """Revoke a credential by key or numeric id and commit; revoking twice is harmless."""
    client = None
    if isinstance(key_or_id, int) or str(key_or_id).isdigit():
        client = db.session.get(LRSClient, int(key_or_id))
    if client is None:
        client = db.session.execute(
            sa.select(LRSClient).where(LRSClient.key == str(key_or_id))
        ).scalar_one_or_none()
    if client is None:
        raise ClientError(f"no LRS client {key_or_id!r}")
    if client.revoked is None:
        client.revoked = utcnow()
        db.session.commit()
    clear_auth_cache()
    return client


# Successful authentications, cached per process for a moment: a credential check is a query on every
# request, and xAPI clients send many small requests. Revocation therefore takes effect in this process
# at once (revoke_client clears the cache) and in other worker processes within AUTH_CACHE_SECONDS.
AUTH_CACHE_SECONDS = 2.0
_auth_cache: dict[tuple[str, str], tuple[float, Credential]] = {}


def clear_auth_cache() -> None:
    """Forget cached authentications (after a revocation, and in tests)."""
    _auth_cache.clear()


def authenticate(key: str, secret: str) -> Credential | None:
    """The credential for a key/secret pair, or None when unknown, wrong or revoked."""
    digest = _hash(secret)
    cached = _auth_cache.get((key, digest))
    now = time.monotonic()
    if cached is not None and now - cached[0] < AUTH_CACHE_SECONDS:
        return cached[1]
    row = db.session.execute(
        sa.select(
            LRSClient.id,
            LRSClient.name,
            LRSClient.secret_hash,
            LRSClient.scopes,
            LRSClient.organisation_id,
            LRSClient.revoked,
        ).where(LRSClient.key == key)
    ).first()
    # Compare in constant time even when the key is unknown, so timing does not reveal valid keys.
    expected = row.secret_hash if row is not None else "0" * 64
    ok = hmac.compare_digest(expected, digest)
    if row is None or not ok or row.revoked is not None:
        return None
    credential = Credential(row.id, row.name, frozenset(row.scopes.split()), row.organisation_id)
    if len(_auth_cache) > 1000:
        _auth_cache.clear()
    _auth_cache[(key, digest)] = (now, credential)
    return credential
