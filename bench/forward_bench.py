"""Forwarding benchmarks: worker throughput to a local target, and what the outbox adds to ingest.

    python bench/forward_bench.py throughput --target stub --statements 5000
    python bench/forward_bench.py throughput --target lrs --statements 5000 [--post-batches]
    python bench/forward_bench.py ingest --statements 4000 --batch 50 --rounds 3
    python bench/forward_bench.py ... --database-url postgresql://postgres@127.0.0.1:5432/test

``--target stub`` is a minimal xAPI endpoint in its own process (it accepts and forgets), so the figure is
the worker's own speed; ``--target lrs`` is a second instance of this service under gunicorn on its own
SQLite database, so the figure includes the target's ingest. The source database is a fresh SQLite file
(or a fresh schema of ``--database-url``). Results are printed as one JSON object per run; figures go to
docs/forwarding.md. Never part of the test suite.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the target did not start (exit {process.poll()})") from None
            time.sleep(0.1)


# ----------------------------------------------------------------------------- targets

def run_stub(port: int) -> None:
    """A minimal LRS: about, PUT (204) and POST (the ids), everything else 404. Keeps connections alive."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    about = json.dumps({"version": ["2.0.0", "1.0.3"]}).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the client's
        # delayed ACK stall every answer with a body by about 40 ms.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def _reply(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            if body:
                self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self._reply(200, about) if self.path.endswith("/about") else self._reply(404)

        def do_PUT(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._reply(204)

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self._reply(200, json.dumps([s["id"] for s in body]).encode())

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def start_target(kind: str, workdir: Path) -> tuple[subprocess.Popen, str, str, str]:
    port = free_port()
    if kind == "stub":
        process = subprocess.Popen([sys.executable, __file__, "stub", "--port", str(port)])
        wait_for_port(port, process)
        return process, f"http://127.0.0.1:{port}/xapi/", "k", "s"
    target_dir = workdir / "target"
    target_dir.mkdir()
    env = {**os.environ, "LMS_INSTANCE_PATH": str(target_dir), "DATABASE_URL": f"sqlite:///{target_dir}/t.sqlite3",
           "SECRET_KEY": "bench-target-secret-0123456789abcdef", "RATELIMIT_ENABLED": "false", "LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-c", "from lms_service import create_app; from lms_service.extensions import db;"
                    "import sqlalchemy as sa; a = create_app(); a.app_context().push(); db.create_all();"
                    "db.session.execute(sa.text('PRAGMA journal_mode=WAL'))"], cwd=ROOT, env=env, check=True)
    created = subprocess.run([sys.executable, "-m", "flask", "--app", "lms_service", "lrs", "clients", "create",
                              "--name", "bench", "--scope", "all", "--json"], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True)
    credential = json.loads(created.stdout.strip().splitlines()[-1])
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "lms_service:create_app()", "--bind",
                                f"127.0.0.1:{port}", "--workers", "1", "--threads", "2", "--access-logfile",
                                "/dev/null"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process)
    return process, f"http://127.0.0.1:{port}/xapi/", credential["key"], credential["secret"]


# ----------------------------------------------------------------------------- source

_SCHEMAS: list[tuple[str, str]] = []  # (base URL, schema) to drop at exit


def drop_schemas() -> None:
    """Drop the PostgreSQL schemas this run created (the apps' pools are disposed first)."""
    import sqlalchemy as sa

    for base, schema in _SCHEMAS:
        engine = sa.create_engine(base)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
    _SCHEMAS.clear()


def source_app(workdir: Path, database_url: str | None, label: str):
    """A source app on a fresh database (SQLite file, or a new schema of a PostgreSQL URL)."""
    from lms_service import create_app
    from lms_service.config import normalise_database_url
    from lms_service.extensions import db

    if database_url:
        import sqlalchemy as sa

        base = normalise_database_url(database_url)
        schema = f"fwbench_{label}_{uuid.uuid4().hex[:8]}"
        engine = sa.create_engine(base)
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
        _SCHEMAS.append((base, schema))
        url = f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"
    else:
        url = f"sqlite:///{workdir / (label + '.sqlite3')}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-source-secret-0123456789abcdef",
                      "BASE_URL": "http://lms.example", "RATELIMIT_ENABLED": False,
                      "LOG_LEVEL": "WARNING"})
    _APPS.append(app)
    with app.app_context():
        db.create_all()
        if not database_url:
            db.session.execute(sa_text("PRAGMA journal_mode=WAL"))
            db.session.commit()
    return app


_APPS: list = []


def _dispose_apps() -> None:
    from lms_service.extensions import db

    for app in _APPS:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    _APPS.clear()


def sa_text(sql: str):
    import sqlalchemy as sa

    return sa.text(sql)


def make_statements(count: int) -> list[dict]:
    registration = str(uuid.uuid4())
    return [{
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": "http://lms.example", "name": f"learner{n % 500}"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/progressed", "display": {"en-US": "progressed"}},
        "object": {"objectType": "Activity", "id": f"https://lms.example/modules/m{n % 20}/lessons/{n % 7}",
                   "definition": {"type": "http://adlnet.gov/expapi/activities/lesson",
                                  "name": {"en-US": "Lesson"}}},
        "result": {"completion": True, "extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": 50}},
        "context": {"registration": registration,
                    "contextActivities": {"parent": [{"id": f"https://lms.example/modules/m{n % 20}"}]}},
        "timestamp": "2026-11-26T10:00:00.000Z",
    } for n in range(count)]


