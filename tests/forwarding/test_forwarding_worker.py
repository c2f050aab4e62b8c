"""The worker against a real second LRS (this service under gunicorn), with faults injected in between.

After every recovery the target must hold exactly the source's statements: none lost, none duplicated.
"""
from __future__ import annotations

import time
import uuid

import pytest
from forwarding_helpers import SOURCE_HOME, free_port, make_statement, make_swedish_statement, outbox, target_row

from lms_service.extensions import db
from lms_service.forwarding.models import DEAD, FAILED, QUEUED, SENT
from tests.conftest import IS_POSTGRES

pytestmark = pytest.mark.slow


def assert_exactly(second_lrs, registration: str, statements: list[dict]) -> None:
    held = second_lrs.ids(registration)
    assert len(held) == len(set(held)), "duplicates at the target"
    assert set(held) == {s["id"] for s in statements}


def assert_delivered_once(proxy, statements: list[dict]) -> None:
    """Every statement reached the target through the proxy exactly once (none twice while it was up)."""
    assert dict(proxy.puts) == {s["id"].lower(): 1 for s in statements}


def assert_texts_intact(second_lrs, registration: str, statements: list[dict]) -> None:
    held = {s["id"]: s for s in second_lrs.statements(registration)}
    for statement in statements:
        theirs = held[statement["id"]]
        for key in ("verb", "object", "result"):
            assert theirs.get(key) == statement.get(key), (key, theirs.get(key), statement.get(key))


def wait_and_run(run_worker, seconds: float = 0.25, **settings) -> int:
    time.sleep(seconds)  # past the (test-sized) backoff
    return run_worker(**settings)


def test_statements_arrive_once_with_pseudonymous_actors(app, second_lrs, ingest, add_target, run_worker,
                                                          create_user):
    from lms_service.accounts.models import User

    user_id = create_user(email="lena@example.se")
    with app.app_context():
        account = db.session.get(User, user_id).xapi_account_name
    target = add_target(second_lrs.endpoint, second_lrs.key, second_lrs.secret)
    registration = str(uuid.uuid4())
    statements = [make_statement(registration, n) for n in range(150)]
    statements[0]["actor"] = {"objectType": "Agent", "mbox": "mailto:Lena@example.se", "name": "Lena Lärling"}
    statements[1]["actor"] = {"objectType": "Agent", "mbox": "mailto:stranger@example.org"}
    ingest(statements[:100])
    ingest(statements[100:])
    assert run_worker() == 150
    assert_exactly(second_lrs, registration, statements)
    held = {s["id"]: s for s in second_lrs.statements(registration)}
    assert held[statements[0]["id"]]["actor"]["account"] == {"homePage": SOURCE_HOME, "name": account}
    assert held[statements[1]["id"]]["actor"]["account"]["name"].startswith("ext-")
    assert "mbox" not in repr(held) and "Lärling" not in repr(held)
    assert {r.state for r in outbox(app, target)} == {SENT}
    assert target_row(app, target).last_success_at is not None
    # A second run finds nothing to do.
    assert run_worker() == 0


def test_batches_can_be_posted(app, second_lrs, proxy, ingest, add_target, run_worker):
    target = add_target(proxy.endpoint, second_lrs.key, second_lrs.secret, post_batches=True, batch_size=40)
    registration = str(uuid.uuid4())
    statements = [make_statement(registration, n) for n in range(100)]
    ingest(statements)
    assert run_worker() == 100
    assert_exactly(second_lrs, registration, statements)
    assert set(proxy.puts.values()) == {1} and len(proxy.puts) == 100
    assert proxy.requests <= 5  # about + three POSTs, not 100 PUTs
    assert {r.state for r in outbox(app, target)} == {SENT}


def test_target_down_then_fixed(app, second_lrs, ingest, add_target, run_worker):
    closed = f"http://127.0.0.1:{free_port()}/xapi/"
    target = add_target(closed, second_lrs.key, second_lrs.secret, name="down")
    registration = str(uuid.uuid4())
    statements = [make_statement(registration, n) for n in range(20)]
    ingest(statements)
    run_worker()
    rows = outbox(app, target)
    assert {r.state for r in rows} == {FAILED}
    state = target_row(app, target)
    assert state.failures == 1 and "connection refused" in state.last_error
    with app.app_context():
        from lms_service.forwarding.services import health, update_target

        item = health()[0]
        assert item.status == "failing" and item.counts[FAILED] == 20 and item.lag_seconds > 0
        update_target("down", endpoint=second_lrs.endpoint)
    assert run_worker() == 20
    assert_exactly(second_lrs, registration, statements)
    state = target_row(app, target)
    assert state.failures == 0 and state.blocked_until is None


