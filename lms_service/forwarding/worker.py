"""The forwarding worker behind ``flask lrs forward``: claim -> send -> record, in a loop.

- Claim (one short transaction): due rows are marked ``sending`` with a lease. On PostgreSQL the rows
  are picked with ``FOR UPDATE SKIP LOCKED``, so any number of workers share the queue without waiting
  on each other or sending a row twice. On SQLite exactly one worker runs (an exclusive lock file
  beside the database; the kernel drops it when the process dies, even by SIGKILL).
- Send (no transaction open): through ``xapi.client.OutboundLRS``, one PUT per statement id or one
  POST per batch; a resend after a crash is harmless because the target keys on the statement id.
- Record (one short transaction): sent, failed with the next attempt time, or dead with the reason.
  Every row delivered before a failure (a target error, a surprise in the worker) is recorded as sent
  in the same step, so it is never sent again.

A worker killed mid-batch leaves its rows ``sending``; when their lease expires any worker claims them
again, and first asks the target for each (GET by id): what a killed worker already delivered is marked
sent without being sent twice. Problems of the target (down, 5xx, 429, timeouts, garbage, refused
credentials) back the whole target off exponentially with jitter; a statement the target rejects (other
4xx) becomes a dead letter. One row's trouble stays that row's: a statement that cannot be prepared or
written as JSON is a dead letter with the reason, an unexpected error while sending it makes that row
wait with its own backoff, and the rows behind it go on.
"""
from __future__ import annotations

import datetime as dt
import errno
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import sqlalchemy as sa
from flask import Flask, current_app

from xapi.client import printable

if TYPE_CHECKING:
    from xapi.client import OutboundLRS

from ..extensions import db
from ..lrs.models import Attachment, Statement, utcnow
from . import pseudonyms
from .crypto import SecretUnreadable, decrypt_secret, pseudonym_key
from .models import DEAD, FAILED, QUEUED, SENDING, SENT, ForwardTarget, OutboxEntry
from .services import as_utc, backoff_seconds

log = logging.getLogger("lms_service.forwarding")

ABOUT_RECHECK_SECONDS = 600


class WorkerLockError(RuntimeError):
    """Another worker holds the SQLite lock."""


@dataclass
class Claimed:
    id: int
    statement_id: str
    target_id: int
    attempts: int
    statement: dict  # as it will leave the service (pseudonymised)
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)
    problem: str | None = None  # the statement could not be prepared for sending: a dead letter
    # Claimed from an expired lease: a worker that died may have delivered it, so the target is asked first.
    recovered: bool = False


@dataclass(frozen=True)
class TargetConf:
    id: int
    name: str
    endpoint: str
    key: str
    secret_encrypted: str
    xapi_version: str
    batch_size: int
    post_batches: bool
    updated: dt.datetime | None
    failures: int


@dataclass
class Outcome:
    """What happened to one row: its new state and why (FAILED: this row waits with its own backoff)."""

    state: str
    status: int | None = None
    error: str | None = None
    conflict: bool = False


@dataclass(frozen=True)
class TargetTrouble:
    """The target (not the row) has a problem: the target backs off and its untried rows wait."""

    error: str
    retry_after: float | None = None


