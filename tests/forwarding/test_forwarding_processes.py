"""The worker as a real process: killed with SIGKILL mid-batch, one at a time on SQLite, several on PostgreSQL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from forwarding_helpers import ROOT, make_statement, make_swedish_statement, outbox, target_row

from lms_service.forwarding.models import SENDING, SENT
from tests.conftest import IS_POSTGRES

pytestmark = pytest.mark.slow


def worker_env(test_config, tmp_path, **settings) -> dict:
    env = {**os.environ, "DATABASE_URL": test_config["SQLALCHEMY_DATABASE_URI"],
           "SECRET_KEY": test_config["SECRET_KEY"], "BASE_URL": test_config["BASE_URL"],
           "LMS_INSTANCE_PATH": str(tmp_path), "RATELIMIT_ENABLED": "false", "FORWARD_POLL_SECONDS": "0.1",
           "FORWARD_RETRY_BASE_SECONDS": "0.1", "FORWARD_RETRY_MAX_SECONDS": "0.5", "LOG_LEVEL": "INFO"}
    env.update({k: str(v) for k, v in settings.items()})
    return env


def start_worker(env, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "lms_service", "lrs", "forward", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(condition, seconds: float = 30, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(process.stdout.read())
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_worker_killed_mid_batch_loses_nothing(app, test_config, tmp_path, second_lrs, proxy, ingest, add_target,
                                               run_worker):
    target = add_target(proxy.endpoint, second_lrs.key, second_lrs.secret)
    registration = str(uuid.uuid4())
    statements = [make_swedish_statement(registration, n) for n in range(60)]
    ingest(statements)
    proxy.delay = 0.03
    process = start_worker(worker_env(test_config, tmp_path, FORWARD_LEASE_SECONDS=3, FORWARD_BATCH_SIZE=60))
    try:
        wait_for(lambda: len(proxy.puts) >= 10, process=process)
        if not IS_POSTGRES:
            # SQLite: a second worker is refused with a clear message while the first one runs.
            from lms_service.forwarding.worker import WorkerLockError

            with pytest.raises(WorkerLockError, match="another forwarding worker .* is running on this SQLite"):
                run_worker()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    time.sleep(0.3)  # the PUT in flight when the worker died still reaches the target
    arrived_before = set(proxy.puts)
    assert 10 <= len(arrived_before) < 60
    rows = outbox(app, target)
    assert {r.state for r in rows} == {SENDING}  # the whole claimed batch, some of it already delivered
    proxy.delay = 0
    # Within the lease nobody takes the rows; after it, any worker does.
    assert run_worker() == 0
    time.sleep(3.2)
    assert run_worker() == 60
    held = second_lrs.ids(registration)
    assert len(held) == len(set(held)) == 60 and set(held) == {s["id"] for s in statements}
    assert {r.state for r in outbox(app, target)} == {SENT}
    # What the killed worker had delivered was looked up at the target, not sent again.
    assert dict(proxy.puts) == {s["id"].lower(): 1 for s in statements}


def test_sigterm_stops_the_worker_cleanly(app, test_config, tmp_path, second_lrs, ingest, add_target):
    add_target(second_lrs.endpoint, second_lrs.key, second_lrs.secret)
    registration = str(uuid.uuid4())
    statements = [make_statement(registration, n) for n in range(5)]
    ingest(statements)
    process = start_worker(worker_env(test_config, tmp_path))
    try:
        wait_for(lambda: len(second_lrs.ids(registration)) == 5, process=process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        output = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    assert "forwarding worker stopped; 5 outbox rows handled" in output and "Traceback" not in output


@pytest.mark.postgres
@pytest.mark.skipif(not IS_POSTGRES, reason="several workers at once need PostgreSQL (FOR UPDATE SKIP LOCKED); "
                                            "set TEST_DATABASE_URL=postgresql://...")
def test_two_workers_share_the_queue_on_postgresql(app, test_config, tmp_path, second_lrs, proxy, ingest,
                                                   add_target):
    target = add_target(proxy.endpoint, second_lrs.key, second_lrs.secret)
    registration = str(uuid.uuid4())
    statements = [make_statement(registration, n) for n in range(120)]
    for start in range(0, 120, 40):
        ingest(statements[start:start + 40])
    env = worker_env(test_config, tmp_path, FORWARD_BATCH_SIZE=5)
    proxy.gate.clear()  # hold the first sends until both workers hold claimed rows
    workers = [start_worker(env, "--once"), start_worker(env, "--once")]
    outputs = []
    try:
        wait_for(lambda: len({r.claimed_by for r in outbox(app, target) if r.claimed_by}) == 2, seconds=60)
        proxy.gate.set()
        for process in workers:
            assert process.wait(timeout=60) == 0
            outputs.append(process.stdout.read())
    finally:
        proxy.gate.set()
        for process in workers:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
    handled = [int(out.rsplit("stopped; ", 1)[1].split()[0]) for out in outputs]
    assert sum(handled) == 120 and min(handled) > 0, outputs  # both worked, no row twice
    assert set(proxy.puts.values()) == {1} and len(proxy.puts) == 120  # SKIP LOCKED: nothing sent twice
    held = second_lrs.ids(registration)
    assert len(held) == len(set(held)) == 120 and set(held) == {s["id"] for s in statements}
    assert {r.state for r in outbox(app, target)} == {SENT}


def test_swedish_text_through_outages_500s_hangs_and_a_kill_arrives_exactly_once(app, test_config, tmp_path,
                                                                                   second_lrs, proxy, ingest,
                                                                                   add_target):
    """The issue's "must hold": a real worker process, a real second LRS, non-Latin-1 text everywhere."""
    target = add_target(proxy.endpoint, second_lrs.key, second_lrs.secret, batch_size=7)
    registration = str(uuid.uuid4())
    statements = [make_swedish_statement(registration, n) for n in range(90)]
    ingest(statements[:30])
    env = worker_env(test_config, tmp_path, FORWARD_LEASE_SECONDS=3, FORWARD_BATCH_SIZE=20,
                     FORWARD_TIMEOUT_SECONDS=0.5)

    def failures() -> int:
        return target_row(app, target).failures

    proxy.delay = 0.02
    process = start_worker(env)
    try:
        wait_for(lambda: len(proxy.puts) >= 10, process=process)
        # An outage of each kind, with statements arriving meanwhile; each ends when the target is healthy again.
        for start, mode in zip((30, 40, 50), ("500", "hang", "garbage"), strict=True):
            proxy.mode = mode
            ingest(statements[start:start + 10])
            wait_for(lambda: failures() > 0, process=process)
            proxy.mode = "pass"
            wait_for(lambda: failures() == 0, process=process)
        wait_for(lambda: len(proxy.puts) == 60, process=process)
        proxy.delay = 0.05
        ingest(statements[60:])
        wait_for(lambda: len(proxy.puts) >= 65, process=process)
        os.kill(process.pid, signal.SIGKILL)  # mid-batch: some of its rows are delivered, none recorded
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    proxy.release.set()
    assert SENDING in {r.state for r in outbox(app, target) if r.statement_id in proxy.puts}
    proxy.delay = 0
    process = start_worker(env)
    try:
        wait_for(lambda: {r.state for r in outbox(app, target)} == {SENT}
                 and len(outbox(app, target)) == 90, seconds=60, process=process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        output = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    assert "Traceback" not in output, output
    held = second_lrs.statements(registration)
    assert sorted(s["id"] for s in held) == sorted(s["id"] for s in statements)  # exactly, none twice
    by_id = {s["id"]: s for s in held}
    for statement in statements:
        for key in ("verb", "object", "result"):
            assert by_id[statement["id"]][key] == statement[key]
    assert dict(proxy.puts) == {s["id"].lower(): 1 for s in statements}  # no statement delivered twice
