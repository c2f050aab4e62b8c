"""Projections after the commit: work an ingest hook hands on instead of doing inside the ingest transaction.

Inside the ingest transaction a hook takes row locks that it holds until the commit; two batches that share
learners then wait on each other, and the more a hook does (refreshing reporting rows, issuing a
certificate with its credential and statements) the longer every other batch of that learner waits. So
the heavy projections are deferred: the hook appends a task (``defer``) to ``lrs_projection_tasks``, which
is a plain INSERT that no other transaction waits for, and the task runs after the commit
(``run_deferred``), in a transaction of its own, by one run at a time:

- the request that stored the statements runs, right after its commit, every pending task (its own and
  those of other batches), unless another run is under way; then it answers at once, and that run, which
  goes on until nothing is pending, takes its tasks too. Quiet, every request sees its own projections
  done (read-your-writes); under load one run does the work of many batches in one go (one reporting
  query for hundreds of registrations instead of one per batch), which is where the throughput comes from;
- the native player waits for its own tasks (``wait_for_own``), so the result page shows the certificate
  just earned whatever else is running;
- ``flask lrs project`` runs what is pending (tasks left by a crash between the two transactions; the next
  ingest would take them too).

A projector is registered per app for a kind (``register_deferred_projector``) and must be idempotent: it
recomputes its rows from the committed state (the statements and the progress projection), so running a
task twice, or a task whose registration a later batch changed again, gives the same rows. One run at a
time (a transaction-level advisory lock on PostgreSQL; the write lock on SQLite), so an older run never
overwrites a newer one; a player waiting for its own tasks also locks their registrations. The claim
(DELETE … RETURNING) and the work commit together: a run that fails leaves its tasks for the next one.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, current_app

from ..extensions import begin_write, db
from .models import ProjectionTask

log = logging.getLogger(__name__)

EXTENSION = "lrs.deferred_projectors"
SESSION_KEY = "lrs.deferred_task_ids"
ATTEMPTS = 4  # a run that meets a deadlock or serialisation failure is tried again this many times in all


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of deferred work: a registration to refresh, or a statement to act on."""

    kind: str
    registration: str | None
    statement_id: str | None


Projector = Callable[[list[Task]], None]


def register_deferred_projector(app: Flask, kind: str, projector: Projector) -> None:
    """Run ``projector(tasks)`` for the tasks of ``kind`` in this app's deferred runs (inside the run's
    transaction, in a savepoint of its own; it never commits)."""
    app.extensions.setdefault(EXTENSION, {})[kind] = projector


def defer(kind: str, items: Iterable[tuple[str | None, str | None]]) -> None:
    """Add tasks ``(registration, statement_id)`` of ``kind`` in the CURRENT transaction (an ingest hook).

    The ids are kept on the session, so the ingest that commits them runs them right after its commit.
    """
    rows = [{"kind": kind, "registration": registration, "statement_id": statement_id}
            for registration, statement_id in items]
    if not rows:
        return
    ids = db.session.execute(
        sa.insert(ProjectionTask).returning(ProjectionTask.id, sort_by_parameter_order=True), rows).scalars()
    db.session.info.setdefault(SESSION_KEY, []).extend(ids)


def forget_own_tasks() -> list[int]:
    """The ids ``defer`` recorded on this session, removed from it (after a commit: to run them; after a
    rollback: they were never stored)."""
    return db.session.info.pop(SESSION_KEY, None) or []


def is_transient(error: BaseException) -> bool:
    """A deadlock or serialisation failure (PostgreSQL): the transaction did nothing wrong and may be retried."""
    try:
        from psycopg import errors
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    original = getattr(error, "orig", error)
    return isinstance(original, errors.DeadlockDetected | errors.SerializationFailure)


def _claim(own: list[int], limit: int) -> list[Task]:
    table = ProjectionTask.__table__
    postgres = db.session.get_bind().dialect.name == "postgresql"
    claimed: list[sa.Row] = []
    if own:
        # Our own tasks even if another run holds them: wait for it (then they are gone, done by it).
        wanted = sa.select(table.c.id).where(table.c.id.in_(own))
        if postgres:
            wanted = wanted.with_for_update()
        claimed += db.session.execute(sa.delete(table).where(table.c.id.in_(wanted.scalar_subquery()))
                                      .returning(table.c.kind, table.c.registration, table.c.statement_id)).all()
    if limit > 0:
        others = sa.select(table.c.id).order_by(table.c.id).limit(limit)
        if postgres:
            others = others.with_for_update(skip_locked=True)
        claimed += db.session.execute(sa.delete(table).where(table.c.id.in_(others.scalar_subquery()))
                                      .returning(table.c.kind, table.c.registration, table.c.statement_id)).all()
    return [Task(row.kind, row.registration, row.statement_id) for row in claimed]


_LOCK_REGISTRATIONS = sa.text(
    "SELECT count(pg_advisory_xact_lock(hashtext(r))) FROM (SELECT r FROM unnest(CAST(:keys AS text[])) AS r "
    "ORDER BY r) AS ordered")