@pytest.mark.parametrize("mode, reason", [
    ("500", "the target answered 500: injected 500"),
    ("hang", "no answer within the timeout of 0.5 s"),
    ("garbage", "not valid HTTP"),
    ("html", "does not answer as an xAPI LRS"),
    ("401", "the target refused the credentials (401)"),
])
def test_faults_back_off_and_recover_without_loss(app, second_lrs, proxy, ingest, add_target, run_worker, mode,
                                                  reason, caplog):
    target = add_target(proxy.endpoint, second_lrs.key, second_lrs.secret, name=f"fault-{mode}")
    registration = str(uuid.uuid4())
    statements = [make_statement(registration, n) for n in range(30)]
    ingest(statements)
    proxy.mode = mode
    run_worker(timeout=0.5)
    assert {r.state for r in outbox(app, target)} == {FAILED}
    state = target_row(app, target)
    assert reason in state.last_error and state.failures >= 1
    assert all(reason in r.last_error for r in outbox(app, target))
    assert any(reason in record.getMessage() for record in caplog.records)
    # Still failing: the backoff grows, nothing becomes a dead letter.
    wait_and_run(run_worker, timeout=0.5)
    assert target_row(app, target).failures >= 2
    assert {r.state for r in outbox(app, target)} == {FAILED}
    proxy.mode = "pass"
    proxy.release.set()
    assert wait_and_run(run_worker) == 30
    assert_exactly(second_lrs, registration, statements)
    assert {r.state for r in outbox(app, target)} == {SENT}


def test_rejected_statements_become_dead_letters_and_the_rest_arrives(app, second_lrs, ingest, add_target,
                                                                      run_worker):
    # A 1.0.3 target refuses 2.0-only properties with 400: that statement is dead, the others go on.
    target = add_target(second_lrs.endpoint, second_lrs.key, second_lrs.secret, xapi_version="1.0.3",
                        name="old")
    registration = str(uuid.uuid4())
    statements = [make_statement(registration, n) for n in range(10)]
    statements[4]["context"]["contextAgents"] = [{"objectType": "contextAgent",
                                                  "agent": {"account": {"homePage": SOURCE_HOME, "name": "x"}}}]
    ingest(statements)
    run_worker()
    rows = {r.statement_id: r for r in outbox(app, target)}
    dead = rows.pop(statements[4]["id"])
    assert dead.state == DEAD and dead.last_status == 400 and "400" in dead.last_error and not dead.conflict
    assert {r.state for r in rows.values()} == {SENT}
    assert_exactly(second_lrs, registration, statements[:4] + statements[5:])
    with app.app_context():
        from lms_service.forwarding.services import retry_dead, update_target

        update_target("old", xapi_version="2.0.0")
        assert retry_dead("old") == 1
    run_worker()
    assert_exactly(second_lrs, registration, statements)


