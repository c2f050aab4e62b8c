"""Forwarded actors are pseudonymous accounts, never e-mail addresses or names.

The native player only ever writes ``{"account": {"homePage": BASE_URL, "name": <opaque id>}}``. External
xAPI clients may send ``mbox`` (or ``mbox_sha1sum``) agents; before a statement leaves the service:

- an ``mbox`` that is the e-mail address of a known user becomes that user's pseudonymous account, so the
  target sees one learner whichever way the statement arrived;
- any other ``mbox`` or ``mbox_sha1sum`` becomes a stable keyed pseudonym: the account
  ``{"homePage": BASE_URL, "name": "ext-" + HMAC-SHA256(key, IFI)[:28 hex]}``, the same for every
  statement of that agent, not reversible without the service's key;
- ``name`` is removed from every Agent (a person's name is personal data the target does not need);
- ``authority``, ``stored`` and ``version`` are removed: the target assigns its own.

``openid`` and ``account`` agents are forwarded unchanged (apart from ``name``).
"""
from __future__ import annotations

import copy
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from ..accounts.models import User
from ..extensions import db


def _agents(statement: dict) -> Iterable[dict]:
    """Every Agent/Group dict inside a statement (actor, object, context, SubStatement), members too."""
    def actor(obj: Any) -> Iterable[dict]:
        if isinstance(obj, dict):
            yield obj
            for member in obj.get("member") or ():
                if isinstance(member, dict):
                    yield member

    def walk(stmt: dict) -> Iterable[dict]:
        yield from actor(stmt.get("actor"))
        obj = stmt.get("object")
        if isinstance(obj, dict) and obj.get("objectType") in ("Agent", "Group"):
            yield from actor(obj)
        context = stmt.get("context")
        if isinstance(context, dict):
            yield from actor(context.get("instructor"))
            yield from actor(context.get("team"))
            for item in context.get("contextAgents") or ():
                if isinstance(item, dict):
                    yield from actor(item.get("agent"))
            for item in context.get("contextGroups") or ():
                if isinstance(item, dict):
                    yield from actor(item.get("group"))
        if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
            yield from walk(obj)

    yield from walk(statement)


def mbox_emails(statements: Iterable[dict]) -> set[str]:
    """The lower-cased e-mail addresses of every mbox agent in the statements."""
    found = set()
    for statement in statements:
        for agent in _agents(statement):
            mbox = agent.get("mbox")
            if isinstance(mbox, str) and mbox.lower().startswith("mailto:"):
                found.add(mbox[7:].lower())
    return found


def known_accounts(emails: set[str]) -> dict[str, str]:
    """E-mail address -> pseudonymous account name of the users that have one of ``emails``."""
    if not emails:
        return {}
    rows = db.session.execute(sa.select(User.email, User.xapi_account_name).where(User.email.in_(emails)))
    return {email.lower(): name for email, name in rows}


def pseudonymise(statement: dict, *, home_page: str, accounts: dict[str, str], key: bytes,
                 in_place: bool = False) -> dict:
    """``statement`` made fit to leave the service (see the module docstring): a copy, or the same dict
    changed when ``in_place`` (the worker's bodies are freshly parsed from the database, and copying
    them was a tenth of its time)."""
    out = statement if in_place else copy.deepcopy(statement)
    for prop in ("authority", "stored", "version"):
        out.pop(prop, None)
    for agent in _agents(out):
        is_agent = agent.get("objectType", "Agent") == "Agent"
        if "mbox" in agent or "mbox_sha1sum" in agent:
            ifi_key = "mbox" if "mbox" in agent else "mbox_sha1sum"
            value = agent.pop(ifi_key)
            name = None
            if ifi_key == "mbox" and isinstance(value, str) and value.lower().startswith("mailto:"):
                name = accounts.get(value[7:].lower())
            if name is None:
                digest = hmac.new(key, f"{ifi_key}:{str(value).lower()}".encode(), hashlib.sha256).hexdigest()
                name = "ext-" + digest[:28]
            agent["account"] = {"homePage": home_page, "name": name}
        if is_agent:
            agent.pop("name", None)
    return out