class SQLiteWorkerLock:
    """An exclusive lock file beside the SQLite database: one forwarding worker per database."""

    def __init__(self, path: Path):
        self.path = path
        self.handle: TextIO | None = None

    def acquire(self) -> None:
        """Take the lock or raise WorkerLockError naming the worker that holds it."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            if error.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise WorkerLockError(
                    f"another forwarding worker ({holder}) is running on this SQLite database; SQLite allows "
                    f"one worker at a time (lock file {self.path}). Use PostgreSQL to run several.") from None
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        self.handle = handle

    def release(self) -> None:
        """Give the lock back (also happens when the process dies)."""
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def sqlite_lock_path(app: Flask) -> Path | None:
    """Where the SQLite worker lock lives (beside the database file), or None on PostgreSQL."""
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:":
        return Path(app.instance_path) / "forward-worker.lock"
    return Path(database + ".forward-worker.lock")


class Forwarder:
    """One worker's state: its id, the kept-alive clients per target, and the settings."""

    def __init__(self, *, worker_id: str | None = None, claim_size: int | None = None,
                 lease_seconds: float | None = None, timeout: float | None = None,
                 retry_base: float | None = None, retry_cap: float | None = None, rng: random.Random | None = None):
        config = current_app.config
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16 ** 4):04x}"
        self.claim_size = int(claim_size or config["FORWARD_BATCH_SIZE"])
        self.lease_seconds = float(lease_seconds or config["FORWARD_LEASE_SECONDS"])
        self.timeout = float(timeout or config["FORWARD_TIMEOUT_SECONDS"])
        self.retry_base = float(retry_base or config["FORWARD_RETRY_BASE_SECONDS"])
        self.retry_cap = float(retry_cap or config["FORWARD_RETRY_MAX_SECONDS"])
        self.rng = rng or random.Random()
        self._clients: dict[int, tuple[dt.datetime | None, OutboundLRS]] = {}
        self._about_ok_until: dict[int, float] = {}

    def close(self) -> None:
        """Close the kept-alive connections to the targets."""
        for _, client in self._clients.values():
            client.close()
        self._clients.clear()

    # ------------------------------------------------------------------ claim

    def claim(self) -> tuple[dict[int, TargetConf], list[Claimed]]:
        """Mark due rows ``sending`` with a lease and load what sending needs; commits."""
        now = utcnow()
        due = sa.or_(
            sa.and_(OutboxEntry.state.in_((QUEUED, FAILED)), OutboxEntry.next_attempt_at <= now),
            sa.and_(OutboxEntry.state == SENDING, OutboxEntry.lease_until < now),
        )
        query = (sa.select(OutboxEntry.id)
                 .join(ForwardTarget, ForwardTarget.id == OutboxEntry.target_id)
                 .where(due, ForwardTarget.enabled.is_(True),
                        sa.or_(ForwardTarget.blocked_until.is_(None), ForwardTarget.blocked_until <= now))
                 .order_by(OutboxEntry.id).limit(self.claim_size))
        if db.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=OutboxEntry)
        query = query.add_columns(OutboxEntry.state)
        try:
            found = db.session.execute(query).all()
            if not found:
                db.session.commit()
                return {}, []
            ids = [row.id for row in found]
            recovered = {row.id for row in found if row.state == SENDING}
            db.session.execute(
                sa.update(OutboxEntry).where(OutboxEntry.id.in_(ids))
                .values(state=SENDING, claimed_by=self.worker_id,
                        lease_until=now + dt.timedelta(seconds=self.lease_seconds),
                        attempts=OutboxEntry.attempts + 1)
                .execution_options(synchronize_session=False))
            rows = db.session.execute(
                sa.select(OutboxEntry.id, OutboxEntry.statement_id, OutboxEntry.target_id, OutboxEntry.attempts,
                          Statement.body, Statement.has_attachments)
                .outerjoin(Statement, Statement.statement_id == OutboxEntry.statement_id)
                .where(OutboxEntry.id.in_(ids)).order_by(OutboxEntry.id)).all()
            erased = [row.id for row in rows if row.body is None]
            if erased:
                # The statement was deleted at the source (an erasure): it must not leave the service.
                db.session.execute(sa.delete(OutboxEntry).where(OutboxEntry.id.in_(erased)))
                rows = [row for row in rows if row.body is not None]
            target_ids = {row.target_id for row in rows}
            targets = {t.id: TargetConf(t.id, t.name, t.endpoint, t.key, t.secret_encrypted, t.xapi_version,
                                        t.batch_size, t.post_batches, as_utc(t.updated), t.failures)
                       for t in db.session.execute(sa.select(ForwardTarget)
                                                   .where(ForwardTarget.id.in_(target_ids))).scalars()}
            claimed = self._prepare(rows, recovered)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return targets, claimed

    def _prepare(self, rows: list, recovered: set[int]) -> list[Claimed]:
        """The claimed rows as they will leave the service; a row whose statement trips any step carries
        the reason as its ``problem`` (a dead letter) instead of failing the batch."""
        problems: dict[int, str] = {}

        def note(row, error: Exception) -> None:
            # one odd statement must not block the queue behind it
            log.error("forwarding: statement %s cannot be prepared: %r", row.statement_id, error, exc_info=error)
            problems.setdefault(row.id, f"the statement cannot be prepared for forwarding: {error!r}")

        emails: set[str] = set()
        wanted: dict[int, list[str]] = {}
        for row in rows:
            try:
                emails |= pseudonyms.mbox_emails([row.body])
                if row.has_attachments:
                    wanted[row.id] = [a["sha2"] for a in row.body.get("attachments") or () if a.get("sha2")]
            except Exception as error:
                note(row, error)
        accounts = pseudonyms.known_accounts(emails)
        contents = self._attachment_contents({sha2 for shas in wanted.values() for sha2 in shas})
        home = current_app.config["BASE_URL"].rstrip("/")
        key = pseudonym_key()
        claimed = []
        for row in rows:
            item = Claimed(row.id, row.statement_id, row.target_id, row.attempts, {}, recovered=row.id in recovered)
            if row.id not in problems:
                try:
                    item.statement = pseudonyms.pseudonymise(row.body, home_page=home, accounts=accounts, key=key,
                                                             in_place=True)
                except Exception as error:
                    note(row, error)
                item.attachments = [contents[sha2] for sha2 in wanted.get(row.id, ()) if sha2 in contents]
            item.problem = problems.get(row.id)
            claimed.append(item)
        return claimed

    @staticmethod
    def _attachment_contents(wanted: set[str]) -> dict[str, tuple[str, str, bytes]]:
        if not wanted:
            return {}
        return {row.sha2: (row.sha2, row.content_type, row.content) for row in db.session.execute(
            sa.select(Attachment.sha2, Attachment.content_type, Attachment.content).where(Attachment.sha2.in_(wanted)))}

    # ------------------------------------------------------------------ send

    def _client(self, target: TargetConf):
        from xapi.client import OutboundLRS

        cached = self._clients.get(target.id)
        if cached is not None and cached[0] == target.updated:
            return cached[1]
        if cached is not None:
            cached[1].close()
            self._about_ok_until.pop(target.id, None)
        client = OutboundLRS(target.endpoint, target.key, decrypt_secret(target.secret_encrypted),
                             version=target.xapi_version, timeout=self.timeout)
        self._clients[target.id] = (target.updated, client)
        return client

    def deliver(self, target: TargetConf, rows: list[Claimed], deadline: float,
                outcomes: dict[int, Outcome] | None = None) -> tuple[dict[int, Outcome], str | None, float | None]:
        """Send one target's rows; returns outcomes by row id, the target-level error (or None) and the
        Retry-After the target asked for. Rows without an outcome were not tried (released).

        ``outcomes`` is filled as each row is settled, so a caller that passes its own dict still has the
        rows delivered before a surprise that escapes from here, and records them as sent.
        """
        from xapi import client as xc

        outcomes = {} if outcomes is None else outcomes
        outcomes.update({r.id: Outcome(DEAD, None, r.problem) for r in rows if r.problem})
        rows = [r for r in rows if not r.problem]
        if not rows:
            return outcomes, None, None
        try:
            client = self._client(target)
        except SecretUnreadable as error:
            return outcomes, str(error), None
        except (ValueError, xc.EndpointError) as error:
            return outcomes, f"the target cannot be used: {error}", None
        if self._about_ok_until.get(target.id, 0) < time.monotonic():
            result = client.check_about()
            if result.outcome != xc.SENT:
                return outcomes, result.error, result.retry_after
            self._about_ok_until[target.id] = time.monotonic() + ABOUT_RECHECK_SECONDS

        pending = []
        for row in rows:
            if not row.recovered:
                pending.append(row)
                continue
            if time.monotonic() > deadline:
                return outcomes, None, None
            settled = self._guarded(target, row, client, lambda row=row: self._look_up(target, client, row))
            if isinstance(settled, TargetTrouble):
                return outcomes, settled.error, settled.retry_after
            if settled is None:
                pending.append(row)  # the target does not have it: send it
            else:
                outcomes[row.id] = settled

        if target.post_batches:
            plain = [r for r in pending if not r.attachments]
            for start in range(0, len(plain), target.batch_size):
                if time.monotonic() > deadline:
                    break
                chunk = plain[start:start + target.batch_size]
                if len(chunk) < 2:
                    continue
                try:
                    result = client.post_statements([r.statement for r in chunk])
                except Exception as error:
                    # One statement of the chunk cannot be written (or a surprise): PUT them one by one
                    # below, so only that one is held back.
                    if not isinstance(error, xc.StatementNotSendable):
                        log.exception("forwarding to %s: unexpected error posting a batch", target.name)
                        client.close()
                    continue
                if result.outcome == xc.SENT:
                    for r in chunk:
                        outcomes[r.id] = Outcome(SENT, result.status)
                elif result.outcome == xc.RETRY:
                    return outcomes, result.error, result.retry_after
                # REJECT or CONFLICT: one statement spoils the batch; PUT them one by one below to find it.
            pending = [r for r in pending if r.id not in outcomes]

        for row in pending:
            if time.monotonic() > deadline:
                break  # the lease is running out: leave the rest for the next claim
            settled = self._guarded(target, row, client, lambda row=row: self._put(target, client, row))
            if isinstance(settled, TargetTrouble):
                return outcomes, settled.error, settled.retry_after
            outcomes[row.id] = settled
        return outcomes, None, None

    @staticmethod
    def _guarded(target: TargetConf, row: Claimed, client, step: Callable[[], Any]) -> Any:
        """``step()`` for one row, with what it raises kept to that row: a statement that cannot be written
        as JSON is a dead letter; any other surprise makes this row wait with its own backoff."""
        from xapi import client as xc

        try:
            return step()
        except xc.StatementNotSendable as error:
            log.error("forwarding to %s: statement %s cannot be sent: %s", target.name, row.statement_id, error)
            return Outcome(DEAD, None, f"the statement cannot be sent: {error}")
        except Exception as error:
            log.exception("forwarding to %s: unexpected error sending statement %s", target.name, row.statement_id)
            client.close()  # the connection may have been left mid-request
            return Outcome(FAILED, None, f"unexpected error in the worker while sending this statement: "
                                         f"{type(error).__name__}: {error}")

    def _put(self, target: TargetConf, client, row: Claimed) -> Outcome | TargetTrouble:
        from xapi import client as xc

        result = client.put_statement(row.statement, row.attachments)
        if result.outcome == xc.SENT:
            return Outcome(SENT, result.status)
        if result.outcome == xc.REJECT:
            log.error("forwarding to %s: statement %s rejected: %s", target.name, row.statement_id, result.error)
            return Outcome(DEAD, result.status, result.error)
        if result.outcome != xc.CONFLICT:
            return TargetTrouble(result.error, result.retry_after)
        fetched, theirs = client.get_statement(row.statement_id)
        if theirs is None:
            if fetched.outcome == xc.RETRY:
                return TargetTrouble(f"409, then {fetched.error}", fetched.retry_after)
            return Outcome(DEAD, 409, fetched.error)
        return self._compare(target, row, theirs, 409, "409: ")

    def _look_up(self, target: TargetConf, client, row: Claimed) -> Outcome | TargetTrouble | None:
        """A recovered row: SENT (or a flagged conflict) when the target already holds its statement,
        None when it does not (send it), TargetTrouble when the target cannot say."""
        from xapi import client as xc

        fetched, theirs = client.get_statement(row.statement_id)
        if theirs is not None:
            return self._compare(target, row, theirs, fetched.status, "")
        if fetched.outcome == xc.RETRY:
            return TargetTrouble(fetched.error, fetched.retry_after)
        return None  # not found (or a GET the target refuses): a PUT by id is harmless either way

    @staticmethod
    def _compare(target: TargetConf, row: Claimed, theirs: dict, status: int | None, prefix: str) -> Outcome:
        from xapi.identity import statements_equivalent

        if statements_equivalent(row.statement, theirs):
            return Outcome(SENT, status, f"{prefix}the target already held this statement")
        message = f"{prefix}the target holds a different statement with this id"
        log.error("forwarding to %s: statement %s flagged: %s", target.name, row.statement_id, message)
        return Outcome(DEAD, status, message, conflict=True)

    # ------------------------------------------------------------------ record

    def record(self, targets: dict[int, TargetConf], rows: list[Claimed], outcomes: dict[int, Outcome],
               target_errors: dict[int, tuple[str, float | None]], successes: set[int]) -> None:
        """Write every row's new state and each target's health; commits."""
        now = utcnow()
        blocked: dict[int, dt.datetime] = {}
        for target_id, (_error, retry_after) in target_errors.items():
            failures = targets[target_id].failures + 1
            delay = max(backoff_seconds(failures, self.retry_base, self.retry_cap, self.rng), retry_after or 0)
            blocked[target_id] = now + dt.timedelta(seconds=delay)
        params = []
        for row in rows:
            outcome = outcomes.get(row.id)
            values: dict[str, Any] = {"b_id": row.id, "b_sent_at": None, "b_next": now, "b_status": None,
                                      "b_error": None, "b_conflict": False, "b_attempts": row.attempts}
            if outcome is not None:
                values.update(b_state=outcome.state, b_status=outcome.status, b_error=outcome.error,
                              b_conflict=outcome.conflict, b_sent_at=now if outcome.state == SENT else None)
                if outcome.state == FAILED:
                    # This row's own trouble: it waits (longer each time) while the rows behind it go on.
                    delay = backoff_seconds(row.attempts, self.retry_base, self.retry_cap, self.rng)
                    values["b_next"] = max(now + dt.timedelta(seconds=delay), blocked.get(row.target_id, now))
            elif row.target_id in target_errors:
                values.update(b_state=FAILED, b_next=blocked[row.target_id],
                              b_error=target_errors[row.target_id][0][:1000])
            else:
                # Not tried (lease budget spent): back to the queue without counting an attempt.
                values.update(b_state=QUEUED, b_attempts=row.attempts - 1)
            if values["b_error"]:
                values["b_error"] = printable(values["b_error"], 1000)
            params.append(values)
        table = OutboxEntry.__table__
        try:
            if params:
                db.session.execute(
                    table.update().where(table.c.id == sa.bindparam("b_id"), table.c.claimed_by == self.worker_id)
                    .values(state=sa.bindparam("b_state"), sent_at=sa.bindparam("b_sent_at"),
                            next_attempt_at=sa.bindparam("b_next"), last_status=sa.bindparam("b_status"),
                            last_error=sa.bindparam("b_error"), conflict=sa.bindparam("b_conflict"),
                            attempts=sa.bindparam("b_attempts"), claimed_by=None, lease_until=None),
                    params)
            for target_id, (error, _) in target_errors.items():
                db.session.execute(sa.update(ForwardTarget).where(ForwardTarget.id == target_id).values(
                    failures=ForwardTarget.failures + 1, blocked_until=blocked[target_id],
                    last_error=printable(error, 1000), last_error_at=now))
            for target_id in successes - set(target_errors):
                db.session.execute(sa.update(ForwardTarget).where(ForwardTarget.id == target_id).values(
                    failures=0, blocked_until=None, last_success_at=now))
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        for target_id, (error, _) in target_errors.items():
            log.warning("forwarding to %s failed (%d statements back off until %s): %s", targets[target_id].name,
                        sum(1 for r in rows if r.target_id == target_id and r.id not in outcomes),
                        blocked[target_id].isoformat(timespec="seconds"), error)

    # ------------------------------------------------------------------ one cycle

    def run_once(self) -> int:
        """Claim one batch, send it, record the results; returns how many rows were claimed."""
        targets, rows = self.claim()
        if not rows:
            return 0
        deadline = time.monotonic() + self.lease_seconds * 0.5
        outcomes: dict[int, Outcome] = {}
        target_errors: dict[int, tuple[str, float | None]] = {}
        successes: set[int] = set()
        by_target: dict[int, list[Claimed]] = {}
        for row in rows:
            by_target.setdefault(row.target_id, []).append(row)
        for target_id, group in by_target.items():
            got: dict[int, Outcome] = {}
            try:
                _, error, retry_after = self.deliver(targets[target_id], group, deadline, got)
            except Exception as surprise:  # never let one target's surprise stop the worker
                # ``got`` keeps what was delivered before the surprise: recorded as sent, never resent.
                log.exception("forwarding to %s: unexpected error", targets[target_id].name)
                retry_after = None
                error = f"unexpected error in the worker: {type(surprise).__name__}: {surprise}"
                broken = self._clients.pop(target_id, None)
                if broken is not None:
                    broken[1].close()
            outcomes.update(got)
            if error is not None:
                target_errors[target_id] = (error, retry_after)
            if any(o.state == SENT for o in got.values()):
                successes.add(target_id)
        self.record(targets, rows, outcomes, target_errors, successes)
        return len(rows)

    def prune_sent(self, keep_days: float) -> int:
        """Delete sent rows older than ``keep_days``; commits."""
        cutoff = utcnow() - dt.timedelta(days=keep_days)
        result: Any = db.session.execute(sa.delete(OutboxEntry).where(OutboxEntry.state == SENT,
                                                                      OutboxEntry.sent_at < cutoff))
        count = result.rowcount
        db.session.commit()
        return count