def test_409_same_statement_counts_as_sent_and_a_different_one_is_flagged(app, second_lrs, proxy, ingest,
                                                                          add_target, run_worker):
    target = add_target(proxy.endpoint, second_lrs.key, second_lrs.secret)
    registration = str(uuid.uuid4())
    same, different, fresh = (make_statement(registration, n) for n in range(3))
    ingest([same, different, fresh])
    # The target already holds "same" (as forwarding would send it) and another statement under "different"'s id.
    assert second_lrs.put({k: v for k, v in same.items()}) == 204
    assert second_lrs.put({**different, "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}}) == 204
    proxy.mode = "409"  # PUT answers 409 whatever it holds; GET reaches the real target
    run_worker()
    rows = {r.statement_id: r for r in outbox(app, target)}
    assert rows[same["id"]].state == SENT and rows[same["id"]].last_status == 409
    assert rows[different["id"]].state == DEAD and rows[different["id"]].conflict
    assert "different statement" in rows[different["id"]].last_error
    assert rows[fresh["id"]].state == DEAD  # the proxy's 409 for a statement the target lacks
    with app.app_context():
        from lms_service.forwarding.services import health

        assert health()[0].conflicts == 1
    # Without the proxy's lie, retrying the dead letters delivers the fresh one; the conflict stays flagged.
    proxy.mode = "pass"
    with app.app_context():
        from lms_service.forwarding.services import retry_dead

        retry_dead(target)
    run_worker()
    rows = {r.statement_id: r for r in outbox(app, target)}
    assert rows[fresh["id"]].state == SENT and rows[different["id"]].conflict
    assert second_lrs.get(different["id"])["verb"]["id"].endswith("failed")  # theirs is never overwritten


def test_statement_with_attachment_is_forwarded_as_multipart(app, second_lrs, ingest, add_target, run_worker):
    import hashlib

    from xapi.multipart import Part

    content = b"certificate pdf bytes"
    sha2 = hashlib.sha256(content).hexdigest()
    registration = str(uuid.uuid4())
    statement = make_statement(registration, attachments=[{
        "usageType": "https://example.com/attachment-usage/certificate", "display": {"en-US": "file"},
        "contentType": "application/pdf", "length": len(content), "sha2": sha2}])
    add_target(second_lrs.endpoint, second_lrs.key, second_lrs.secret)
    with app.app_context():
        from lms_service.lrs.clients import service_credential
        from lms_service.lrs.ingest import ingest_statements

        ingest_statements([statement], version="2.0.0", authority=service_credential().authority(),
                          attachments={sha2: Part(sha2, "application/pdf", content)})
    run_worker()
    assert_exactly(second_lrs, registration, [statement])
    assert second_lrs.get(statement["id"])["attachments"][0]["sha2"] == sha2


def test_a_paused_target_receives_nothing_until_resumed(app, second_lrs, ingest, add_target, run_worker):
    target = add_target(second_lrs.endpoint, second_lrs.key, second_lrs.secret, name="p", enabled=False)
    registration = str(uuid.uuid4())
    statements = [make_statement(registration, n) for n in range(5)]
    ingest(statements)
    assert run_worker() == 0
    assert second_lrs.ids(registration) == []
    with app.app_context():
        from lms_service.forwarding.services import update_target

        update_target("p", enabled=True)
    assert run_worker() == 5
    assert_exactly(second_lrs, registration, statements)
    assert {r.state for r in outbox(app, target)} == {SENT}


def test_a_statement_that_cannot_be_prepared_does_not_block_the_queue(app, second_lrs, ingest, add_target,
                                                                      run_worker, monkeypatch):
    from lms_service.forwarding import pseudonyms

    registration = str(uuid.uuid4())
    statements = [make_statement(registration, n) for n in range(5)]
    poison = statements[2]["id"]
    original = pseudonyms.pseudonymise

    def fragile(statement, **kwargs):
        if statement["id"] == poison:
            raise KeyError("surprise")
        return original(statement, **kwargs)

    monkeypatch.setattr(pseudonyms, "pseudonymise", fragile)
    target = add_target(second_lrs.endpoint, second_lrs.key, second_lrs.secret)
    ingest(statements)
    assert run_worker() == 5
    rows = {r.statement_id: r for r in outbox(app, target)}
    assert rows[poison].state == DEAD and "cannot be prepared" in rows[poison].last_error
    assert_exactly(second_lrs, registration, [s for s in statements if s["id"] != poison])


def test_a_hanging_target_does_not_hold_up_the_others(app, second_lrs, proxy, ingest, add_target, run_worker):
    slow = add_target(proxy.endpoint, second_lrs.key, second_lrs.secret, name="hanging")
    good = add_target(second_lrs.endpoint, second_lrs.key, second_lrs.secret, name="good")
    registration = str(uuid.uuid4())
    statements = [make_statement(registration, n) for n in range(40)]
    ingest(statements)
    proxy.mode = "hang"
    started = time.monotonic()
    run_worker(timeout=2, claim_size=15, retry_base=30, retry_cap=60)
    # One timeout, then the hanging target is backed off as a whole while the good one gets everything.
    assert time.monotonic() - started < 8
    assert {r.state for r in outbox(app, good)} == {SENT}
    # Rows claimed with the failing batch wait as failed; later ones were never claimed (still queued).
    assert {r.state for r in outbox(app, slow)} == {FAILED, QUEUED}
    assert proxy.requests == 1
    assert_exactly(second_lrs, registration, statements)


def test_retry_after_of_the_target_is_honoured(app, ingest, add_target):
    from lms_service.forwarding.worker import Forwarder

    target = add_target("http://127.0.0.1:1/xapi/")
    ingest([make_statement(str(uuid.uuid4()))])
    with app.app_context():
        forwarder = Forwarder(retry_base=1, retry_cap=2)
        targets, rows = forwarder.claim()
        forwarder.record(targets, rows, {}, {target: ("the target asked us to slow down (429)", 120.0)}, set())
        state = target_row(app, target)
        from lms_service.forwarding.services import as_utc
        from lms_service.lrs.models import utcnow

        assert 115 < (as_utc(state.blocked_until) - utcnow()).total_seconds() <= 120
        assert forwarder.claim() == ({}, [])  # nothing is due while the target is blocked


# ---------------------------------------------------------------------- issue #14: text beyond Latin-1, no resends

@pytest.mark.parametrize("post_batches", [False, True], ids=["put", "post"])
def test_swedish_text_beyond_latin1_arrives_intact_and_once(app, second_lrs, proxy, ingest, add_target, run_worker,
                                                            post_batches):
    target = add_target(proxy.endpoint, second_lrs.key, second_lrs.secret, post_batches=post_batches,
                        batch_size=8)
    registration = str(uuid.uuid4())
    statements = [make_swedish_statement(registration, n) for n in range(20)]
    ingest(statements)
    assert run_worker() == 20
    assert {r.state for r in outbox(app, target)} == {SENT}
    assert_exactly(second_lrs, registration, statements)
    assert_texts_intact(second_lrs, registration, statements)
    assert_delivered_once(proxy, statements)


def test_swedish_statement_with_a_binary_attachment_arrives_intact(app, second_lrs, ingest, add_target, run_worker):
    import hashlib

    from xapi.multipart import Part

    content = bytes(range(256)) * 8  # a real file is not UTF-8
    sha2 = hashlib.sha256(content).hexdigest()
    registration = str(uuid.uuid4())
    statement = make_swedish_statement(registration, attachments=[{
        "usageType": "https://example.com/attachment-usage/certificate", "display": {"sv-SE": "Intyg – B3 ’PDF’ €"},
        "contentType": "application/pdf", "length": len(content), "sha2": sha2}])
    target = add_target(second_lrs.endpoint, second_lrs.key, second_lrs.secret)
    with app.app_context():
        from lms_service.lrs.clients import service_credential
        from lms_service.lrs.ingest import ingest_statements

        ingest_statements([statement], version="2.0.0", authority=service_credential().authority(),
                          attachments={sha2: Part(sha2, "application/pdf", content)})
    run_worker()
    assert {r.state for r in outbox(app, target)} == {SENT}
    assert_texts_intact(second_lrs, registration, [statement])
    assert second_lrs.get(statement["id"])["attachments"][0]["display"] == {"sv-SE": "Intyg – B3 ’PDF’ €"}


@pytest.mark.parametrize("post_batches", [False, True], ids=["put", "post"])
def test_a_batch_failing_part_way_records_what_was_delivered(app, second_lrs, proxy, ingest, add_target, run_worker,
                                                             post_batches):
    target = add_target(proxy.endpoint, second_lrs.key, second_lrs.secret, post_batches=post_batches,
                        batch_size=5)
    registration = str(uuid.uuid4())
    statements = [make_swedish_statement(registration, n) for n in range(20)]
    ingest(statements)
    delivered = 2 if post_batches else 7  # writes let through: two POSTs of 5, or seven PUTs
    proxy.switch_after(delivered, "500")
    run_worker()
    rows = outbox(app, target)
    sent = [r for r in rows if r.state == SENT]
    assert len(sent) == (10 if post_batches else 7) and {r.state for r in rows} == {SENT, FAILED}
    assert {r.statement_id for r in sent} == set(proxy.puts)
    proxy.mode = "pass"
    assert wait_and_run(run_worker) == 20 - len(sent)
    assert_exactly(second_lrs, registration, statements)
    assert_delivered_once(proxy, statements)


def test_an_error_sending_one_row_keeps_the_queue_moving_and_what_was_sent(app, second_lrs, proxy, ingest, add_target,
                                                                           run_worker, monkeypatch):
    from xapi.client import OutboundLRS

    target = add_target(proxy.endpoint, second_lrs.key, second_lrs.secret)
    registration = str(uuid.uuid4())
    statements = [make_swedish_statement(registration, n) for n in range(10)]
    poison = statements[3]["id"]
    original = OutboundLRS.put_statement

    def latin1_only(self, statement, attachments=()):
        # What http.client did with the str body tincan's request handed it, for one statement only.
        if statement["id"] == poison:
            "–".encode("latin-1")
        return original(self, statement, attachments)

    monkeypatch.setattr(OutboundLRS, "put_statement", latin1_only)
    ingest(statements)
    run_worker()
    rows = {r.statement_id: r for r in outbox(app, target)}
    failed = rows.pop(poison)
    assert failed.state == FAILED and "UnicodeEncodeError" in failed.last_error
    assert {r.state for r in rows.values()} == {SENT}  # before and behind it
    assert target_row(app, target).failures == 0  # the row's trouble, not the target's
    assert_exactly(second_lrs, registration, [s for s in statements if s["id"] != poison])
    monkeypatch.setattr(OutboundLRS, "put_statement", original)
    time.sleep(0.25)  # past the row's backoff (retry_base 0.05 s, cap 0.2 s)
    assert run_worker() == 1
    assert_exactly(second_lrs, registration, statements)
    assert_delivered_once(proxy, statements)


@pytest.mark.skipif(IS_POSTGRES, reason="PostgreSQL refuses to store such statements at all; SQLite stores them")
@pytest.mark.parametrize("post_batches", [False, True], ids=["put", "post"])
def test_a_statement_that_can_never_be_sent_is_a_dead_letter_and_the_rest_arrive(app, second_lrs, proxy, ingest,
                                                                                 add_target, run_worker, post_batches):
    target = add_target(proxy.endpoint, second_lrs.key, second_lrs.secret, post_batches=post_batches)
    registration = str(uuid.uuid4())
    statements = [make_swedish_statement(registration, n) for n in range(8)]
    statements[2]["result"] = {"response": "halvt tecken \ud83d här"}  # a lone surrogate: no UTF-8 for it
    statements[5]["result"] = {"extensions": {"https://example.com/ext/ratio": float("nan")}}
    ingest(statements)
    run_worker()
    rows = {r.statement_id: r for r in outbox(app, target)}
    surrogate, nan = rows.pop(statements[2]["id"]), rows.pop(statements[5]["id"])
    assert surrogate.state == DEAD and "not valid Unicode ('\\ud83d'" in surrogate.last_error
    assert nan.state == DEAD and "cannot be written as JSON" in nan.last_error
    assert {r.state for r in rows.values()} == {SENT}
    good = [s for n, s in enumerate(statements) if n not in (2, 5)]
    assert_exactly(second_lrs, registration, good)
    assert_delivered_once(proxy, good)


def test_rows_of_a_dead_worker_already_at_the_target_are_not_sent_again(app, second_lrs, proxy, ingest, add_target,
                                                                        run_worker):
    from lms_service.forwarding.worker import Forwarder

    target = add_target(proxy.endpoint, second_lrs.key, second_lrs.secret)
    registration = str(uuid.uuid4())
    statements = [make_swedish_statement(registration, n) for n in range(10)]
    ingest(statements)
    # The target already holds a different statement under the id of statements[6].
    assert second_lrs.put({**statements[6], "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}}) == 204
    with app.app_context():
        dying = Forwarder(lease_seconds=0.3, timeout=2)
        targets, rows = dying.claim()
        # It delivers five, then dies before recording anything.
        outcomes, error, _ = dying.deliver(targets[target], rows[:5], deadline=time.monotonic() + 60)
        dying.close()
    assert error is None and {o.state for o in outcomes.values()} == {SENT} and len(proxy.puts) == 5
    time.sleep(0.35)  # the lease runs out
    assert run_worker() == 10
    rows = {r.statement_id: r for r in outbox(app, target)}
    flagged = rows.pop(statements[6]["id"])
    assert flagged.state == DEAD and flagged.conflict and "different statement" in flagged.last_error
    assert {r.state for r in rows.values()} == {SENT}
    assert "already held" in rows[statements[0]["id"]].last_error
    fresh = statements[:6] + statements[7:]
    assert_delivered_once(proxy, fresh)  # the five were looked up (GET), not PUT again
    assert second_lrs.get(statements[6]["id"])["verb"]["id"].endswith("failed")
