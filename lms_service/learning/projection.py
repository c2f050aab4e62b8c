"""The progress projection: each registration's status, derived from its statements and nothing else.

``project_statements`` is the LRS ingest hook (it runs inside the ingest transaction); ``rebuild_progress``
recomputes the whole table from the stored statements. Both use the same fold, and every part of the fold
is commutative (max, min, count, latest-by-key), so the order statements arrive in does not matter and the
two give identical rows. Statements from any source count (the native player, imported cmi5 content, an
external client), as long as they carry a registration and a verb of the module stream.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from xapi import identity
from xapi.timeutil import parse_timestamp
from xapi.vocabulary import Extension, Verb

from ..extensions import db
from .models import LearnerProgress

STATUS_RANK = {"not_started": 0, "in_progress": 1, "completed": 2, "failed": 3, "passed": 4}
MODULE_VERBS = {Verb.LAUNCHED, Verb.INITIALIZED, Verb.RESUMED, Verb.SUSPENDED, Verb.TERMINATED,
                Verb.COMPLETED, Verb.PASSED, Verb.FAILED}
CHILD_VERBS = {Verb.PROGRESSED, Verb.ANSWERED}
TRACKED = MODULE_VERBS | CHILD_VERBS


def _stamp(statement: dict) -> str:
    """The statement's timestamp in one fixed-width UTC form, so text order is time order."""
    try:
        moment = parse_timestamp(statement.get("timestamp") or statement.get("stored") or "")
    except ValueError:
        moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _module_iri(statement: dict) -> str | None:
    verb = statement["verb"]["id"]
    obj = statement.get("object") or {}
    if verb in MODULE_VERBS:
        return obj.get("id") if obj.get("objectType", "Activity") == "Activity" else None
    parents = ((statement.get("context") or {}).get("contextActivities") or {}).get("parent") or []
    if isinstance(parents, dict):
        parents = [parents]
    return parents[0].get("id") if parents and isinstance(parents[0], dict) else None


def _relevant(statement: dict) -> bool:
    registration = (statement.get("context") or {}).get("registration")
    return bool(registration) and statement["verb"]["id"] in TRACKED and _module_iri(statement) is not None


COLUMNS = [column.name for column in LearnerProgress.__table__.columns]
TABLE = LearnerProgress.__table__


@dataclass(slots=True)
class _Row:
    """A progress row being folded: plain attributes, no ORM (the hook runs on every ingest)."""

    registration: str
    actor_ifi: str
    module_iri: str
    status: str | None = None
    progress: int = 0
    completed: bool = False
    score_scaled: float | None = None
    score_from: str | None = None
    attempts: int = 0
    first_at: str = ""
    last_at: str = ""
    completed_at: str | None = None
    passed_at: str | None = None

    def values(self) -> dict:
        return {name: getattr(self, name) for name in COLUMNS}


def _fold(row: _Row, statement: dict) -> None:
    """Apply one statement to the row (commutative, see the module docstring)."""
    verb = statement["verb"]["id"]
    stamp = _stamp(statement)
    result = statement.get("result") or {}
    row.first_at = min(row.first_at, stamp) if row.first_at else stamp
    row.last_at = max(row.last_at, stamp) if row.last_at else stamp
    status = "not_started" if verb == Verb.LAUNCHED else "in_progress"
    progress = (result.get("extensions") or {}).get(Extension.PROGRESS)
    if isinstance(progress, int | float) and not isinstance(progress, bool):
        row.progress = max(row.progress or 0, min(100, max(0, int(progress))))
    if verb == Verb.COMPLETED:
        status = "completed"
        row.completed = True
        row.progress = 100
        row.completed_at = min(row.completed_at, stamp) if row.completed_at else stamp
    elif verb in (Verb.PASSED, Verb.FAILED):
        passed = verb == Verb.PASSED
        status = "passed" if passed else "failed"
        row.attempts = (row.attempts or 0) + 1
        if passed:
            row.passed_at = min(row.passed_at, stamp) if row.passed_at else stamp
        # The score shown is that of a pass if there is one, else of the latest failure.
        key = f"{int(passed)}|{stamp}|{statement.get('id', '')}"
        if row.score_from is None or key > row.score_from:
            row.score_from = key
            scaled = (result.get("score") or {}).get("scaled")
            row.score_scaled = float(scaled) if isinstance(scaled, int | float) else None
    if row.status is None or STATUS_RANK[status] > STATUS_RANK[row.status]:
        row.status = status


