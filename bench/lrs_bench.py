"""LRS benchmarks against a running server (gunicorn): ingest throughput, query latency, worker memory.

    python bench/lrs_bench.py ingest --url http://127.0.0.1:5200/xapi -u KEY -p SECRET \\
        --batch 50 --clients 8 --seconds 30 [--gunicorn-pid PID]
    python bench/lrs_bench.py query --url ... -u KEY -p SECRET --requests 500 [--kind activity+related]

Load comes from separate processes (one keep-alive connection each), so the client's own Python does
not share a GIL with anything. Results are printed as one JSON object per run. Never part of the test
suite: figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
import uuid
from urllib.parse import urlencode, urlsplit

VERBS = [f"http://adlnet.gov/expapi/verbs/{v}" for v in ("completed", "passed", "failed", "progressed")]


class Connection:
    """One keep-alive HTTP connection that sends xAPI headers."""

    def __init__(self, url: str, key: str, secret: str, version: str = "2.0.0"):
        parts = urlsplit(url)
        self.host, self.port, self.prefix = parts.hostname, parts.port or 80, parts.path.rstrip("/")
        self.headers = {
            "Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode(),
            "X-Experience-API-Version": version,
        }
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None):
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        full = path if path.startswith(self.prefix + "/") else self.prefix + path
        for attempt in range(2):
            try:
                self.conn.request(method, full, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def make_statement(rng: random.Random, learners: int) -> dict:
    n = rng.randrange(learners)
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "actor": {"objectType": "Agent", "mbox": f"mailto:ingest{n}@bench.example", "name": f"Learner {n}"},
        "verb": {"id": rng.choice(VERBS), "display": {"en-US": "did"}},
        "object": {
            "objectType": "Activity",
            "id": f"http://bench.example/ingest/{rng.randrange(200)}",
            "definition": {
                "name": {"en-US": "Ingest activity"},
                "type": "http://adlnet.gov/expapi/activities/lesson",
            },
        },
        "result": {"score": {"scaled": 0.8}, "success": True, "duration": "PT4M12S"},
        "context": {
            "registration": str(uuid.uuid4()),
            "contextActivities": {"parent": [{"id": "http://bench.example/course/1"}]},
        },
        "timestamp": "2026-11-26T10:00:00.000Z",
    }


def _ingest_worker(args, worker: int, deadline: float, queue) -> None:
    rng = random.Random(worker * 7919 + int(time.time()))
    conn = Connection(args.url, args.user, args.password)
    sent = errors = 0
    latencies = []
    while time.time() < deadline:
        batch = [make_statement(rng, 5000) for _ in range(args.batch)]
        body = json.dumps(batch if args.batch > 1 else batch[0]).encode()
        started = time.perf_counter()
        status, _ = conn.request("POST", "/statements", body, "application/json")
        latencies.append(time.perf_counter() - started)
        if status == 200:
            sent += args.batch
        else:
            errors += 1
    queue.put((sent, errors, latencies))


def rss_of_workers(master_pid: int) -> dict[int, int]:
    """Resident memory (kB) of the gunicorn master's child processes."""
    result = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        if int(fields.get("PPid", "0").strip()) == master_pid:
            result[int(pid)] = int(fields["VmRSS"].split()[0])
    return result


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_pids(args) -> list[int]:
    """gunicorn workers plus the PostgreSQL backends connected to the benchmark database."""
    pids = list(rss_of_workers(args.gunicorn_pid)) if args.gunicorn_pid else []
    if args.pg_database:
        import subprocess

        out = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-Atc",
                f"SELECT pid FROM pg_stat_activity WHERE datname = '{args.pg_database}'",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        pids += [int(line) for line in out.stdout.split() if line.strip().isdigit()]
    return pids


