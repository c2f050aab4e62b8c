"""Login wave benchmark: gunicorn as the Procfile starts it, a fresh database with N users, 50 people logging in at once.

    .venv/bin/python bench/login_bench.py                          # SQLite, the settings' argon2id parameters
    .venv/bin/python bench/login_bench.py --database postgresql    # a fresh PostgreSQL database on 127.0.0.1
    .venv/bin/python bench/login_bench.py --old-params             # argon2-cffi's defaults (t=3, 64 MiB, p=4)
    .venv/bin/python bench/login_bench.py --source /tmp/old-tree   # run another checkout's code (a "before")

Every simulated person opens the log-in page first (session cookie and CSRF token from the form, as a browser
does); then all of them post the form at the same moment. The latency of each POST (a 302 to the home page)
is recorded: p50/p95/max, the time until the last one is in, and the load average before and after. A short
unmeasured warm-up wave runs first so each worker has loaded its templates. Rate limiting is off unless
--redis is given (then the login limit is counted in that Redis, as in production, with a limit no wave reaches).
Never part of the test suite: figures go to docs/performance.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PASSWORD = "bench-password-2026"
OLD_PARAMS = {"PASSWORD_HASH_TIME_COST": "3", "PASSWORD_HASH_MEMORY_KIB": "65536", "PASSWORD_HASH_PARALLELISM": "4"}

# Runs in the checkout under test (--source), so a "before" tree builds its own schema and hashes with its own
# hasher: one real hash for the first user, copied to the others (the work of a login is the same).
SETUP = """
import sys
from lms_service import create_app
from lms_service.extensions import db
from lms_service.accounts.models import User
from lms_service.accounts.services import create_user
app = create_app()
with app.app_context():
    db.create_all()
    first = create_user("bench0@example.se", "Bench 0", sys.argv[2], "sv")
    db.session.add_all(User(email=f"bench{n}@example.se", display_name=f"Bench {n}", language="sv",
                            password_hash=first.password_hash) for n in range(1, int(sys.argv[1])))
    db.session.commit()
    print(first.password_hash.split("$")[3])
