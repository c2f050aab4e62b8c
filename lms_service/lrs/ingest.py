"""The one ingest path for statements: validate -> prepare -> store (+ lookup rows) -> hooks -> commit.

Every statement that enters the service, from an xAPI client or from the native player, goes through
``ingest_statements``. Later features (progress projection, certificates, the forwarding outbox) plug in
with ``register_ingest_hook``; their hooks run inside the same transaction, so a failure anywhere stores
nothing.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from ..extensions import begin_write, db, upsert
from .clients import Credential, credentials_by_id, service_credential
from .models import Activity, Attachment, Statement, StatementActivity, StatementAgent, utcnow

log = logging.getLogger(__name__)

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"

IngestHook = Callable[[list[dict]], None]
_hooks: list[IngestHook] = []


class IngestError(Exception):
    """A batch that cannot be stored; ``status`` is the HTTP status a client should see."""

    def __init__(self, status: int, message: str, path: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.path = path


def register_ingest_hook(fn: IngestHook) -> IngestHook:
    """Run ``fn(stored_statements)`` inside every ingest transaction, before the commit.

    ``stored_statements`` are the statements as stored (id, stored, authority, version set); statements
    that were already stored (an idempotent re-send) are not passed again. Raising aborts the batch.
    Usable as a decorator; registering the same function twice has no effect.
    """
    if fn not in _hooks:
        _hooks.append(fn)
    return fn


def unregister_ingest_hook(fn: IngestHook) -> None:
    """Remove a hook added with ``register_ingest_hook`` (tests use it)."""
    if fn in _hooks:
        _hooks.remove(fn)


def _activity_objects(statement: dict) -> Iterable[dict]:
    obj = statement.get("object") or {}
    if obj.get("objectType", "Activity") == "Activity":
        yield obj
    elif obj.get("objectType") == "SubStatement":
        yield from _activity_objects(obj)
    context = statement.get("context") or {}
    for group in (context.get("contextActivities") or {}).values():
        for item in group if isinstance(group, list) else [group]:
            if isinstance(item, dict):
                yield item


def _merge_definition(old: dict | None, new: dict) -> dict:
    """Newer definitions win, but language maps merge so no translation is lost."""
    if not old:
        return new
    merged = dict(old)
    for key, value in new.items():
        if key in ("name", "description") and isinstance(value, dict) and isinstance(old.get(key), dict):
            merged[key] = {**old[key], **value}
        else:
            merged[key] = value
    return merged


def _retried_then_deferred(store: Callable[..., list[str]]) -> Callable[..., list[str]]:
    """Around ``ingest_statements``: retry a batch that met a deadlock or serialisation failure, then run the
    deferred projections its hooks handed on (lrs/deferred.py), after the commit.

    A retry is safe only when the transaction had written nothing before the batch (an xAPI request; not the
    player, whose own rows are in the same transaction and would be lost with the rollback): then the whole
    batch is done again from the start, and a client never sees a 500 for a lock cycle. After the last try
    the answer is a 503 that asks the client to send again, and nothing was stored.
    ``wait_for_projections`` (the player) runs the batch's own deferred tasks even while another run is
    under way, so the caller's next read sees them.
    """
    from . import deferred
    from .deferred import ATTEMPTS, forget_own_tasks, is_transient

    @functools.wraps(store)
    def ingest(statements, *, wait_for_projections: bool = False, **kwargs) -> list[str]:
        retry = _nothing_written_yet()
        attempt = 1
        while True:
            forget_own_tasks()
            try:
                result = store(statements, **kwargs)
                break
            except Exception as error:
                forget_own_tasks()
                if not is_transient(error):
                    raise
                log.warning("ingest attempt %d of %d met %s", attempt, ATTEMPTS, type(error).__name__)
                if not retry or attempt >= ATTEMPTS:
                    raise IngestError(503, "the LRS is busy with concurrent writes to the same records; "
                                           "nothing was stored, please send the statements again") from None
                attempt += 1
        own = forget_own_tasks()
        if own:
            deferred.run_deferred(own, wait_for_own=wait_for_projections)
        return result

    return ingest


def _nothing_written_yet() -> bool:
    """Whether the current transaction has written nothing (nor holds unflushed changes)."""
    session = db.session()
    if session.new or session.dirty or session.deleted:
        return False
    if not session.in_transaction():
        return True
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return True  # SQLite has one writer at a time: no deadlock to retry
    return connection.exec_driver_sql("SELECT pg_current_xact_id_if_assigned() IS NULL").scalar()


@_retried_then_deferred
def ingest_statements(
    statements: list[dict], *, version: str, authority: dict, attachments=None, client=None
) -> list[str]:
    """Validate, store and commit a batch of statements; return their ids in order.

    ``attachments`` maps SHA-2 to the raw parts of a multipart/mixed request; ``client`` is the
    credential (``lms_service.lrs.clients.Credential``) or None for the service itself. Raises
    ``IngestError`` (400 invalid, 409 conflicting id) and stores nothing on any failure. Re-sending a
    statement identical to a stored one is accepted and changes nothing.
    """
    from xapi import identity

    statements, prepared, ids, stored_at = _prepare_batch(statements, version, authority, attachments)
    try:
        pending_definitions: dict[str, dict] = {}
        result = _store(
            statements, prepared, ids, version, stored_at, attachments, client, identity, pending_definitions
        )
        db.session.commit()
        _remember_definitions(pending_definitions)
    except IngestError:
        db.session.rollback()
        raise
    except BaseException as error:
        db.session.rollback()
        if _is_integrity_error(error):
            return _store_after_conflict(statements, prepared, ids, version, stored_at, attachments, client)
        raise
    return result


def _store_after_conflict(statements, prepared, ids, version, stored_at, attachments, client) -> list[str]:
    """Store the batch again after another request stored one of its ids between our check and our insert
    (PostgreSQL; on SQLite ingest holds the write lock from its first query). That statement is committed
    now, so the second try compares with it: the same statement sent twice at once is accepted (204) and
    stored once, a different one is the 409 of any conflict."""
    from xapi import identity

    try:
        pending_definitions: dict[str, dict] = {}
        result = _store(
            statements, prepared, ids, version, stored_at, attachments, client, identity, pending_definitions
        )
        db.session.commit()
        _remember_definitions(pending_definitions)
    except BaseException as error:
        db.session.rollback()
        if _is_integrity_error(error):
            raise IngestError(409, id_taken_message(None)) from None
        raise
    return result


def id_taken_message(statement_id: str | None) -> str:
    """The one answer to a statement id that is in use: the same whether the stored statement is the
    caller's, another credential's or another organisation's (statement ids are unique across the LRS)."""
    which = f"the statement id {statement_id}" if statement_id else "a statement id of this batch"
    return f"{which} is already in use by a different statement; nothing was stored"