def run_ingest(args, worker=None) -> dict:
    """Run ``worker`` (default: one random statement per registration) in ``args.clients`` processes.

    A worker puts (statements sent, failed requests, latencies[, {status: count}]) on the queue.
    """
    queue = mp.Queue()
    deadline = time.time() + args.seconds
    workers = [
        mp.Process(target=worker or _ingest_worker, args=(args, i, deadline, queue)) for i in range(args.clients)
    ]
    # CPU time used by the server side (workers + their database backends): unlike statements/s it
    # hardly depends on what else runs on the machine, so it gives the capacity of 2 quiet cores.
    # Processes that appear during the run (new database backends) count from zero.
    cpu_before = {pid: _cpu_seconds(pid) for pid in _server_pids(args)}
    started = time.perf_counter()
    for process in workers:
        process.start()
    peak: dict[int, int] = {}
    while any(p.is_alive() for p in workers) and time.time() < deadline + 5:
        if args.gunicorn_pid:
            for pid, kb in rss_of_workers(args.gunicorn_pid).items():
                peak[pid] = max(peak.get(pid, 0), kb)
        time.sleep(0.5)
    worker_pids = set(rss_of_workers(args.gunicorn_pid)) if args.gunicorn_pid else set()
    used = {pid: _cpu_seconds(pid) - cpu_before.get(pid, 0.0) for pid in _server_pids(args)}
    cpu_used = sum(used.values())
    cpu_workers = sum(v for pid, v in used.items() if pid in worker_pids)
    results = [queue.get() for _ in workers]
    for process in workers:
        process.join()
    elapsed = time.perf_counter() - started
    sent = sum(r[0] for r in results)
    latencies = sorted(x for r in results for x in r[2])
    statuses: dict[str, int] = {}
    for r in results:
        for status, count in (r[3] if len(r) > 3 else {}).items():
            statuses[status] = statuses.get(status, 0) + count
    return {
        "benchmark": "ingest",
        "batch": args.batch,
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "statements": sent,
        "errors": sum(r[1] for r in results),
        **({"statuses": statuses} if statuses else {}),
        "statements_per_second": round(sent / elapsed, 1),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "request_p50_ms": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
        "request_p95_ms": round(1000 * latencies[int(len(latencies) * 0.95)], 1) if latencies else None,
        "worker_peak_rss_mb": {str(pid): round(kb / 1024, 1) for pid, kb in sorted(peak.items())},
        "server_cpu_seconds": round(cpu_used, 2),
        "gunicorn_cpu_seconds": round(cpu_workers, 2),
        "postgres_cpu_seconds": round(cpu_used - cpu_workers, 2),
        # Capacity = 2 cores divided by the server CPU per statement (the load generator not counted).
        "server_cpu_ms_per_statement": round(1000 * cpu_used / sent, 3) if sent and cpu_used else None,
        "capacity_on_2_cores_statements_per_second": round(2 * sent / cpu_used, 1) if cpu_used else None,
    }


def _percentiles(samples: list[float]) -> dict:
    samples = sorted(samples)
    return {
        "n": len(samples),
        "p50_ms": round(1000 * statistics.median(samples), 2),
        "p95_ms": round(1000 * samples[int(len(samples) * 0.95)], 2),
        "max_ms": round(1000 * samples[-1], 2),
    }


# Query kinds of `query --kind`: the filters each sends. Targets alternate between popular ones (a heavy
# learner, a course) and ordinary or rare ones, so that both ends of the index ranges are measured.
QUERY_KINDS = (
    "agent",
    "agent+verb",
    "activity",
    "activity+verb",
    "activity+related",
    "activity+related+verb",
    "registration",
    "activity+registration",
    "activity+related+registration",
    "activity+since+until",
    "activity+ascending",
)


