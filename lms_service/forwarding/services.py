"""Forwarding services: targets, the outbox hook in the ingest transaction, dead letters, health.

Each public function that writes owns its transaction (commits or rolls back), except the ingest hook,
which runs inside the ingest transaction on purpose. The worker's claim/send/record cycle lives in
``worker.py``.
"""
from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..lrs.models import Statement, utcnow
from .crypto import encrypt_secret
from .models import DEAD, FAILED, QUEUED, SENDING, SENT, STATES, VERSIONS, ForwardTarget, OutboxEntry

_IRI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
MAX_BATCH = 500


class TargetError(ValueError):
    """A target request that cannot be carried out; ``field`` names the offending input."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def backoff_seconds(failures: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half the delay fixed, half random, capped at ``cap``.

    Jitter keeps many workers (or many targets coming back at once) from retrying in lockstep.
    """
    exponent = min(max(failures, 1) - 1, 30)
    delay = min(cap, base * (2 ** exponent))
    return delay / 2 + (rng or random).uniform(0, delay / 2)


# --------------------------------------------------------------------------- targets

def _clean_iri(value: str | None, field: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > 2048 or not _IRI_RE.fullmatch(value):
        raise TargetError(f"{field} must be an absolute IRI such as http://adlnet.gov/expapi/verbs/completed",
                          field)
    return value


def _validate(values: dict) -> dict:
    from xapi.client import EndpointError, validate_endpoint

    out = dict(values)
    if "name" in out:
        name = (out["name"] or "").strip()
        if not name or len(name) > 100:
            raise TargetError("a name of 1 to 100 characters is required", "name")
        if name.isdigit():
            raise TargetError("the name must not be a number (numbers refer to target ids)", "name")
        out["name"] = name
    if "endpoint" in out:
        try:
            out["endpoint"] = validate_endpoint(out["endpoint"])
        except EndpointError as error:
            raise TargetError(str(error), "endpoint") from None
        if len(out["endpoint"]) > 2048:
            raise TargetError("the endpoint URL is too long (2048 characters at most)", "endpoint")
    if "key" in out:
        key = (out["key"] or "").strip()
        if not key or len(key) > 255 or ":" in key:
            raise TargetError("a key of 1 to 255 characters without ':' is required", "key")
        out["key"] = key
    if "secret" in out:
        if not out["secret"] or len(out["secret"]) > 1000:
            raise TargetError("a secret of 1 to 1000 characters is required", "secret")
    if "xapi_version" in out and out["xapi_version"] not in VERSIONS:
        raise TargetError(f"the xAPI version must be one of {', '.join(VERSIONS)}", "xapi_version")
    if "filter_verb" in out:
        out["filter_verb"] = _clean_iri(out["filter_verb"], "filter_verb")
    if "filter_activity" in out:
        out["filter_activity"] = _clean_iri(out["filter_activity"], "filter_activity")
    if out.get("filter_organisation_id") is not None:
        from ..orgs.models import Organisation

        if db.session.get(Organisation, out["filter_organisation_id"]) is None:
            raise TargetError(f"no organisation with id {out['filter_organisation_id']}", "filter_organisation_id")
    if "batch_size" in out:
        size = out["batch_size"]
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_BATCH:
            raise TargetError(f"the batch size must be a whole number from 1 to {MAX_BATCH}", "batch_size")
    return out


def _name_taken(name: str, except_id: int | None = None) -> bool:
    query = sa.select(ForwardTarget.id).where(sa.func.lower(ForwardTarget.name) == name.lower())
    if except_id is not None:
        query = query.where(ForwardTarget.id != except_id)
    return db.session.execute(query).first() is not None


def create_target(name: str, endpoint: str, key: str, secret: str, *, xapi_version: str = "2.0.0",
                  filter_organisation_id: int | None = None, filter_verb: str | None = None,
                  filter_activity: str | None = None, enabled: bool = True, batch_size: int = 100,
                  post_batches: bool = False) -> ForwardTarget:
    """Create a target and commit. It receives statements stored from now on (see ``backfill``)."""
    values = _validate({"name": name, "endpoint": endpoint, "key": key, "secret": secret,
                        "xapi_version": xapi_version, "filter_organisation_id": filter_organisation_id,
                        "filter_verb": filter_verb, "filter_activity": filter_activity, "batch_size": batch_size})
    if _name_taken(values["name"]):
        raise TargetError(f"a target named {values['name']!r} exists already", "name")
    secret_value = values.pop("secret")
    target = ForwardTarget(**values, secret_encrypted=encrypt_secret(secret_value), enabled=bool(enabled),
                           post_batches=bool(post_batches))
    db.session.add(target)
    db.session.commit()
    return target


def get_target(name_or_id: str | int) -> ForwardTarget:
    """A target by id or name (case-insensitive); TargetError when there is none."""
    target = None
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        target = db.session.get(ForwardTarget, int(name_or_id))
    if target is None:
        target = db.session.execute(sa.select(ForwardTarget).where(
            sa.func.lower(ForwardTarget.name) == str(name_or_id).strip().lower())).scalar_one_or_none()
    if target is None:
        raise TargetError(f"no forwarding target {name_or_id!r}")
    return target


def list_targets() -> list[ForwardTarget]:
    """Every target, by name."""
    return list(db.session.execute(sa.select(ForwardTarget).order_by(ForwardTarget.name)).scalars())


UPDATABLE = {"name", "endpoint", "key", "secret", "xapi_version", "filter_organisation_id", "filter_verb",
             "filter_activity", "enabled", "batch_size", "post_batches"}


def update_target(name_or_id: str | int, **changes) -> ForwardTarget:
    """Change a target's settings and commit; a new endpoint or credential is tried again at once."""
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise TargetError(f"unknown setting {sorted(unknown)[0]!r}")
    target = get_target(name_or_id)
    values = _validate(changes)
    if "name" in values and _name_taken(values["name"], target.id):
        raise TargetError(f"a target named {values['name']!r} exists already", "name")
    if "secret" in values:
        target.secret_encrypted = encrypt_secret(values.pop("secret"))
    for field, value in values.items():
        setattr(target, field, bool(value) if field in ("enabled", "post_batches") else value)
    target.updated = utcnow()
    # A fixed credential or URL should not wait out the backoff of the broken one.
    target.blocked_until = None
    target.failures = 0
    db.session.execute(sa.update(OutboxEntry).where(OutboxEntry.target_id == target.id,
                                                    OutboxEntry.state == FAILED)
                       .values(next_attempt_at=utcnow()))
    db.session.commit()
    return target


def delete_target(name_or_id: str | int) -> str:
    """Delete a target and its outbox rows (sent or not) and commit; returns its name."""
    target = get_target(name_or_id)
    name = target.name
    db.session.execute(sa.delete(OutboxEntry).where(OutboxEntry.target_id == target.id))
    db.session.delete(target)
    db.session.commit()
    return name


def retry_dead(name_or_id: str | int) -> int:
    """Queue a target's dead letters (rejected or flagged) again and commit; returns how many."""
    target = get_target(name_or_id)
    now = utcnow()
    result: Any = db.session.execute(
        sa.update(OutboxEntry).where(OutboxEntry.target_id == target.id, OutboxEntry.state == DEAD)
        .values(state=QUEUED, next_attempt_at=now, attempts=0, conflict=False, claimed_by=None, lease_until=None))
    count = result.rowcount
    db.session.commit()
    return count


def backfill(name_or_id: str | int) -> int:
    """Queue every stored statement the target's filter matches and that it has no row for; commit.

    A new target only receives statements stored after it was created; this sends it the history.
    """
    target = get_target(name_or_id)
    spec = _TargetSpec(target.id, target.filter_organisation_id, target.filter_verb, target.filter_activity)
    have = sa.select(OutboxEntry.statement_id).where(OutboxEntry.target_id == target.id)
    added, last_pk = 0, 0
    while True:
        rows = db.session.execute(
            sa.select(Statement.pk, Statement.body).where(Statement.pk > last_pk, Statement.statement_id.not_in(have))
            .order_by(Statement.pk).limit(1000)).all()
        if not rows:
            break
        last_pk = rows[-1].pk
        statements = [row.body for row in rows]
        orgs = _statement_organisations(statements) if spec.organisation_id is not None else {}
        pairs = [(s["id"].lower(), target.id) for s in statements if spec.matches(s, orgs)]
        if pairs:
            _insert_rows(pairs)
            added += len(pairs)
    db.session.commit()
    return added


# --------------------------------------------------------------------------- the ingest hook

@dataclass(frozen=True)
class _TargetSpec:
    id: int
    organisation_id: int | None
    verb: str | None
    activity: str | None

    def matches(self, statement: dict, organisations: dict[str, int | None]) -> bool:
        if self.verb is not None and statement["verb"]["id"] != self.verb:
            return False
        if self.activity is not None:
            from xapi.identity import activities_in

            # Related activities count: a lesson's statements name their module as parent.
            if self.activity not in activities_in(statement, related=True):
                return False
        if self.organisation_id is not None and organisations.get(statement["id"].lower()) != self.organisation_id:
            return False
        return True


def _statement_organisations(statements: list[dict]) -> dict[str, int | None]:
    """Statement id -> its company: the credential's organisation, else the organisation of the learner
    whose pseudonymous account (or e-mail address) is the actor."""
    from ..accounts.models import User

    ids = [s["id"].lower() for s in statements]
    result: dict[str, int | None] = dict(db.session.execute(
        sa.select(Statement.statement_id, Statement.organisation_id).where(Statement.statement_id.in_(ids))).all())
    home = current_app.config.get("BASE_URL", "").rstrip("/")
    by_account: dict[str, list[str]] = {}
    by_email: dict[str, list[str]] = {}
    for statement in statements:
        sid = statement["id"].lower()
        if result.get(sid) is not None:
            continue
        actor = statement.get("actor") or {}
        account = actor.get("account") if isinstance(actor.get("account"), dict) else None
        if account and str(account.get("homePage", "")).rstrip("/") == home:
            by_account.setdefault(account.get("name"), []).append(sid)
        elif isinstance(actor.get("mbox"), str) and actor["mbox"].lower().startswith("mailto:"):
            by_email.setdefault(actor["mbox"][7:].lower(), []).append(sid)
    if by_account:
        for name, org in db.session.execute(sa.select(User.xapi_account_name, User.organisation_id)
                                            .where(User.xapi_account_name.in_(list(by_account)))):
            for sid in by_account[name]:
                result[sid] = org
    if by_email:
        for email, org in db.session.execute(sa.select(User.email, User.organisation_id)
                                             .where(User.email.in_(list(by_email)))):
            for sid in by_email[email.lower()]:
                result[sid] = org
    return result


def enqueue_for_forwarding(statements: list[dict]) -> None:
    """Ingest hook: one outbox row per newly stored statement and matching target, in the ingest transaction.

    Paused targets are included: pausing must not lose what is stored meanwhile.
    """
    if not statements:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        _enqueue_postgresql(statements)
        return
    specs = [_TargetSpec(*row) for row in db.session.execute(
        sa.select(ForwardTarget.id, ForwardTarget.filter_organisation_id, ForwardTarget.filter_verb,
                  ForwardTarget.filter_activity))]
    if not specs or not statements:
        return
    organisations = (_statement_organisations(statements)
                     if any(spec.organisation_id is not None for spec in specs) else {})
    pairs = [(statement["id"].lower(), spec.id)
             for statement in statements for spec in specs if spec.matches(statement, organisations)]
    if pairs:
        _insert_rows(pairs)


# One round trip for the common case: rows for targets that take everything or filter by verb are inserted
# in SQL, and only targets with an organisation or activity filter come back for matching in Python.
_PG_ENQUEUE = sa.text(
    "WITH targets AS (SELECT id, filter_organisation_id, filter_verb, filter_activity FROM forward_targets), "
    "queued AS (INSERT INTO forward_outbox "
    "(statement_id, target_id, state, attempts, created, next_attempt_at, conflict) "
    "SELECT u.statement_id, targets.id, 'queued', 0, :now, :now, false FROM targets "
    "CROSS JOIN unnest(CAST(:statement_ids AS varchar[]), CAST(:verbs AS varchar[])) AS u(statement_id, verb) "
    "WHERE targets.filter_organisation_id IS NULL AND targets.filter_activity IS NULL "
    "AND (targets.filter_verb IS NULL OR targets.filter_verb = u.verb)) "
    "SELECT id, filter_organisation_id, filter_verb, filter_activity FROM targets "
    "WHERE filter_organisation_id IS NOT NULL OR filter_activity IS NOT NULL")


def _enqueue_postgresql(statements: list[dict]) -> None:
    specs = [_TargetSpec(*row) for row in db.session.execute(_PG_ENQUEUE, {
        "now": utcnow(), "statement_ids": [s["id"].lower() for s in statements],
        "verbs": [s["verb"]["id"] for s in statements]})]
    if not specs:
        return
    organisations = (_statement_organisations(statements)
                     if any(spec.organisation_id is not None for spec in specs) else {})
    pairs = [(statement["id"].lower(), spec.id)
             for statement in statements for spec in specs if spec.matches(statement, organisations)]
    if pairs:
        _insert_rows(pairs)


_UNNEST_INSERT = sa.text(
    "INSERT INTO forward_outbox (statement_id, target_id, state, attempts, created, next_attempt_at, conflict) "
    "SELECT u.statement_id, u.target_id, 'queued', 0, :now, :now, false "
    "FROM unnest(CAST(:statement_ids AS varchar[]), CAST(:target_ids AS integer[])) AS u(statement_id, target_id)")


def _insert_rows(pairs: list[tuple[str, int]]) -> None:
    now = utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        # One statement with two array parameters instead of one execution per row: this runs in every
        # ingest transaction, so its cost is ingest time.
        db.session.execute(_UNNEST_INSERT, {"now": now, "statement_ids": [p[0] for p in pairs],
                                            "target_ids": [p[1] for p in pairs]})
        return
    db.session.execute(sa.insert(OutboxEntry.__table__), [
        {"statement_id": sid, "target_id": tid, "state": QUEUED, "attempts": 0, "created": now,
         "next_attempt_at": now, "conflict": False} for sid, tid in pairs])


# --------------------------------------------------------------------------- health

@dataclass
class TargetHealth:
    target: ForwardTarget
    counts: dict[str, int]
    conflicts: int
    oldest_pending: dt.datetime | None
    last_sent: dt.datetime | None

    @property
    def lag_seconds(self) -> float | None:
        """Age of the oldest statement not yet delivered (None when nothing is pending)."""
        if self.oldest_pending is None:
            return None
        return max(0.0, (utcnow() - self.oldest_pending).total_seconds())

    @property
    def status(self) -> str:
        target = self.target
        if not target.enabled:
            return "paused"
        if target.failures:
            return "failing"
        if self.counts.get(DEAD):
            return "dead letters"
        return "ok"


def health() -> list[TargetHealth]:
    """Per target: rows by state, flagged conflicts, the oldest pending row (the lag) and the last delivery."""
    targets = list_targets()
    counts: dict[int, dict[str, int]] = {t.id: {s: 0 for s in STATES} for t in targets}
    for target_id, state, count in db.session.execute(
            sa.select(OutboxEntry.target_id, OutboxEntry.state, sa.func.count())
            .group_by(OutboxEntry.target_id, OutboxEntry.state)):
        counts.setdefault(target_id, {})[state] = count
    conflicts = dict(db.session.execute(
        sa.select(OutboxEntry.target_id, sa.func.count()).where(OutboxEntry.conflict.is_(True))
        .group_by(OutboxEntry.target_id)).all())
    oldest = dict(db.session.execute(
        sa.select(OutboxEntry.target_id, sa.func.min(OutboxEntry.created))
        .where(OutboxEntry.state.in_((QUEUED, SENDING, FAILED))).group_by(OutboxEntry.target_id)).all())
    last_sent = dict(db.session.execute(
        sa.select(OutboxEntry.target_id, sa.func.max(OutboxEntry.sent_at))
        .where(OutboxEntry.state == SENT).group_by(OutboxEntry.target_id)).all())
    return [TargetHealth(t, counts[t.id], conflicts.get(t.id, 0), as_utc(oldest.get(t.id)),
                         as_utc(last_sent.get(t.id)) or as_utc(t.last_success_at)) for t in targets]


def recent_problems(limit: int = 20) -> list[OutboxEntry]:
    """The latest dead letters and failing rows, with their reasons, newest first."""
    return list(db.session.execute(
        sa.select(OutboxEntry).where(OutboxEntry.state.in_((DEAD, FAILED)))
        .order_by(OutboxEntry.id.desc()).limit(limit)).scalars())