def _may_refer(client, stored) -> bool:
    """Whether statements of ``client`` (a Credential, None for the service) may refer to a stored statement
    (anything with ``client_id`` and ``organisation_id``): the credential's read rule, ``may_refer_to``."""
    return client is None or client.may_refer_to(stored.organisation_id, stored.client_id)


def _stored_by(row, owners: dict[int, Credential]) -> Credential:
    """The credential that stored ``row``: a client's, or the service's narrowed to the row's organisation."""
    if row.client_id is None:
        base = service_credential()
        return Credential(base.client_id, base.name, base.scopes, row.organisation_id)
    return owners.get(row.client_id) or Credential(row.client_id, "", frozenset(), row.organisation_id)


def stage_statements(
    statements: list[dict], *, version: str = "2.0.0", authority: dict | None = None, client=None
) -> list[str]:
    """Validate and store statements, running the hooks, inside the CURRENT transaction; no commit.

    For services that change their own rows and record statements about it in one transaction (the
    player, certificates), and for ingest hooks that derive further statements. The caller commits,
    or rolls back on any error (``IngestError`` included): then nothing of either is stored.
    ``authority`` defaults to the service's own credential.
    """
    from xapi import identity

    if authority is None:
        from .clients import service_credential

        authority = service_credential().authority()
    statements, prepared, ids, stored_at = _prepare_batch(statements, version, authority, None)
    # The definition cache is only filled after a commit we own; a staged batch leaves it alone.
    return _store(statements, prepared, ids, version, stored_at, None, client, identity, {})