def _query_filters(kind: str, i: int, rng: random.Random) -> tuple[dict, str]:
    """The query string of request ``i`` of ``kind`` on the bulk-loaded store, and its target's class."""
    from lrs_bulk_load import ACTIVITIES, COURSES, HEAVY, LEARNERS, RARE_ACTIVITIES, VERBS, registration_of

    verb = rng.choice(VERBS)
    slot = i % 5  # 0: popular, 1: rare, others: ordinary
    heavy = slot == 0
    mbox = f"mailto:heavy{rng.randrange(HEAVY)}@bench.example" if heavy else (
        f"mailto:learner{rng.randrange(LEARNERS)}@bench.example"
    )
    course = rng.randrange(COURSES)
    course_id = f"http://bench.example/courses/{course}"
    if slot == 0:
        activity, target = course_id, "popular"
    elif slot == 1:
        activity, target = f"http://bench.example/rare/{rng.randrange(RARE_ACTIVITIES)}", "rare"
    else:
        lesson = course * (ACTIVITIES // COURSES) + rng.randrange(ACTIVITIES // COURSES)
        activity, target = f"http://bench.example/activities/{lesson}", "ordinary"
    if kind in ("agent", "agent+verb"):
        target = "popular" if heavy else "ordinary"
    filters: dict = {}
    if kind.startswith("agent"):
        filters["agent"] = json.dumps({"mbox": mbox})
    if kind.startswith("activity"):
        filters["activity"] = activity
    if "related" in kind:
        filters["related_activities"] = "true"
    if kind.endswith("+verb"):
        filters["verb"] = verb
    if "registration" in kind:
        # A registration is a learner's journey through one course: heavy learners have ~100 statements in it.
        filters["registration"] = registration_of(mbox, course_id)
        if kind == "activity+registration":  # the registration's course-level statements
            filters["activity"] = course_id
        target = "popular" if heavy else "ordinary"
    if kind == "activity+since+until":
        now = time.time()
        filters["since"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 120 * 86400))
        filters["until"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60 * 86400))
    if kind == "activity+ascending":
        filters["ascending"] = "true"
    return filters, target


def run_query(args) -> dict:
    """GET /statements of one ``--kind`` in the bulk-loaded store: first pages and up to three `more` pages."""
    rng = random.Random(11)
    conn = Connection(args.url, args.user, args.password)
    # Warm-up queries (not measured) so that the first measured pages do not pay for a cold cache.
    warm = random.Random(13)
    for i in range(args.warmup):
        filters, _ = _query_filters(args.kind, i, warm)
        conn.request("GET", f"/statements?{urlencode({**filters, 'limit': args.limit})}")
    first: dict[str, list[float]] = {}
    more_pages: list[float] = []
    counts = []
    for i in range(args.requests):
        filters, target = _query_filters(args.kind, i, rng)
        query = f"/statements?{urlencode({**filters, 'limit': args.limit})}"
        started = time.perf_counter()
        status, body = conn.request("GET", query)
        first.setdefault(target, []).append(time.perf_counter() - started)
        if status != 200:
            raise SystemExit(f"GET {query} -> {status} {body[:200]!r}")
        result = json.loads(body)
        counts.append(len(result["statements"]))
        pages = 0
        while result["more"] and pages < 3:
            started = time.perf_counter()
            status, body = conn.request("GET", result["more"])
            more_pages.append(time.perf_counter() - started)
            result = json.loads(body)
            pages += 1
    report = {
        "benchmark": "query",
        "kind": args.kind,
        "warmup_requests": args.warmup,
        "limit": args.limit,
        "requests": args.requests,
        "mean_statements_first_page": round(statistics.mean(counts), 1),
        "first_page": _percentiles([x for samples in first.values() for x in samples]),
        **{f"{target}_first_page": _percentiles(samples) for target, samples in sorted(first.items())},
    }
    if more_pages:
        report["more_pages"] = _percentiles(more_pages)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description="LRS benchmarks")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("ingest", "query"):
        p = sub.add_parser(name)
        p.add_argument("--url", required=True, help="xAPI base, e.g. http://127.0.0.1:5200/xapi")
        p.add_argument("-u", "--user", required=True)
        p.add_argument("-p", "--password", required=True)
    sub.choices["ingest"].add_argument("--batch", type=int, default=50)
    sub.choices["ingest"].add_argument("--clients", type=int, default=8)
    sub.choices["ingest"].add_argument("--seconds", type=float, default=30)
    sub.choices["ingest"].add_argument("--gunicorn-pid", type=int, default=0)
    sub.choices["ingest"].add_argument("--pg-database", default="", help="count its backends' CPU too")
    sub.choices["query"].add_argument("--requests", type=int, default=500)
    sub.choices["query"].add_argument("--limit", type=int, default=50)
    sub.choices["query"].add_argument("--warmup", type=int, default=100)
    sub.choices["query"].add_argument("--kind", choices=QUERY_KINDS, default="agent+verb")
    args = parser.parse_args()
    report = run_ingest(args) if args.command == "ingest" else run_query(args)
    print(json.dumps(report))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
