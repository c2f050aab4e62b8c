"""Learner-page benchmark against a running server: N simulated learners working through modules.

    python bench/learner_bench.py --url http://127.0.0.1:5300 --learners 50 --seconds 60 \\
        --password PASSWORD --email-pattern 'bench{n}@example.se' [--think 1.0]

Each learner logs in, then loops: catalogue → module page → enrol → resume → every lesson (read, finish)
→ quiz (each question: read it, answer with a well-formed answer read from the form, read the feedback)
→ grade → result → next module, following the player's redirects as a browser does. Between two
requests a learner "reads" for a random think time (uniform 0.5–1.5 × --think seconds), as people do; the
latency of every request is recorded by page kind. Results: one JSON object (p50/p95/p99/max per kind,
errors). Never part of the test suite: figures go to docs/performance.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import statistics
import threading
import time
from urllib.parse import urlencode, urlsplit

TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
MODULE_RE = re.compile(r'href="/modules/([a-z0-9-]+)"')
LOCATION_REG_RE = re.compile(r"/learn/([0-9a-f-]{36})")
ATTEMPT_RE = re.compile(r'name="attempt" type="hidden" value="(\d+)"|value="(\d+)" name="attempt"|'
                        r'name="attempt" value="(\d+)"')
FORM_ACTION_RE = re.compile(r'<form method="post" action="(/learn/[^"]+/quiz/answers/[^"]+)"')
CHOICE_RE = re.compile(r'<input type="(radio|checkbox)" name="(q-[^"]+)"[^>]*value="([^"]+)"')
TEXT_RE = re.compile(r'<input type="text"[^>]*name="(q-[^"]+)"')
SELECT_RE = re.compile(r'<select name="(q-[^"]+)"[^>]*>(.*?)</select>', re.S)
OPTION_RE = re.compile(r'<option value="([^"]+)"')


class Browser:
    """One learner's keep-alive connection with a cookie jar of one cookie (the session)."""

    def __init__(self, url: str, record):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.cookie = ""
        self.record = record

    def request(self, kind: str, method: str, path: str, form: list[tuple[str, str]] | None = None):
        headers = {"Accept-Language": "sv"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read().decode("utf-8", "replace")
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt:
                    self.record(kind, time.perf_counter() - started, 599)
                    raise
        elapsed = time.perf_counter() - started
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        self.record(kind, elapsed, response.status)
        return response.status, response.getheader("Location") or "", data


def _answer_fields(page: str, question_id: str) -> list[tuple[str, str]]:
    """A well-formed (not necessarily right) answer for the question on the page, read from its form."""
    fields: list[tuple[str, str]] = []
    seen = set()
    for _kind, name, value in CHOICE_RE.findall(page):
        if name not in seen:
            seen.add(name)
            fields.append((name, value))
    for name in TEXT_RE.findall(page):
        fields.append((name, "1"))
    selects = SELECT_RE.findall(page)
    for position, (name, options) in enumerate(selects):
        values = OPTION_RE.findall(options)
        if values and name.startswith(f"q-{question_id}-"):
            # Ordering questions need distinct positions: take them in turn (matching takes any).
            fields.append((name, values[min(position, len(values) - 1)]))
    return fields


def learner(index: int, args, record, stop: threading.Event, errors: list, ready: threading.Barrier) -> None:
    rng = random.Random(index)
    browser = Browser(args.url, record)

    def think():
        stop.wait(rng.uniform(0.5, 1.5) * args.think)

    def token(page: str) -> str:
        match = TOKEN_RE.search(page)
        if not match:
            raise RuntimeError("no csrf token")
        return match.group(1)

    try:
        _s, _l, page = browser.request("login", "GET", "/login")
        status, _l, _p = browser.request("login", "POST", "/login", [
            ("csrf_token", token(page)), ("email", args.email_pattern.format(n=index)),
            ("password", args.password)])
        if status != 302:
            raise RuntimeError(f"login failed: {status}")
        # Everybody starts together once logged in (logging in hashes a password: it is not a learner page).
        ready.wait(timeout=300)
        stop.wait(rng.uniform(0, args.think))
        while not stop.is_set():
            think()
            _s, _l, page = browser.request("catalogue", "GET", "/modules/")
            slugs = sorted(set(MODULE_RE.findall(page)))
            slug = rng.choice(slugs)
            think()
            _s, _l, page = browser.request("module", "GET", f"/modules/{slug}")
            status, location, _p = browser.request("enrol", "POST", f"/modules/{slug}/enrol",
                                                   [("csrf_token", token(page))])
            registration = LOCATION_REG_RE.search(location).group(1)
            path = f"/learn/{registration}"
            # As a browser does: resume once, then follow each redirect the player answers with.
            think()
            _s, location, _p = browser.request("resume", "GET", path)
            target = urlsplit(location).path
            while not stop.is_set():
                if "/lessons/" in target:
                    _s, _l, page = browser.request("lesson", "GET", target)
                    think()
                    _s, location, _p = browser.request("lesson-done", "POST", f"{target}/done",
                                                       [("csrf_token", token(page))])
                    target = urlsplit(location).path
                elif target.endswith("/quiz"):
                    status, _l, page = browser.request("quiz", "GET", target)
                    if status != 200:
                        break
                    action = FORM_ACTION_RE.search(page)
                    attempt = next(g for g in ATTEMPT_RE.search(page).groups() if g)
                    think()
                    if action:
                        question = action.group(1).rsplit("/", 1)[1]
                        _s, location, _p = browser.request(
                            "answer", "POST", action.group(1),
                            [("csrf_token", token(page)), ("attempt", attempt), *_answer_fields(page, question)])
                        parts = urlsplit(location)
                        browser.request("feedback", "GET", f"{parts.path}?{parts.query}")
                        think()  # reading the explanation, then "Next question"
                    else:
                        _s, location, _p = browser.request("grade", "POST", f"{path}/quiz/grade",
                                                           [("csrf_token", token(page)), ("attempt", attempt)])
                        browser.request("result", "GET", urlsplit(location).path)
                        break
                else:
                    break
                think()
    except Exception as error:  # a learner that breaks is an error in the figures, not a crash of the run
        errors.append(f"learner {index}: {error!r}")


def server_cpu_seconds(master_pid: int | None, database: str | None) -> tuple[float, float] | None:
    """User + system CPU seconds of the gunicorn master's workers and of the PostgreSQL backends serving
    ``database`` (Linux /proc; backends that ended in between are not counted)."""
    if not master_pid:
        return None
    workers = backends = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / tick
        if int(fields[1]) == master_pid:  # ppid
            workers += cpu
        elif database and command.startswith("postgres:") and f" {database} " in command:
            backends += cpu
    return workers, backends


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--gunicorn-pid", type=int, help="to report the server's CPU time per request")
    parser.add_argument("--database", help="PostgreSQL database name (its backends' CPU counts as server CPU)")
    parser.add_argument("--password", required=True)
    parser.add_argument("--email-pattern", default="bench{n}@example.se")
    args = parser.parse_args()

    samples: dict[str, list[float]] = {}
    statuses: dict[str, dict[int, int]] = {}
    lock = threading.Lock()
    measuring = threading.Event()

    def record(kind: str, elapsed: float, status: int) -> None:
        if not measuring.is_set() and kind != "login":
            return
        with lock:
            samples.setdefault(kind, []).append(elapsed * 1000)
            counts = statuses.setdefault(kind, {})
            counts[status] = counts.get(status, 0) + 1

    stop = threading.Event()
    errors: list[str] = []
    ready = threading.Barrier(args.learners + 1)
    threads = [threading.Thread(target=learner, args=(n, args, record, stop, errors, ready), daemon=True)
               for n in range(args.learners)]
    for thread in threads:
        thread.start()
    ready.wait(timeout=300)
    # A warm-up (connections opened, first renders cached in every worker) is not measured.
    time.sleep(args.warmup)
    measuring.set()
    load_before = os.getloadavg()
    cpu_before = server_cpu_seconds(args.gunicorn_pid, args.database)
    client_before = os.times()
    started = time.perf_counter()
    time.sleep(args.seconds)
    cpu_after = server_cpu_seconds(args.gunicorn_pid, args.database)
    client_after = os.times()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    elapsed = time.perf_counter() - started
    # The learner pages: the catalogue, a lesson, answering a question (the POST and its feedback).
    learner_pages = [v for kind in ("catalogue", "lesson", "answer", "feedback") for v in samples.get(kind, [])]
    server_errors = sum(n for counts in statuses.values() for status, n in counts.items() if status >= 500)
    measured = sum(len(v) for v in samples.values()) - len(samples.get("login", []))
    gunicorn_ms = postgres_ms = capacity = None
    if cpu_before is not None and cpu_after is not None and measured:
        gunicorn_ms = round((cpu_after[0] - cpu_before[0]) * 1000 / measured, 2)
        postgres_ms = round((cpu_after[1] - cpu_before[1]) * 1000 / measured, 2)
        # Requests per second two cores could serve at full use, whatever else ran on them meanwhile.
        capacity = round(2000 / (gunicorn_ms + postgres_ms), 1) if gunicorn_ms + postgres_ms else None
    client_cpu = (client_after.user + client_after.system) - (client_before.user + client_before.system)
    result = {
        "server_cpu_ms_per_request": {"gunicorn": gunicorn_ms, "postgres": postgres_ms},
        "capacity_requests_per_second_on_2_cores": capacity,
        "load_generator_cpu_share": round(client_cpu / elapsed, 2) if elapsed else None,
        "learners": args.learners, "seconds": round(elapsed, 1), "think_seconds": args.think,
        "warmup_seconds": args.warmup, "load_average_at_start": [round(x, 2) for x in load_before],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
        "requests": sum(len(v) for v in samples.values()),
        "requests_per_second": round(sum(len(v) for v in samples.values()) / elapsed, 1),
        "server_errors": server_errors, "learner_errors": errors,
        "statuses": statuses,
        "learner_pages_p95_ms": round(percentile(learner_pages, 0.95), 1) if learner_pages else None,
        "by_kind": {kind: {"n": len(values), "p50_ms": round(statistics.median(values), 1),
                           "p95_ms": round(percentile(values, 0.95), 1), "p99_ms": round(percentile(values, 0.99), 1),
                           "max_ms": round(max(values), 1)} for kind, values in sorted(samples.items())},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