def ingest_all(app, statements: list[dict], batch: int) -> float:
    from lms_service.lrs.clients import service_credential
    from lms_service.lrs.ingest import ingest_statements

    with app.app_context():
        authority = service_credential().authority()
        started = time.perf_counter()
        for start in range(0, len(statements), batch):
            ingest_statements(statements[start:start + batch], version="2.0.0", authority=authority)
        return time.perf_counter() - started


# ----------------------------------------------------------------------------- benchmarks

def bench_throughput(args) -> dict:
    from lms_service.forwarding.services import create_target
    from lms_service.forwarding.worker import Forwarder

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        target, endpoint, key, secret = start_target(args.target, workdir)
        try:
            app = source_app(workdir, args.database_url, "throughput")
            with app.app_context():
                create_target("bench", endpoint, key, secret, post_batches=args.post_batches,
                              batch_size=args.post_size)
            ingest_all(app, make_statements(args.statements), 100)
            with app.app_context():
                forwarder = Forwarder(claim_size=args.claim, timeout=30)
                started = time.perf_counter()
                handled = 0
                while True:
                    count = forwarder.run_once()
                    if not count:
                        break
                    handled += count
                elapsed = time.perf_counter() - started
                forwarder.close()
                from lms_service.forwarding.services import health

                counts = health()[0].counts
        finally:
            target.terminate()
            target.wait()
    return {"benchmark": "forward_throughput", "target": args.target, "mode": "post" if args.post_batches else "put",
            "database": "postgresql" if args.database_url else "sqlite", "statements": handled,
            "seconds": round(elapsed, 2), "statements_per_second": round(handled / elapsed), "outbox": counts}


def bench_ingest(args) -> dict:
    """A/B: ingest throughput with 0, 1 and 3 targets (fresh database each, interleaved, medians), plus the
    outbox hook's own share of the ingest time, which other load on the machine disturbs much less."""
    from lms_service.forwarding import services
    from lms_service.forwarding.services import create_target
    from lms_service.lrs import ingest as lrs_ingest

    hook_seconds = [0.0]
    original = services.enqueue_for_forwarding

    def timed_hook(statements):
        started = time.perf_counter()
        try:
            original(statements)
        finally:
            hook_seconds[0] += time.perf_counter() - started

    shares: dict[int, list[float]] = {n: [] for n in args.targets}
    results: dict[int, list[float]] = {n: [] for n in args.targets}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for round_no in range(args.rounds):
            for targets in args.targets:
                app = source_app(workdir, args.database_url, f"ingest_{round_no}_{targets}")
                # create_app registers the real hook: swap it for the timed one.
                lrs_ingest.unregister_ingest_hook(original)
                lrs_ingest.register_ingest_hook(timed_hook)
                with app.app_context():
                    for n in range(targets):
                        # The first target takes everything; others filter, as real deployments do.
                        create_target(f"t{n}", "http://127.0.0.1:9/xapi/", "k", "s",
                                      filter_verb=None if n == 0 else "http://adlnet.gov/expapi/verbs/completed")
                ingest_all(app, make_statements(200), args.batch)  # warm up
                hook_seconds[0] = 0.0
                elapsed = ingest_all(app, make_statements(args.statements), args.batch)
                results[targets].append(args.statements / elapsed)
                shares[targets].append(hook_seconds[0] / elapsed * 100)
    medians = {n: statistics.median(v) for n, v in results.items()}
    base = medians[args.targets[0]]
    return {"benchmark": "ingest_outbox_overhead", "database": "postgresql" if args.database_url else "sqlite",
            "batch": args.batch, "statements": args.statements, "rounds": args.rounds,
            "statements_per_second": {str(n): round(v) for n, v in medians.items()},
            "added_time_percent": {str(n): round((base / v - 1) * 100, 1) for n, v in medians.items()},
            "hook_share_of_ingest_percent": {str(n): round(statistics.median(v), 1) for n, v in shares.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    stub = sub.add_parser("stub")
    stub.add_argument("--port", type=int, required=True)
    throughput = sub.add_parser("throughput")
    throughput.add_argument("--target", choices=("stub", "lrs"), default="stub")
    throughput.add_argument("--statements", type=int, default=5000)
    throughput.add_argument("--claim", type=int, default=200)
    throughput.add_argument("--post-batches", action="store_true")
    throughput.add_argument("--post-size", type=int, default=100)
    throughput.add_argument("--database-url", default=None)
    ingest = sub.add_parser("ingest")
    ingest.add_argument("--statements", type=int, default=4000)
    ingest.add_argument("--batch", type=int, default=50)
    ingest.add_argument("--rounds", type=int, default=3)
    ingest.add_argument("--targets", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 3])
    ingest.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if args.command == "stub":
        run_stub(args.port)
        return
    import logging

    logging.disable(logging.WARNING)
    try:
        result = bench_throughput(args) if args.command == "throughput" else bench_ingest(args)
    finally:
        _dispose_apps()
        drop_schemas()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