# One key for "a run is under way" (two int4 halves: this feature's number and the run lock).
_TRY_RUN_LOCK = sa.text("SELECT pg_try_advisory_xact_lock(7352, 1)")
_RUN_LOCK = sa.text("SELECT pg_advisory_xact_lock(7352, 1)")


def _serialise(tasks: list[Task]) -> None:
    """Lock the tasks' registrations, in one order (no deadlock between two holders)."""
    keys = sorted({t.registration for t in tasks if t.registration})
    if keys:
        db.session.execute(_LOCK_REGISTRATIONS, {"keys": keys})


def _work(tasks: list[Task], projectors: dict[str, Projector]) -> None:
    by_kind: dict[str, list[Task]] = {}
    for task in tasks:
        by_kind.setdefault(task.kind, []).append(task)
    for kind, group in sorted(by_kind.items()):
        projector = projectors.get(kind)
        if projector is None:
            # A kind no feature of this app handles (e.g. a feature switched off): nothing to do for it.
            continue
        try:
            with db.session.begin_nested():
                projector(group)
        except Exception as error:
            if is_transient(error):
                raise
            # A bug in a projector must not stop the others or come back on every run: the statements are
            # stored, and the documented rebuild commands recompute what this run could not.
            log.exception("deferred %s projection of %d task(s) failed; `flask reports rebuild` and "
                          "`flask certificates issue-missing` recompute it", kind, len(group))


def _run_own(own: list[int], projectors: dict[str, Projector]) -> int:
    """Claim and run exactly ``own`` (waiting for a run that holds them: then they are done already)."""
    begin_write()
    tasks = _claim(own, 0)
    if not tasks:
        db.session.rollback()
        return 0
    if db.session.get_bind().dialect.name == "postgresql":
        _serialise(tasks)
    _work(tasks, projectors)
    db.session.commit()
    return len(tasks)


def _run_pending(limit: int, projectors: dict[str, Projector], wait: bool = False) -> int | None:
    """One run over up to ``limit`` pending tasks; None when another run is under way (unless ``wait``)."""
    begin_write()
    if db.session.get_bind().dialect.name == "postgresql":
        if wait:
            db.session.execute(_RUN_LOCK)
        elif not db.session.execute(_TRY_RUN_LOCK).scalar():
            db.session.rollback()
            return None
    tasks = _claim([], limit)
    if not tasks:
        db.session.rollback()
        return 0
    if db.session.get_bind().dialect.name == "postgresql":
        _serialise(tasks)  # against a player's run of its own tasks, which holds no run lock
    _work(tasks, projectors)
    db.session.commit()
    return len(tasks)


def _retrying(step: Callable[[], int | None]) -> int | None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return step()
        except Exception as error:
            db.session.rollback()
            if is_transient(error) and attempt < ATTEMPTS:
                continue
            log.exception("deferred projections could not run; they stay queued for the next run")
            return 0
    return 0


def run_deferred(own: list[int] | None = None, *, wait_for_own: bool = False, limit: int | None = None) -> int:
    """After an ingest commit: run what is pending, unless another run is under way (it will take ``own``
    too); with ``wait_for_own``, first run ``own`` whatever else runs. Returns how many tasks ran.

    Each run is a transaction of its own, committed; never raises for a projector's failure (logged), so a
    request whose statements are committed always answers as stored. A run takes at most ``limit`` tasks
    (LRS_DEFERRED_BATCH); runs follow each other until one finds nothing, for LRS_DEFERRED_MILLISECONDS at most.
    """
    projectors = current_app.extensions.get(EXTENSION) or {}
    if not projectors:
        return 0
    if limit is None:
        limit = int(current_app.config.get("LRS_DEFERRED_BATCH", 1000))
    budget = int(current_app.config.get("LRS_DEFERRED_MILLISECONDS", 250)) / 1000
    done = 0
    if wait_for_own and own:
        done += _retrying(lambda: _run_own(own, projectors)) or 0
    started = time.monotonic()
    # Until a run finds nothing (what other batches committed meanwhile is done too), or the time this
    # request may spend on others' work is up: the next request to commit then takes over.
    while True:
        ran = _retrying(lambda: _run_pending(limit, projectors))
        if not ran:
            return done
        done += ran
        if time.monotonic() - started > budget:
            return done


def run_all_deferred() -> int:
    """Run everything pending (``flask lrs project``); returns how many tasks ran.

    Waits for a run under way to finish rather than leaving the work to it, so that when it returns nothing
    that was pending at the call is left."""
    projectors = current_app.extensions.get(EXTENSION) or {}
    limit = int(current_app.config.get("LRS_DEFERRED_BATCH", 1000))
    total = 0
    while projectors:
        ran = _retrying(lambda: _run_pending(limit, projectors, wait=True))
        if not ran:
            break
        total += ran
    return total


def pending_count() -> int:
    """How many tasks wait (for the health page and the CLI)."""
    return db.session.execute(sa.select(sa.func.count()).select_from(ProjectionTask)).scalar_one()