def _prepare_batch(statements, version: str, authority: dict, attachments):
    """Validation and preparation shared by both entry points: nothing touches the database yet."""
    from xapi import formatting, validation
    from xapi.errors import XAPIValidationError

    if not isinstance(statements, list) or not statements:
        raise IngestError(400, "expected a statement or a non-empty array of statements")
    try:
        validation.validate_statements(statements, version)
        _check_attachments(statements, attachments)
    except XAPIValidationError as error:
        raise IngestError(400, error.message, error.path) from None
    except (TypeError, KeyError, AttributeError, RecursionError, ValueError) as error:
        # Input odd enough to trip the validator itself: still the client's data, so a 400, but
        # logged because the validator should have named the problem.
        log.warning("validator raised %r", error)
        raise IngestError(
            400, "the statement could not be validated: it is not a valid xAPI statement"
        ) from None

    for index, statement in enumerate(statements):
        where = _nul_path(statement)
        if where is not None:
            raise IngestError(
                400, "text with the NUL character (\\u0000) cannot be stored", f"[{index}].{where}"
            )

    stored_at = utcnow()
    # Millisecond precision, as in the stored property, so since/until compare with what clients see.
    stored_at = stored_at.replace(microsecond=stored_at.microsecond // 1000 * 1000)
    stored_text = stored_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    try:
        prepared = [
            formatting.prepare_for_storage(s, version=version, authority=authority, stored=stored_text)
            for s in statements
        ]
    except XAPIValidationError as error:
        raise IngestError(400, error.message, error.path) from None

    ids = [s["id"] for s in prepared]
    if len({i.lower() for i in ids}) != len(ids):
        raise IngestError(400, "the batch contains the same statement id more than once", "id")
    return statements, prepared, ids, stored_at


def _is_integrity_error(error: BaseException) -> bool:
    """SQLAlchemy's IntegrityError, or psycopg's (the PostgreSQL insert runs on the driver cursor)."""
    if isinstance(error, IntegrityError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(error, psycopg.IntegrityError)


def _check_attachments(statements: list[dict], attachments) -> None:
    declared = any(s.get("attachments") for s in statements)
    if not declared and not attachments:
        return
    from xapi import multipart, signatures

    for index, statement in enumerate(statements):
        for n, attachment in enumerate(statement.get("attachments") or []):
            if isinstance(attachment, dict) and len(str(attachment.get("contentType", ""))) > 255:
                raise IngestError(
                    400,
                    "contentType longer than 255 characters is not accepted",
                    f"[{index}].attachments[{n}].contentType",
                )
    for part in (attachments or {}).values():
        if len(part.content_type) > 255:
            raise IngestError(400, "a part's Content-Type is longer than 255 characters")
    multipart.check_attachments(statements, attachments or {})
    signatures.verify_signatures(statements, attachments or {})


# Built once: the ingest hot path should not rebuild and re-key the same SELECT for every request.
_IDS = sa.bindparam("ids", expanding=True)
_FIND_IDS_AND_REFERRERS = sa.select(
    Statement.pk,
    Statement.statement_id,
    Statement.stored,
    Statement.ref_target,
    Statement.is_voiding,
    Statement.client_id,
    Statement.organisation_id,
    sa.case((Statement.statement_id.in_(_IDS), Statement.body), else_=sa.null()).label("body"),
).where(sa.or_(Statement.statement_id.in_(_IDS), Statement.ref_target.in_(_IDS)))


def _store(
    received: list[dict],
    prepared: list[dict],
    ids: list[str],
    version: str,
    stored_at,
    attachments,
    client,
    identity,
    pending_definitions: dict[str, dict],
) -> list[str]:
    # Ids are stored lower-cased: UUIDs compare case-insensitively. One query finds both the stored
    # statements with these ids and the stored statements that refer to them (voiding statements that
    # arrived before their target; references that must answer to the target's filters from now on).
    lowered = [i.lower() for i in ids]
    begin_write()  # SQLite: the id check below and the insert are one step
    found = db.session.execute(_FIND_IDS_AND_REFERRERS, {"ids": lowered}).all()
    existing = {row.statement_id: row for row in found if row.body is not None}
    new: list[dict] = []
    for raw, statement in zip(received, prepared):
        old = existing.get(statement["id"].lower())
        if old is None:
            new.append(statement)
        # Compare with what the client sent: properties the LRS filled in (timestamp, stored ...)
        # would otherwise differ between two sends of the same statement. A statement the credential
        # cannot read is a conflict whatever its content, so the answer tells nothing about it.
        elif not (_may_refer(client, old) and identity.statements_equivalent(old.body, raw)):
            raise IngestError(409, id_taken_message(statement["id"]), "id")
    if not new:
        return ids

    new_ids = {s["id"].lower() for s in new}
    referrers = [row for row in found if row.ref_target in new_ids and row.statement_id not in new_ids]
    if referrers:
        # A statement stored before its target refers to it only if its credential could read it: another
        # tenant's voiding statement (or reference) sent in advance must not void (or reveal) it.
        owners = credentials_by_id({r.client_id for r in referrers if r.client_id is not None})
        storer = client if client is not None else service_credential()
        referrers = [r for r in referrers if _may_refer(_stored_by(r, owners), storer)]
    pre_voided = {r.ref_target for r in referrers if r.is_voiding}

    voiding_targets: set[str] = set()
    rows = []
    for statement in new:
        obj = statement.get("object") or {}
        ref_target = obj.get("id") if obj.get("objectType") == "StatementRef" else None
        is_voiding = statement["verb"]["id"] == VOIDED_VERB
        if is_voiding and ref_target:
            voiding_targets.add(ref_target.lower())
        registration = (statement.get("context") or {}).get("registration")
        rows.append(
            {
                "statement_id": statement["id"].lower(),
                "stored": stored_at,
                "verb_id": statement["verb"]["id"],
                "registration": registration.lower() if registration else None,
                "ref_target": ref_target.lower() if ref_target else None,
                "voided": statement["id"].lower() in pre_voided and not is_voiding,
                "is_voiding": is_voiding,
                "version": version,
                "client_id": getattr(client, "client_id", None),
                "organisation_id": getattr(client, "organisation_id", None),
                "has_attachments": bool(statement.get("attachments")),
                "body": statement,
            }
        )

    # Lookup rows: (key, verb, related, registration) per statement, by statement id.
    positions = {id(statement): index for index, statement in enumerate(prepared)}
    own_agents: dict[str, list[tuple]] = {}
    own_activities: dict[str, list[tuple]] = {}
    for row, statement in zip(rows, new):
        verb, registration = row["verb_id"], row["registration"]
        direct = identity.actors_in(statement, related=False)
        own_agents[row["statement_id"]] = [
            (ifi, verb, ifi not in direct, registration)
            for ifi in identity.actors_in(statement, related=True) | direct
        ]
        direct = identity.activities_in(statement, related=False)
        own_activities[row["statement_id"]] = [
            (aid, verb, aid not in direct, registration)
            for aid in identity.activities_in(statement, related=True) | direct
        ]
        _check_key_sizes(
            positions[id(statement)],
            verb,
            own_agents[row["statement_id"]],
            own_activities[row["statement_id"]],
        )

    # A statement referring to another answers to its target's filters too: it gets the target's rows.
    targets = {row["ref_target"] for row in rows if row["ref_target"]} - set(own_agents)
    stored_agents, stored_activities, referable = _stored_lookup_rows(targets, client)
    # The batch's own statements and stored ones the credential may refer to; any other target is
    # treated as one that has not arrived (xAPI allows voiding before the target) and stays as it is.
    voiding_targets &= set(own_agents) | referable
    # Rows are keyed by (pk or statement id, key, verb): new statements have no pk before the insert.
    agent_rows: dict[tuple, tuple] = {}
    activity_rows: dict[tuple, tuple] = {}
    for row in rows:
        sid = row["statement_id"]
        sources = [sid] + ([row["ref_target"]] if row["ref_target"] else [])
        for source in sources:
            _add_rows(
                agent_rows, None, sid, row["stored"], own_agents.get(source) or stored_agents.get(source, ())
            )
            _add_rows(
                activity_rows,
                None,
                sid,
                row["stored"],
                own_activities.get(source) or stored_activities.get(source, ()),
            )
    for referrer in referrers:
        _add_rows(agent_rows, referrer.pk, None, referrer.stored, own_agents.get(referrer.ref_target, ()))
        _add_rows(
            activity_rows, referrer.pk, None, referrer.stored, own_activities.get(referrer.ref_target, ())
        )

    if db.session.get_bind().dialect.name == "postgresql":
        _insert_all_pg(rows, list(agent_rows.values()), list(activity_rows.values()))
    else:
        _insert_all(rows, list(agent_rows.values()), list(activity_rows.values()))

    if voiding_targets:
        # A voiding statement cannot void another voiding statement: such a target stays as it is.
        db.session.execute(
            sa.update(Statement)
            .where(Statement.statement_id.in_(voiding_targets), Statement.is_voiding.is_(False))
            .values(voided=True)
        )

    _store_activity_definitions(new, pending_definitions)
    _store_attachments(new, attachments)

    for hook in list(_hooks):
        hook(new)
    return ids


# Index entries have a size limit (about 2.7 kB on PostgreSQL); the lookup and document indexes combine
# an activity id or IFI with a verb or document id, so each part gets a byte limit that keeps the sum
# safely below it. xAPI sets no length limit; these are this LRS's, answered with a clear 400.
MAX_IRI_BYTES = 1000  # verb ids, activity ids
MAX_IFI_BYTES = 500  # agent identifiers (the lookup key, e.g. "mbox:mailto:...")
MAX_DOCUMENT_ID_BYTES = 800  # stateId, profileId


def too_long(text: str, limit: int) -> bool:
    """Whether ``text`` is longer than ``limit`` bytes in UTF-8 (cheap for the usual short strings)."""
    return len(text) * 4 > limit and len(text.encode("utf-8")) > limit


def _check_key_sizes(index: int, verb: str, agents: list[tuple], activities: list[tuple]) -> None:
    if too_long(verb, MAX_IRI_BYTES):
        raise IngestError(
            400, f"verb ids longer than {MAX_IRI_BYTES} bytes are not accepted", f"[{index}].verb.id"
        )
    for key, *_ in activities:
        if too_long(key, MAX_IRI_BYTES):
            raise IngestError(
                400, f"activity ids longer than {MAX_IRI_BYTES} bytes are not accepted", f"[{index}]"
            )
    for key, *_ in agents:
        if too_long(key, MAX_IFI_BYTES):
            raise IngestError(
                400, f"agent identifiers longer than {MAX_IFI_BYTES} bytes are not accepted", f"[{index}]"
            )


def _nul_path(value, path: str = "") -> str | None:
    """The path of the first string or key holding a NUL character (PostgreSQL cannot store it), or None."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if type(item) is str:
            if "\x00" in item:
                return where
        elif type(item) is dict:
            for key, child in item.items():
                if "\x00" in key:
                    return where
                stack.append((child, f"{where}.{key}" if where else key))
        elif type(item) is list:
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
    return None


def _add_rows(into: dict[tuple, tuple], pk: int | None, sid: str | None, stored, items) -> None:
    """Add lookup rows for a statement (by pk, or by id before it has one).

    A row present twice keeps related=False (the stronger match).
    """
    for key, verb, related, registration in items:
        slot = (pk if pk is not None else sid, key, verb)
        previous = into.get(slot)
        if previous is None or (previous[4] and not related):
            into[slot] = (pk, sid, key, verb, related, registration, stored)


def _stored_lookup_rows(
    statement_ids: set[str], client
) -> tuple[dict[str, list[tuple]], dict[str, list[tuple]], set[str]]:
    """The lookup rows of already stored statements that ``client`` may refer to, by statement id (targets
    of new references), and the ids of those statements."""
    if not statement_ids:
        return {}, {}, set()
    pks = {
        row.pk: row.statement_id
        for row in db.session.execute(
            sa.select(Statement.pk, Statement.statement_id, Statement.client_id, Statement.organisation_id).where(
                Statement.statement_id.in_(statement_ids)
            )
        )
        if _may_refer(client, row)
    }
    agents: dict[str, list[tuple]] = {}
    activities: dict[str, list[tuple]] = {}
    if pks:
        for r in db.session.execute(
            sa.select(StatementAgent).where(StatementAgent.statement_pk.in_(pks))
        ).scalars():
            agents.setdefault(pks[r.statement_pk], []).append((r.ifi, r.verb_id, r.related, r.registration))
        for r in db.session.execute(
            sa.select(StatementActivity).where(StatementActivity.statement_pk.in_(pks))
        ).scalars():
            activities.setdefault(pks[r.statement_pk], []).append(
                (r.activity_id, r.verb_id, r.related, r.registration)
            )
    return agents, activities, set(pks.values())


def _insert_all(rows: list[dict], agent_rows: list[tuple], activity_rows: list[tuple]) -> None:
    """Insert statements and lookup rows with plain SQLAlchemy (SQLite)."""
    pks = db.session.execute(
        sa.insert(Statement).returning(Statement.pk, sort_by_parameter_order=True), rows
    ).scalars()
    pk_of = {row["statement_id"]: pk for row, pk in zip(rows, pks)}
    for model, key in ((StatementAgent, "ifi"), (StatementActivity, "activity_id")):
        lookup = agent_rows if model is StatementAgent else activity_rows
        if lookup:
            # ON CONFLICT DO NOTHING: a reference stored before its target may already hold some rows.
            db.session.execute(
                sqlite.insert(model).on_conflict_do_nothing(),
                [
                    {
                        "statement_pk": pk if pk is not None else pk_of[sid],
                        key: k,
                        "verb_id": verb,
                        "related": related,
                        "registration": registration,
                        "stored": stored,
                    }
                    for pk, sid, k, verb, related, registration, stored in lookup
                ],
            )


# On PostgreSQL a whole batch (statements, agent rows, activity rows) goes in as ONE statement:
# data-modifying CTEs fed from unnest(arrays), lookup rows joined to the new statements by id. One
# round trip and one prepared plan whatever the batch size: this is the hot path of ingest throughput.
_PG_STATEMENT_COLUMNS = (
    ("statement_id", "text"),
    ("stored", "timestamptz"),
    ("verb_id", "text"),
    ("registration", "text"),
    ("ref_target", "text"),
    ("voided", "bool"),
    ("is_voiding", "bool"),
    ("version", "text"),
    ("client_id", "int4"),
    ("organisation_id", "int4"),
    ("has_attachments", "bool"),
    ("body", "text"),
)
_PG_LOOKUP_COLUMNS = (
    ("pk", "int8"),
    ("sid", "text"),
    ("k", "text"),
    ("verb_id", "text"),
    ("related", "bool"),
    ("registration", "text"),
    ("stored", "timestamptz"),
)


def _pg_lookup_cte(name: str, table: str, key: str) -> str:
    arrays = ", ".join(f"%b::{kind}[]" for _, kind in _PG_LOOKUP_COLUMNS)
    names = ", ".join(n for n, _ in _PG_LOOKUP_COLUMNS)
    return (
        f"{name} AS (INSERT INTO {table} (statement_pk, {key}, verb_id, related, registration, stored) "
        f"SELECT coalesce(u.pk, s.pk), u.k, u.verb_id, u.related, u.registration, u.stored "
        f"FROM unnest({arrays}) AS u({names}) LEFT JOIN s ON s.statement_id = u.sid "
        f"ON CONFLICT DO NOTHING)"
    )


_PG_INSERT_ALL = (
    "WITH s AS (INSERT INTO lrs_statements ({names}) SELECT {selects} FROM unnest({arrays}) AS u({names}) "
    "RETURNING pk, statement_id), {agents}, {activities} SELECT count(*) FROM s"
).format(
    names=", ".join(name for name, _ in _PG_STATEMENT_COLUMNS),
    selects=", ".join(
        f"u.{name}::jsonb" if name == "body" else f"u.{name}" for name, _ in _PG_STATEMENT_COLUMNS
    ),
    arrays=", ".join(f"%b::{kind}[]" for _, kind in _PG_STATEMENT_COLUMNS),
    agents=_pg_lookup_cte("ag", "lrs_statement_agents", "ifi"),
    activities=_pg_lookup_cte("ac", "lrs_statement_activities", "activity_id"),
)


def _insert_all_pg(rows: list[dict], agent_rows: list[tuple], activity_rows: list[tuple]) -> None:
    params: list[list] = []
    for name, _kind in _PG_STATEMENT_COLUMNS:
        if name == "body":
            params.append(
                [json.dumps(row["body"], ensure_ascii=False, separators=(",", ":")) for row in rows]
            )
        else:
            params.append([row[name] for row in rows])
    for lookup in (agent_rows, activity_rows):
        columns = list(zip(*lookup)) if lookup else [()] * len(_PG_LOOKUP_COLUMNS)
        params.extend(list(column) for column in columns)
    with db.session.connection().connection.driver_connection.cursor() as cursor:
        cursor.execute(_PG_INSERT_ALL, params, binary=True)


# Definitions this process knows to be stored (entered only after a commit), by activity id. Most
# statements repeat a definition the LRS already holds; when merging the incoming one into the known one
# changes nothing, the read and the upsert are skipped. Definitions are never deleted by the LRS, so an
# entry stays true; bounded so it never grows without limit. ``reset_caches`` empties it (tests that
# truncate tables).
_known_definitions: dict[str, dict] = {}
_KNOWN_DEFINITIONS_MAX = 20_000


def reset_caches() -> None:
    """Forget the per-process cache of stored activity definitions."""
    _known_definitions.clear()


def _remember_definitions(pending: dict[str, dict]) -> None:
    if len(_known_definitions) + len(pending) > _KNOWN_DEFINITIONS_MAX:
        _known_definitions.clear()
    _known_definitions.update(pending)


def _store_activity_definitions(statements: list[dict], pending: dict[str, dict]) -> None:
    definitions: dict[str, dict] = {}
    for statement in statements:
        for activity in _activity_objects(statement):
            if activity.get("definition") and activity.get("id"):
                definitions[activity["id"]] = _merge_definition(
                    definitions.get(activity["id"]), activity["definition"]
                )
    definitions = {
        aid: d
        for aid, d in definitions.items()
        if aid not in _known_definitions
        or _merge_definition(_known_definitions[aid], d) != _known_definitions[aid]
    }
    if not definitions:
        return
    current = dict(
        db.session.execute(
            sa.select(Activity.activity_id, Activity.definition).where(Activity.activity_id.in_(definitions))
        ).all()
    )
    rows = []
    for activity_id, definition in definitions.items():
        merged = _merge_definition(current.get(activity_id), definition)
        if merged != current.get(activity_id):
            rows.append({"activity_id": activity_id, "definition": merged})
        pending[activity_id] = merged
    if rows:
        # A fixed order: concurrent batches then lock the same activities in the same order (no deadlock).
        rows.sort(key=lambda row: row["activity_id"])
        upsert(Activity, rows, ["activity_id"], ["definition"])


def _store_attachments(statements: list[dict], attachments) -> None:
    if not attachments:
        return
    wanted = {a.get("sha2") for s in statements for a in (s.get("attachments") or []) if a.get("sha2")}
    rows = []
    for sha2, part in attachments.items():
        if sha2 in wanted:
            rows.append({"sha2": sha2, "content_type": part.content_type, "content": part.content})
    if rows:
        upsert(Attachment, rows, ["sha2"], None)