def run_worker(*, once: bool = False, should_stop: Callable[[], bool] = lambda: False,
               poll_seconds: float | None = None, **settings) -> int:
    """Forward until ``should_stop()`` (or, with ``once``, until no row is due); returns rows handled.

    Database errors are logged and retried after a pause: the worker outlives a database restart.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    poll = float(poll_seconds if poll_seconds is not None else app.config["FORWARD_POLL_SECONDS"])
    keep_days = float(app.config["FORWARD_KEEP_SENT_DAYS"])
    forwarder = Forwarder(**settings)
    lock = None
    path = sqlite_lock_path(app)
    if path is not None:
        lock = SQLiteWorkerLock(path)
        lock.acquire()
    log.info("forwarding worker %s started", forwarder.worker_id)
    handled, next_prune = 0, 0.0
    try:
        while not should_stop():
            try:
                if keep_days > 0 and time.monotonic() >= next_prune:
                    forwarder.prune_sent(keep_days)
                    next_prune = time.monotonic() + 600
                count = forwarder.run_once()
            except Exception as error:
                db.session.rollback()
                if isinstance(error, sa.exc.SQLAlchemyError):
                    log.error("forwarding worker: database error, retrying in %.0f s: %s", max(poll, 1), error)
                else:
                    log.exception("forwarding worker: unexpected error, retrying in %.0f s", max(poll, 1))
                count = 0
                if once:
                    raise
                time.sleep(max(poll, 1))
                continue
            handled += count
            if count == 0:
                if once:
                    break
                # Sleep in short steps so a stop request is noticed quickly.
                end = time.monotonic() + poll
                while time.monotonic() < end and not should_stop():
                    time.sleep(min(0.2, poll))
    finally:
        forwarder.close()
        db.session.remove()
        if lock is not None:
            lock.release()
        log.info("forwarding worker %s stopped after %d rows", forwarder.worker_id, handled)
    return handled