"""


class Person:
    """One browser: its own connection and session cookie."""

    def __init__(self, port: int, email: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.email = email
        self.cookie = ""
        self.token = ""

    def _request(self, method: str, path: str, body: str | None = None):
        headers = {"Accept-Language": "sv"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read().decode("utf-8", "replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, data

    def open_form(self) -> None:
        status, page = self._request("GET", "/login")
        match = TOKEN_RE.search(page)
        if status != 200 or not match:
            raise RuntimeError(f"GET /login: {status}, no csrf_token")
        self.token = match.group(1)

    def log_in(self) -> tuple[float, int]:
        body = urlencode({"csrf_token": self.token, "email": self.email, "password": PASSWORD, "next": ""})
        started = time.perf_counter()
        status, _ = self._request("POST", "/login", body)
        return time.perf_counter() - started, status


def wave(port: int, emails: list[str]) -> dict:
    """Everyone opens the form, then everyone posts it at once; the POSTs are timed."""
    people = [Person(port, email) for email in emails]
    for person in people:
        person.open_form()
    start = threading.Barrier(len(people) + 1)
    results: list[tuple[float, int]] = [(0.0, 0)] * len(people)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = people[i].log_in()
        except (OSError, http.client.HTTPException):
            results[i] = (float("nan"), 599)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(people))]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    total = time.perf_counter() - began
    for person in people:
        person.conn.close()
    latencies = sorted(seconds for seconds, status in results if status == 302)
    statuses: dict[str, int] = {}
    for _, status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    if not latencies:
        return {"statuses": statuses, "total_s": round(total, 3)}
    return {
        "logins": len(latencies),
        "statuses": statuses,
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(latencies[max(0, int(len(latencies) * 0.95 + 0.5) - 1)], 3),
        "max_s": round(latencies[-1], 3),
        "min_s": round(latencies[0], 3),
        "total_s": round(total, 3),
    }


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrent", type=int, default=50, help="people logging in at once (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="measured waves, each with other people (default 3)")
    parser.add_argument("--users", type=int, default=0, help="accounts in the database (default: enough for the waves)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (the Procfile's default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (the Procfile's default 4)")
    parser.add_argument("--port", type=int, default=5410)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="where to create (and afterwards drop) the PostgreSQL database")
    parser.add_argument("--old-params", action="store_true", help="argon2-cffi's defaults: t=3, 64 MiB, p=4")
    parser.add_argument("--redis", default="", help="count the login limit in this Redis (e.g. redis://127.0.0.1:6379/0)")
    parser.add_argument("--source", default=str(ROOT), help="the checkout whose code gunicorn runs")
    parser.add_argument("--label", default="", help="a name for this run in the output")
    args = parser.parse_args()

    warmup = 2 * args.workers * args.threads
    users = max(args.users, warmup + args.rounds * args.concurrent)
    source = Path(args.source).resolve()
    python = str(ROOT / ".venv" / "bin" / "python")
    tmp = Path(tempfile.mkdtemp(prefix="login_bench_"))
    env = {**os.environ, "LMS_INSTANCE_PATH": str(tmp / "instance"), "SECRET_KEY": secrets.token_urlsafe(48),
           "LOG_LEVEL": "WARNING", "BASE_URL": f"http://127.0.0.1:{args.port}", "PYTHONPATH": str(source),
           "WEB_CONCURRENCY": str(args.workers)}
    if args.old_params:
        env.update(OLD_PARAMS)
    prefix = f"login-bench-{secrets.token_hex(4)}"
    if args.redis:
        env.update(RATELIMIT_STORAGE_URI=args.redis, RATELIMIT_KEY_PREFIX=prefix, LOGIN_RATE_LIMIT="100000 per hour")
    else:
        env["RATELIMIT_ENABLED"] = "false"

    pg_database = None
    admin_engine = None
    if args.database == "postgresql":
        import sqlalchemy as sa

        sys.path.insert(0, str(ROOT))
        from lms_service.config import normalise_database_url

        pg_database = f"login_bench_{time.strftime('%H%M%S')}_{secrets.token_hex(2)}"
        admin_engine = sa.create_engine(normalise_database_url(args.pg_url), isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{pg_database}"'))
        env["DATABASE_URL"] = args.pg_url.rsplit("/", 1)[0] + "/" + pg_database
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"

    gunicorn = None
    log = open(tmp / "gunicorn.log", "wb")
    try:
        started = time.perf_counter()
        setup = subprocess.run([python, "-c", SETUP, str(users), PASSWORD], cwd=source, env=env,
                               capture_output=True, text=True)
        if setup.returncode:
            raise SystemExit("setting up the database failed:\n" + setup.stderr[-3000:])
        hash_parameters = setup.stdout.strip().splitlines()[-1]
        setup_s = time.perf_counter() - started
        gunicorn = subprocess.Popen(
            [python, "-m", "gunicorn", "lms_service:create_app()", "--bind", f"127.0.0.1:{args.port}",
             "--workers", str(args.workers), "--threads", str(args.threads), "--access-logfile", "/dev/null"],
            cwd=source, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if gunicorn.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start:\n" + (tmp / "gunicorn.log").read_text()[-3000:])
            time.sleep(0.2)
        wave(args.port, [f"bench{n}@example.se" for n in range(warmup)])

        report = {"label": args.label, "source": str(source), "database": args.database, "users": users,
                  "workers": args.workers, "threads": args.threads, "concurrent": args.concurrent,
                  "argon2id": hash_parameters, "rate_limit": args.redis or "off", "setup_s": round(setup_s, 1),
                  "cpus": len(os.sched_getaffinity(0)), "load_before": loadavg(), "waves": []}
        for round_ in range(args.rounds):
            first = warmup + round_ * args.concurrent
            report["waves"].append(wave(args.port, [f"bench{n}@example.se"
                                                    for n in range(first, first + args.concurrent)]))
        report["load_after"] = loadavg()
        print(json.dumps(report, indent=1))
    finally:
        if gunicorn is not None:
            gunicorn.send_signal(signal.SIGTERM)
            try:
                gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
                gunicorn.wait()
        log.close()
        if admin_engine is not None:
            import sqlalchemy as sa

            with admin_engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{pg_database}" WITH (FORCE)'))
            admin_engine.dispose()
        if args.redis:
            import redis

            client = redis.Redis.from_url(args.redis)
            for key in client.scan_iter(match=f"*{prefix}*"):
                client.delete(key)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
