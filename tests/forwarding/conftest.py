"""Fixtures for the forwarding tests: a real second LRS (this service under gunicorn on its own SQLite
database), a fault-injecting proxy in front of it, and helpers to ingest statements at the source."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from forwarding_helpers import ROOT, FaultProxy, SecondLRS, free_port


def _env(tmp: Path) -> dict:
    return {**os.environ, "LMS_INSTANCE_PATH": str(tmp), "DATABASE_URL": f"sqlite:///{tmp}/target.sqlite3",
            "SECRET_KEY": "target-secret-key-that-is-long-enough-for-signing", "RATELIMIT_ENABLED": "false",
            "LOG_LEVEL": "WARNING"}


@pytest.fixture(scope="session")
def second_lrs(tmp_path_factory):
    """A second instance of this service under gunicorn with its own SQLite database and a credential."""
    tmp = tmp_path_factory.mktemp("target_lrs")
    env = _env(tmp)
    subprocess.run([sys.executable, "-c", "from lms_service import create_app; from lms_service.extensions import db;"
                    "app = create_app(); app.app_context().push(); db.create_all()"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    created = subprocess.run([sys.executable, "-m", "flask", "--app", "lms_service", "lrs", "clients", "create",
                              "--name", "t", "--scope", "all", "--json"],
                             cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    credential = json.loads(created.stdout.strip().splitlines()[-1])
    port = free_port()
    log = open(tmp / "gunicorn.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "lms_service:create_app()", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "4", "--access-logfile", "/dev/null"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp / "gunicorn.log").read_text()) from None
            time.sleep(0.1)
    yield SecondLRS(port, credential["key"], credential["secret"])
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


@pytest.fixture
def proxy(second_lrs):
    proxy = FaultProxy(second_lrs.port)
    yield proxy
    proxy.close()


@pytest.fixture
def ingest(app):
    """``ingest([statements])`` stores them at the source through the one ingest path."""
    from lms_service.lrs.clients import service_credential
    from lms_service.lrs.ingest import ingest_statements

    def factory(statements: list[dict], client=None, version: str = "2.0.0") -> list[str]:
        with app.app_context():
            credential = client or service_credential()
            return ingest_statements(statements, version=version, authority=credential.authority(), client=client)

    return factory


@pytest.fixture
def add_target(app):
    """``add_target(endpoint, key, secret, **options)`` -> the new target's id."""
    from lms_service.forwarding.services import create_target

    counter = iter(range(1, 1000))

    def factory(endpoint: str, key: str = "k", secret: str = "s", name: str | None = None, **options) -> int:
        with app.app_context():
            return create_target(name or f"target-{next(counter)}", endpoint, key, secret, **options).id

    return factory


@pytest.fixture
def run_worker(app):
    """``run_worker(**settings)`` runs the worker in-process until nothing is due; returns rows handled."""
    from lms_service.forwarding.worker import run_worker as run

    def factory(**settings) -> int:
        settings.setdefault("timeout", 2)
        settings.setdefault("retry_base", 0.05)
        settings.setdefault("retry_cap", 0.2)
        with app.app_context():
            return run(once=True, poll_seconds=0, **settings)

    return factory
