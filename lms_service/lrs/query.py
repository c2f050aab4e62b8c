"""Reading statements: single lookups and filtered queries with keyset (``more``) paging.

Every filter reads an indexed column or a lookup table. A query runs as two keyset-ordered selects,
merged in Python: statements that match the filters themselves, and statements whose object is a
StatementRef to a matching statement (the spec's rule for statement references and voiding).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..extensions import db
from .clients import Credential
from .models import Activity, Attachment, Statement, StatementActivity, StatementAgent, utcnow

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_SIGNATURE_BYTES = 16


class QueryError(ValueError):
    """A query the LRS cannot answer (bad ``more`` token ...); becomes a 400."""


@dataclass
class StatementQuery:
    """Validated filters of a GET /statements query."""

    agent: str | None = None  # IFI key
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int | None = None  # None: the default page size; 0: the server's maximum
    ascending: bool = False
    format: str = "exact"
    attachments: bool = False
    # Keyset position and the fixed upper bound of a paged query (set from a ``more`` token).
    after_stored: dt.datetime | None = None
    after_pk: int | None = None
    bound: dt.datetime | None = None
    extra: dict = field(default_factory=dict)

    @property
    def has_match_filters(self) -> bool:
        return any((self.agent, self.verb, self.activity, self.registration))


def _to_micros(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def _from_micros(value: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=value)


def encode_more(query: StatementQuery) -> str:
    """An opaque token holding the filters, the keyset position and the fixed time bound."""
    data = asdict(query)
    for key in ("since", "until", "after_stored", "bound"):
        if data[key] is not None:
            data[key] = _to_micros(data[key])
    # Drop defaults to keep tokens short; `is` comparisons so that limit=0 (server maximum) survives.
    data = {k: v for k, v in data.items() if v is not None and v is not False and v != "" and v != {}}
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(_token_signature(raw) + raw).decode().rstrip("=")


def _token_signature(raw: bytes) -> bytes:
    # Signed, so that decode_more only ever sees filters this LRS validated: a hand-made token could
    # otherwise carry any JSON (a string limit, an out-of-range pk) straight into the query.
    from flask import current_app

    key = hashlib.sha256(b"lrs-more-token\x00" + str(current_app.config["SECRET_KEY"]).encode()).digest()
    return hmac.new(key, raw, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def decode_more(token: str) -> StatementQuery:
    """The query a ``more`` token stands for; raises QueryError for anything not made by encode_more."""
    try:
        signed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        signature, raw = signed[:_SIGNATURE_BYTES], signed[_SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, _token_signature(raw)):
            raise ValueError
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError
        for key in ("since", "until", "after_stored", "bound"):
            if key in data:
                data[key] = _from_micros(int(data[key]))
        query = StatementQuery(**data)
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
        raise QueryError("the 'more' token is not valid") from None
    if query.after_pk is None or query.after_stored is None:
        raise QueryError("the 'more' token is not valid")
    return query


def _scope(model, credential: Credential | None):
    conditions = []
    if credential is not None:
        if credential.organisation_id is not None:
            conditions.append(model.organisation_id == credential.organisation_id)
        if credential.reads_only_own:
            conditions.append(model.client_id == credential.client_id)
    return conditions


def _match_conditions(model, query: StatementQuery):
    """Verb and registration conditions on a statements table (queries without agent/activity)."""
    conditions = []
    if query.verb:
        conditions.append(model.verb_id == query.verb)
    if query.registration:
        conditions.append(model.registration == query.registration.lower())
    return conditions


def _window_conditions(stored, pk, query: StatementQuery):
    """since / until / the fixed upper bound / the keyset position, on (stored, pk) columns."""
    conditions = []
    if query.since is not None:
        conditions.append(stored > query.since)
    upper = query.until
    if query.bound is not None and (upper is None or query.bound < upper):
        upper = query.bound
    if upper is not None:
        conditions.append(stored <= upper)
    if query.after_pk is not None:
        key = sa.tuple_(stored, pk)
        position = sa.tuple_(
            sa.literal(query.after_stored, sa.DateTime(timezone=True)), sa.literal(query.after_pk)
        )
        conditions.append(key > position if query.ascending else key < position)
    return conditions


def _order(stored, pk, ascending: bool):
    return (stored.asc(), pk.asc()) if ascending else (stored.desc(), pk.desc())


def _lookup_query(query: StatementQuery, credential: Credential | None, limit: int) -> sa.Select:
    """Agent and/or activity filters: walk the lookup indexes (key, [verb,] related, stored, pk) in page order.

    The lookup rows carry the statement's verb, registration and stored time (and a referring
    statement carries its target's rows), so the page comes from one ordered index range and the
    statements table is only visited for the rows on the page. With related_agents/related_activities
    both values of ``related`` match: each value is an ordered range of its own, and the database merges
    the two, stopping after a page (an index that served a range over every value of ``related`` in
    ``stored`` order could not serve the range of one value in that order).
    """
    s = Statement
    if query.agent:
        d, key, value, related = StatementAgent, StatementAgent.ifi, query.agent, query.related_agents
    else:
        d, key, value, related = (
            StatementActivity,
            StatementActivity.activity_id,
            query.activity,
            query.related_activities,
        )
    conditions = [key == value]
    if query.verb:
        conditions.append(d.verb_id == query.verb)
    if query.registration:
        registration = query.registration.lower()
        conditions.append(d.registration == registration)
        # Implied by the condition above: a lookup row with this registration is the statement's own, or
        # one copied from the statement it refers to. Stated, it lets the database start from the
        # statements of the registration (one learner's attempt, a few hundred at most) instead of reading
        # every row of the key (a course can have millions) for the few that have the registration.
        conditions.append(sa.or_(s.registration == registration, s.ref_target.isnot(None)))
    if query.agent and query.activity:
        a = aliased(StatementActivity)
        also = [a.statement_pk == d.statement_pk, a.activity_id == query.activity, a.verb_id == d.verb_id]
        if not query.related_activities:
            also.append(a.related.is_(False))
        conditions.append(sa.exists().where(*also))
    ranges = [
        # The lookup row's (stored, pk), which are the statement's, so that a merge can use their order.
        sa.select(d.statement_pk.label("pk"), d.stored.label("stored"), s.body)
        .select_from(d)
        .join(s, s.pk == d.statement_pk)
        .where(
            *conditions,
            d.related.is_(value),
            *_window_conditions(d.stored, d.statement_pk, query),
            s.voided.is_(False),
            *_scope(s, credential),
        )
        .order_by(*_order(d.stored, d.statement_pk, query.ascending))
        .limit(limit + 1)
        for value in ((False, True) if related else (False,))
    ]
    if len(ranges) == 1:
        return ranges[0]
    merged = sa.union_all(*(sa.select(r.subquery()) for r in ranges)).subquery()
    return sa.select(merged).order_by(*_order(merged.c.stored, merged.c.pk, query.ascending)).limit(limit + 1)


def run_query(query: StatementQuery, credential: Credential | None) -> tuple[list[dict], str | None]:
    """Statements matching ``query`` (one page) and the ``more`` token of the next page, if any."""
    limit = (
        DEFAULT_LIMIT
        if query.limit is None
        else (MAX_LIMIT if query.limit == 0 else min(query.limit, MAX_LIMIT))
    )
    if query.bound is None:
        # Fix the upper bound at the first page so that later pages never see statements that arrived
        # after the query started (ascending pages would otherwise grow at their end).
        query.bound = utcnow()

    s = Statement
    if query.agent or query.activity:
        raw = list(db.session.execute(_lookup_query(query, credential, limit)))
        rows, seen = [], set()
        for row in raw:  # a statement can match through two lookup rows (own verb and its target's)
            if row.pk not in seen:
                seen.add(row.pk)
                rows.append(row)
        has_more = len(raw) > limit
    else:
        direct = (
            sa.select(s.pk, s.stored, s.body)
            .where(
                *_match_conditions(s, query),
                *_window_conditions(s.stored, s.pk, query),
                s.voided.is_(False),
                *_scope(s, credential),
            )
            .order_by(*_order(s.stored, s.pk, query.ascending))
            .limit(limit + 1)
        )
        rows = list(db.session.execute(direct))
        if query.verb or query.registration:
            # Statements whose StatementRef target matches also match (Communication 2.1.3).
            target = aliased(Statement)
            referring = (
                sa.select(s.pk, s.stored, s.body)
                .join(target, target.statement_id == s.ref_target)
                .where(
                    s.ref_target.isnot(None),
                    *_match_conditions(target, query),
                    *_window_conditions(s.stored, s.pk, query),
                    s.voided.is_(False),
                    *_scope(s, credential),
                    *_scope(target, credential),
                )
                .order_by(*_order(s.stored, s.pk, query.ascending))
                .limit(limit + 1)
            )
            seen = {row.pk for row in rows}
            rows.extend(row for row in db.session.execute(referring) if row.pk not in seen)
            rows.sort(key=lambda r: (r.stored, r.pk), reverse=not query.ascending)
        has_more = len(rows) > limit
    page = rows[:limit]
    more = None
    if has_more and page:
        last = page[-1]
        query.after_stored = (
            last.stored if last.stored.tzinfo else last.stored.replace(tzinfo=dt.UTC)
        )
        query.after_pk = last.pk
        more = encode_more(query)
    return [row.body for row in page], more


def get_statement(statement_id: str, *, voided: bool, credential: Credential | None) -> dict | None:
    """A single statement by id: the voided one with ``voided=True``, else only if not voided."""
    s = Statement
    row = db.session.execute(
        sa.select(s.body, s.voided).where(s.statement_id == statement_id.lower(), *_scope(s, credential))
    ).first()
    if row is None or row.voided != voided:
        return None
    return row.body


def attachment_contents(statements: list[dict]) -> dict[str, tuple[str, bytes]]:
    """The stored content (type, bytes) of every attachment the statements name, by SHA-2."""
    wanted = {a["sha2"] for st in statements for a in (st.get("attachments") or []) if a.get("sha2")}
    if not wanted:
        return {}
    rows = db.session.execute(sa.select(Attachment).where(Attachment.sha2.in_(wanted))).scalars()
    return {row.sha2: (row.content_type, row.content) for row in rows}


def consistent_through() -> dt.datetime:
    """Statements stored before this moment are all visible to queries."""
    return utcnow()


def activity_definition(activity_id: str) -> dict | None:
    """The LRS's canonical definition of an activity (merged from the statements it received)."""
    row = db.session.get(Activity, activity_id)
    return row.definition if row is not None else None


def _activities_of(statement: dict):
    obj = statement.get("object") or {}
    if obj.get("objectType", "Activity") == "Activity" and "id" in obj:
        yield obj
    elif obj.get("objectType") == "SubStatement":
        yield from _activities_of(obj)
    for group in ((statement.get("context") or {}).get("contextActivities") or {}).values():
        for item in group if isinstance(group, list) else [group]:
            if isinstance(item, dict) and "id" in item:
                yield item


def with_canonical_definitions(statements: list[dict]) -> list[dict]:
    """Copies of ``statements`` whose activities carry the LRS's canonical definitions (format=canonical)."""
    import copy

    ids = {a["id"] for st in statements for a in _activities_of(st)}
    if not ids:
        return statements
    definitions = dict(
        db.session.execute(
            sa.select(Activity.activity_id, Activity.definition).where(Activity.activity_id.in_(ids))
        ).all()
    )
    result = []
    for statement in statements:
        statement = copy.deepcopy(statement)
        for activity in _activities_of(statement):
            if definitions.get(activity["id"]):
                activity["definition"] = definitions[activity["id"]]
        result.append(statement)
    return result