def _new_row(registration: str, statement: dict) -> _Row:
    return _Row(registration=registration, actor_ifi=identity.actor_ifi(statement.get("actor")) or "",
                module_iri=_module_iri(statement) or "")


def _apply(statements: Iterable[dict], rows: dict[str, _Row]) -> None:
    for statement in statements:
        registration = statement["context"]["registration"].lower()
        row = rows.get(registration)
        if row is None:
            row = rows[registration] = _new_row(registration, statement)
        _fold(row, statement)


def _save(rows: dict[str, _Row]) -> None:
    """Insert rows folded from scratch (rebuild, recompute: their old rows are deleted first)."""
    if rows:
        db.session.execute(sa.insert(TABLE), [row.values() for row in rows.values()])


def _merge_statement():
    """INSERT … ON CONFLICT DO UPDATE that merges a batch's folded row into the stored one, in the database.

    The merge is the same commutative combine as the fold (min, max, or, sum, higher rank, later score
    key), so merging partial folds equals folding everything at once; and it is one round trip, atomic
    per row (no read-then-write window between two ingests of one registration).
    """
    from sqlalchemy.dialects import postgresql, sqlite

    postgres = db.session.get_bind().dialect.name == "postgresql"
    insert = (postgresql.insert if postgres else sqlite.insert)(TABLE)
    ex, t = insert.excluded, TABLE.c

    def text(column):
        # Byte order, not the database's locale order: the stamps and keys are fixed-width ASCII.
        return column.collate("C") if postgres else column

    def least(a, b):
        return sa.func.least(text(a), text(b)) if postgres else sa.func.min(a, b)

    def greatest(a, b):
        return sa.func.greatest(text(a), text(b)) if postgres else sa.func.max(a, b)

    def earliest(a, b):
        return sa.case((a.is_(None), b), (b.is_(None), a), else_=least(a, b))

    def rank(column):
        return sa.case(STATUS_RANK, value=column, else_=-1)

    later_score = sa.and_(ex.score_from.is_not(None), sa.or_(t.score_from.is_(None),
                                                             text(ex.score_from) > text(t.score_from)))
    return insert.on_conflict_do_update(index_elements=[t.registration], set_={
        "first_at": least(t.first_at, ex.first_at),
        "last_at": greatest(t.last_at, ex.last_at),
        "progress": sa.func.greatest(t.progress, ex.progress) if postgres else sa.func.max(t.progress, ex.progress),
        "completed": sa.or_(t.completed, ex.completed),
        "completed_at": earliest(t.completed_at, ex.completed_at),
        "passed_at": earliest(t.passed_at, ex.passed_at),
        "attempts": t.attempts + ex.attempts,
        "score_from": sa.case((later_score, ex.score_from), else_=t.score_from),
        "score_scaled": sa.case((later_score, ex.score_scaled), else_=t.score_scaled),
        "status": sa.case((rank(ex.status) > rank(t.status), ex.status), else_=t.status),
    })


_merge_statements: dict[str, sa.Insert] = {}


def _merge(rows: dict[str, _Row]) -> None:
    dialect = db.session.get_bind().dialect.name
    if dialect not in _merge_statements:  # built once per process: it is the same statement every time
        _merge_statements[dialect] = _merge_statement()
    # In key order: two batches that share registrations then lock their rows in the same order, so they
    # may wait on each other (until the first commits) but can never deadlock.
    db.session.execute(_merge_statements[dialect], [rows[key].values() for key in sorted(rows)])
    # ORM objects of these rows loaded earlier in this session (later hooks read them) must not be stale.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, LearnerProgress) and obj.registration in rows:
            db.session.expire(obj)


def project_statements(statements: list[dict]) -> None:
    """Ingest hook: fold newly stored statements into the progress rows of their registrations.

    The batch is folded in Python per registration, then merged into the stored rows by one upsert.
    A voiding statement makes the registration of its target be recomputed from its remaining statements.
    Runs inside the ingest transaction; never commits.
    """
    relevant = [s for s in statements if _relevant(s)]
    affected = voided_registrations(statements)
    if not relevant and not affected:
        return
    # Registrations recomputed below already see this batch's statements: fold the others only.
    relevant = [s for s in relevant if s["context"]["registration"].lower() not in affected]
    changed = set(affected)
    if relevant:
        rows: dict[str, _Row] = {}
        _apply(relevant, rows)
        changed |= _summary_changes(rows)
        _merge(rows)
    for registration in sorted(affected):
        _recompute(registration)
    db.session.info.setdefault(CHANGED_KEY, set()).update(changed)


