"""Reporting API tokens: create, list, revoke, and resolve a bearer token to the Viewer it acts as.

A token is ``lmsr_`` followed by 43 URL-safe characters (256 random bits); the service keeps its SHA-256
only, so a leaked database gives no usable token. A company token acts as that company's admin would; a
global token acts as a programme coordinator (aggregates, every company's figures, and individuals only of
companies that granted it). The ``reports:learners`` scope is needed for any row about an individual.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable

import sqlalchemy as sa
from flask_babel import gettext as _

from ..errors import UserError
from ..extensions import db
from ..orgs.models import Organisation
from ..timeutil import as_aware, utcnow
from .access import Viewer
from .models import TOKEN_SCOPES, ApiToken

PREFIX = "lmsr_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_scopes(raw: str | Iterable[str]) -> list[str]:
    """Scopes from a comma/space separated text or a list; refuses unknown ones and an empty list."""
    items = raw.replace(",", " ").split() if isinstance(raw, str) else [s for t in raw for s in t.replace(",", " ").split()]
    if not items:
        raise UserError(_("Choose at least one scope."), field="scopes")
    unknown = [s for s in items if s not in TOKEN_SCOPES]
    if unknown:
        raise UserError(_("Unknown scope %(scope)s; choose from %(choices)s.", scope=unknown[0][:40],
                          choices=", ".join(TOKEN_SCOPES)), field="scopes")
    return sorted(set(items), key=TOKEN_SCOPES.index)


def create_token(name: str, scopes: str | Iterable[str], organisation_id: int | None,
                 created_by_id: int | None = None, valid_days: int | None = None) -> tuple[ApiToken, str]:
    """Create a token and commit; returns the row and the token text (shown once, stored hashed)."""
    name = (name or "").strip()
    if not name or len(name) > 200 or not name.isprintable():
        raise UserError(_("Give the token a name of 1 to 200 printable characters."), field="name")
    scope_list = parse_scopes(scopes)
    if organisation_id is not None and db.session.get(Organisation, organisation_id) is None:
        raise UserError(_("There is no company with id %(id)s.", id=organisation_id), field="organisation")
    if valid_days is not None and not 1 <= valid_days <= 3650:
        raise UserError(_("A token is valid for 1 to 3650 days."), field="valid_days")
    text = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, prefix=text[:12], token_hash=_digest(text), scopes=" ".join(scope_list),
                     organisation_id=organisation_id, created_by_id=created_by_id,
                     expires_at=utcnow() + dt.timedelta(days=valid_days) if valid_days else None)
    db.session.add(token)
    db.session.commit()
    return token, text


def list_tokens(organisation_id: int | None = None, every: bool = False) -> list[ApiToken]:
    """Tokens of one company, or with ``every`` all tokens (global ones included), newest first."""
    query = sa.select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if not every:
        query = query.where(ApiToken.organisation_id == organisation_id)
    return list(db.session.execute(query).scalars())


def company_names(tokens: list[ApiToken]) -> dict[int, str]:
    """The names of the companies the tokens are tied to, by id."""
    ids = {t.organisation_id for t in tokens if t.organisation_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))).all())


def revoke_token(token_id: int, organisation_id: int | None = None, every: bool = False) -> ApiToken:
    """Revoke a token of the company (or with ``every`` any token) and commit; unknown ones are a 404."""
    token = db.session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    if token is None or (not every and token.organisation_id != organisation_id):
        raise UserError(_("There is no such token."), status=404)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token


def viewer_for_token(text: str, now: dt.datetime | None = None) -> Viewer | None:
    """The Viewer a bearer token acts as, or None when it is unknown, revoked or expired."""
    if not text.startswith(PREFIX) or len(text) > 100:
        return None
    digest = _digest(text)
    token = db.session.execute(sa.select(ApiToken).where(ApiToken.token_hash == digest)).scalar_one_or_none()
    # compare_digest: the lookup is by digest already, this keeps the final check constant-time too.
    if token is None or not hmac.compare_digest(token.token_hash, digest) or token.revoked_at is not None:
        return None
    if token.expires_at is not None and as_aware(token.expires_at) <= (now or utcnow()):
        return None
    scopes = token.scope_set
    if "reports:aggregates" not in scopes and "reports:learners" not in scopes:
        return None
    return Viewer(token.organisation_id, programme=token.organisation_id is None,
                  individuals="reports:learners" in scopes, label=f"token {token.prefix}")


def token_status(token: ApiToken, now: dt.datetime | None = None) -> str:
    """active | revoked | expired"""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and as_aware(token.expires_at) <= (now or utcnow()):
        return "expired"
    return "active"