# What the summary of a registration is (its status and the moments and score of its results, everything
# the reporting row is made of); a batch of lessons and answers in a registration already started changes
# only its progress percentage and last moment, not this. Recorded per ingest transaction on the session.
SUMMARY = ("status", "completed", "first_at", "completed_at", "passed_at", "score_from", "score_scaled")
CHANGED_KEY = "learning.summary_changed"


def _summary_changes(rows: dict[str, _Row]) -> set[str]:
    """The registrations whose summary merging ``rows`` changes, against the stored rows.

    Every part of the merge is a join in a lattice (higher rank, or, earliest, later score key), so a batch
    that changes nothing against the rows read here changes nothing against any later state of them either:
    a concurrent batch that does change a summary reports that itself.
    """
    columns = [TABLE.c.registration] + [TABLE.c[name] for name in SUMMARY]
    stored = {row.registration: row for row in db.session.execute(
        sa.select(*columns).where(TABLE.c.registration.in_(sorted(rows)))).all()}
    changed = set()
    for key, new in rows.items():
        old = stored.get(key)
        if (old is None or STATUS_RANK[new.status or "not_started"] > STATUS_RANK.get(old.status, -1)
                or (new.completed and not old.completed) or new.first_at < old.first_at
                or _earlier(new.completed_at, old.completed_at) or _earlier(new.passed_at, old.passed_at)
                or (new.score_from is not None and (old.score_from is None or new.score_from > old.score_from)
                    and new.score_scaled != old.score_scaled)):
            changed.add(key)
    return changed


def _earlier(new: str | None, old: str | None) -> bool:
    return new is not None and (old is None or new < old)


def summary_changes() -> set[str]:
    """The registrations whose summary the progress hook changed in this transaction so far, forgotten once
    read (the reporting hook, which runs after it, refreshes those rows only)."""
    return db.session.info.pop(CHANGED_KEY, None) or set()


def voided_registrations(statements: list[dict]) -> set[str]:
    """The registrations of the statements that voiding statements in ``statements`` void."""
    targets = [s["object"]["id"].lower() for s in statements
               if s["verb"]["id"] == Verb.VOIDED and (s.get("object") or {}).get("objectType") == "StatementRef"]
    if not targets:
        return set()
    from ..lrs.models import Statement

    return {registration for registration in db.session.execute(sa.select(Statement.registration).where(
        Statement.statement_id.in_(targets), Statement.registration.is_not(None))).scalars() if registration}


def _stored_statements(registration: str | None = None, batch: int = 1000):
    """Every non-voided statement (of one registration, or all), in stored order, a batch at a time."""
    from ..lrs.models import Statement

    last_pk = None
    while True:
        query = (sa.select(Statement.pk, Statement.body).where(
            Statement.voided.is_(False), Statement.registration.is_not(None),
            Statement.verb_id.in_(sorted(TRACKED))).order_by(Statement.pk).limit(batch))
        if registration is not None:
            query = query.where(Statement.registration == registration)
        if last_pk is not None:
            query = query.where(Statement.pk > last_pk)
        rows = db.session.execute(query).all()
        if not rows:
            return
        last_pk = rows[-1].pk
        yield [row.body for row in rows]


def _recompute(registration: str) -> None:
    db.session.execute(sa.delete(TABLE).where(TABLE.c.registration == registration))
    rows: dict[str, _Row] = {}
    for chunk in _stored_statements(registration):
        _apply([s for s in chunk if _relevant(s)], rows)
    _save(rows)


def rebuild_progress(commit: bool = True) -> int:
    """Recompute the whole projection from the stored statements in one transaction; returns the row count.

    With ``commit`` False the caller owns the transaction (``flask reports rebuild`` goes on to rebuild the
    reporting table from these rows before it commits).
    """
    try:
        db.session.execute(sa.delete(TABLE))
        rows: dict[str, _Row] = {}
        for chunk in _stored_statements():
            _apply([s for s in chunk if _relevant(s)], rows)
        _save(rows)
        if commit:
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return len(rows)


def snapshot() -> list[tuple]:
    """Every projection row as a plain tuple, in registration order (to compare two states of the table)."""
    columns = [c for c in LearnerProgress.__table__.columns]
    return [tuple(row) for row in db.session.execute(
        sa.select(*columns).order_by(LearnerProgress.registration)).all()]
