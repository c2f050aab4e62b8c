"""Latency of the statistics pages, exports and reporting API on a database built by bench/reports_data.py.

The dashboards read projections that grow with the programme (issue #8 sizes it at 100,000 learners and
1,000,000 statements); this measures what a person or an API client waits for, in-process with Flask's test
client so the figure is the service's own time (routing, access checks, queries, templates, CSV/XLSX),
without a network or a WSGI server in between. It signs in through the real log-in form (with its CSRF
token) as a coordinator, an admin and a company admin of the biggest company, creates reporting API tokens
with lms_service.reports.tokens, warms every endpoint up, then times N requests per endpoint with filters
varied from the database's own modules, paths and enrolment dates, and prints p50/p95/max in ms. The largest
export (every enrolment row, /reports/learners.csv and .xlsx) is timed to its first data rows and to its end.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/reports_bench python bench/reports_bench.py
    DATABASE_URL=... python bench/reports_bench.py --requests 20 --only 'api|programme'

Endpoints are the ENDPOINTS and STREAMS lists below: (label, who, url). ``who`` is coordinator, admin,
org_admin (of the biggest company), token (a global API token with both scopes) or company_token (a token of
the biggest company). URLs may hold placeholders, drawn again for every request: {own_org} (the biggest
company), {org} (any company), {paged_org} (a company whose employee table has a second page), {dimension}
(county, kind, module, month, company), {middle_page} (the middle page of every enrolment, 100 a page) and
{filters} (a period, module or path, or nothing). An endpoint
that answers 404 to every warm-up request is skipped as not there (yet). Results go to bench/results/.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402  (after the checkout is on sys.path)

PASSWORD = "bench-password-2026"  # what reports_data.py gives every account

ENDPOINTS: list[tuple[str, str, str]] = [
    ("programme", "coordinator", "/reports/programme"),
    ("programme filtered", "coordinator", "/reports/programme?{filters}"),
    ("company own p1", "org_admin", "/reports/company/{own_org}"),
    ("company own p2", "org_admin", "/reports/company/{own_org}?page=2"),
    ("company own filtered", "org_admin", "/reports/company/{own_org}?{filters}"),
    ("company any p1 (admin)", "admin", "/reports/company/{org}"),
    ("company any p2 (admin)", "admin", "/reports/company/{paged_org}?page=2"),
    ("company any (coordinator)", "coordinator", "/reports/company/{org}"),
    ("programme county.csv", "coordinator", "/reports/programme/county.csv"),
    ("programme kind.csv", "coordinator", "/reports/programme/kind.csv"),
    ("programme module.csv", "coordinator", "/reports/programme/module.csv"),
    ("programme month.csv", "coordinator", "/reports/programme/month.csv"),
    ("programme company.csv", "coordinator", "/reports/programme/company.csv"),
    ("programme month.xlsx", "coordinator", "/reports/programme/month.xlsx"),
    ("company own modules.csv", "org_admin", "/reports/company/{own_org}/modules.csv"),
    ("company own paths.csv", "org_admin", "/reports/company/{own_org}/paths.csv"),
    ("company own employees.csv", "org_admin", "/reports/company/{own_org}/employees.csv"),
    ("company own employees.xlsx", "org_admin", "/reports/company/{own_org}/employees.xlsx"),
    ("api aggregates", "token", "/api/reports/aggregates/{dimension}?{filters}"),
    ("api company", "token", "/api/reports/companies/{org}?{filters}"),
    ("api own company", "company_token", "/api/reports/companies/{own_org}"),
    ("api progress p1", "company_token", "/api/reports/progress"),
    ("api progress filtered", "company_token", "/api/reports/progress?{filters}"),
    ("api progress p1 (admin)", "admin", "/api/reports/progress"),
    ("api progress middle page (admin)", "admin", "/api/reports/progress?page={middle_page}"),
    ("api progress filtered (admin)", "admin", "/api/reports/progress?{filters}&page_size=500"),
    ("api completions (admin)", "admin", "/api/reports/completions?{filters}"),
    ("api certificates (admin)", "admin", "/api/reports/certificates?{filters}"),
    ("api certificates (granted, token)", "token", "/api/reports/certificates"),
]
# Exports of every enrolment row: timed to the first data rows and to the end.
STREAMS: list[tuple[str, str, str]] = [
    ("learners.csv", "admin", "/reports/learners.csv"),
    ("learners.xlsx", "admin", "/reports/learners.xlsx"),
]

_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Context:
    """What the URLs are filled from: the database's own companies, modules, paths and dates."""

    own_org: int
    middle_page: int  # of /api/reports/progress for an admin (100 rows a page)
    orgs: list[int]
    paged_orgs: list[int]
    filters: list[str]
    accounts: dict[str, str]
    rng: random.Random

    def url(self, template: str) -> str:
        values = {"own_org": self.own_org, "middle_page": self.middle_page, "org": self.rng.choice(self.orgs),
                  "paged_org": self.rng.choice(self.paged_orgs or [self.own_org]),
                  "dimension": self.rng.choice(["county", "kind", "module", "month", "company"]),
                  "filters": self.rng.choice(self.filters)}
        url = template.format(**values)
        url = url.replace("?&", "?").rstrip("?&")
        return url


@dataclass
class Result:
    label: str
    who: str
    url: str
    timings_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    bytes: list[int] = field(default_factory=list)
    skipped: str | None = None
    first_rows_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label, "who": self.who, "url": self.url,
                                "statuses": dict(self.statuses)}
        if self.skipped:
            data["skipped"] = self.skipped
            return data
        data.update(n=len(self.timings_ms), p50_ms=percentile(self.timings_ms, 50),
                    p95_ms=percentile(self.timings_ms, 95), max_ms=round(max(self.timings_ms), 1),
                    mean_bytes=round(statistics.mean(self.bytes)) if self.bytes else 0)
        if self.first_rows_ms:
            data.update(first_rows_p50_ms=percentile(self.first_rows_ms, 50),
                        first_rows_max_ms=round(max(self.first_rows_ms), 1))
        return data


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (with 50 samples p95 is the 48th value)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return round(ordered[int(rank) - 1], 1)


def discover(rng: random.Random) -> Context:
    """Accounts, companies and filter values, from the generated database."""
    from lms_service.accounts.models import User, UserRole
    from lms_service.extensions import db
    from lms_service.learning.models import Registration
    from lms_service.orgs.models import Organisation
    from lms_service.packages.models import LearningPath, Module

    def first_with(role: str, organisation_id: int | None = None) -> str:
        query = sa.select(User.email).join(UserRole, UserRole.user_id == User.id).where(UserRole.role == role)
        if organisation_id is not None:
            query = query.where(User.organisation_id == organisation_id)
        email = db.session.execute(query.order_by(User.id).limit(1)).scalar_one_or_none()
        if email is None:
            raise SystemExit(f"no {role} in the database: build it with bench/reports_data.py")
        return email

    members = (sa.select(User.organisation_id, sa.func.count().label("n")).where(User.organisation_id.is_not(None))
               .group_by(User.organisation_id).order_by(sa.text("n DESC")))
    sizes = db.session.execute(members).all()
    if not sizes:
        raise SystemExit("no company in the database: build it with bench/reports_data.py")
    own = sizes[0][0]
    enrolled = db.session.execute(
        sa.select(User.organisation_id, sa.func.count()).join(Registration, Registration.user_id == User.id)
        .group_by(User.organisation_id)).all()
    # Page 2 of the employee table (50 rows) exists for a company with well over 50 enrolments.
    paged = [org for org, count in enrolled if org is not None and count > 80]
    orgs = list(db.session.execute(sa.select(Organisation.id)).scalars())
    slugs = list(db.session.execute(sa.select(Module.slug).order_by(Module.slug)).scalars())
    paths = list(db.session.execute(sa.select(LearningPath.key).order_by(LearningPath.key)).scalars())
    first, last = db.session.execute(sa.select(sa.func.min(Registration.created_at),
                                               sa.func.max(Registration.created_at))).one()
    first, last = first.date(), last.date()
    middle = first + (last - first) / 2
    periods = [f"from={(last - dt.timedelta(days=30)).isoformat()}&to={last.isoformat()}",
               f"from={(last - dt.timedelta(days=91)).isoformat()}",
               f"from={first.isoformat()}&to={middle.isoformat()}",
               f"from={last.replace(month=1, day=1).isoformat()}&to={last.replace(month=12, day=31).isoformat()}",
               (f"from={(last - dt.timedelta(days=200)).replace(day=1).isoformat()}"
                f"&to={(last - dt.timedelta(days=170)).isoformat()}")]
    filters = ["", *periods, *(f"module={s}" for s in slugs[:4]), *(f"path={p}" for p in paths),
               *(f"module={rng.choice(slugs)}&{rng.choice(periods)}" for _ in range(3)),
               *(f"path={rng.choice(paths)}&{rng.choice(periods)}" for _ in range(2))]
    accounts = {"coordinator": first_with("coordinator"), "admin": first_with("admin"),
                "org_admin": first_with("org_admin", own)}
    registrations = db.session.execute(sa.select(sa.func.count()).select_from(Registration)).scalar_one()
    return Context(own, max(1, registrations // 200), orgs, paged, filters, accounts, rng)


def login(app, email: str):
    """A test client signed in through the real form, CSRF token included, as a browser would."""
    client = app.test_client()
    page = client.get("/login")
    match = _CSRF_RE.search(page.get_data(as_text=True))
    if page.status_code != 200 or not match:
        raise SystemExit(f"no log-in form ({page.status_code})")
    response = client.post("/login", data={"csrf_token": match.group(1), "email": email, "password": PASSWORD})
    if response.status_code != 302 or "/login" in response.headers.get("Location", ""):
        raise SystemExit(f"log-in as {email} failed ({response.status_code}); was the database built by "
                         "bench/reports_data.py (password bench-password-2026)?")
    return client


def api_tokens(own_org: int) -> dict[str, str]:
    """A global and a company token through the service's token module, or none when it does not exist."""
    try:
        from lms_service.reports import tokens
    except ImportError:
        print("NOTICE: lms_service.reports.tokens does not exist: API endpoints with tokens are skipped")
        return {}
    created = {}
    for who, organisation in (("token", None), ("company_token", own_org)):
        _row, text = tokens.create_token(f"bench {who} {dt.datetime.now():%Y-%m-%d %H:%M}",
                                         ["reports:aggregates", "reports:learners"], organisation, valid_days=1)
        created[who] = text
    return created


class Bench:
    def __init__(self, app, context: Context, tokens: dict[str, str]):
        self.app, self.context, self.tokens = app, context, tokens
        self.clients = {who: login(app, email) for who, email in context.accounts.items()}
        self.anonymous = app.test_client()

    def _client_and_headers(self, who: str):
        if who in ("token", "company_token"):
            return self.anonymous, {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.clients[who], {}

    def request(self, who: str, url: str) -> tuple[int, int, float]:
        """(status, bytes, ms) of one request, body read to its end."""
        client, headers = self._client_and_headers(who)
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        body = response.get_data()
        elapsed = (time.perf_counter() - started) * 1000
        response.close()
        return response.status_code, len(body), elapsed

    def endpoint(self, label: str, who: str, template: str, requests: int, warmup: int) -> Result:
        result = Result(label, who, template)
        if who in ("token", "company_token") and who not in self.tokens:
            result.skipped = "no API token"
            return result
        warm = [self.request(who, self.context.url(template))[0] for _ in range(max(1, warmup))]
        if all(status == 404 for status in warm):
            result.skipped = "404 on every warm-up request (endpoint missing?)"
            return result
        for _ in range(requests):
            status, size, ms = self.request(who, self.context.url(template))
            result.statuses[status] += 1
            if status == 200:
                result.timings_ms.append(ms)
                result.bytes.append(size)
        if not result.timings_ms:
            result.skipped = f"no 200 answer: {dict(result.statuses)}"
        return result

    def stream(self, label: str, who: str, url: str, requests: int) -> Result:
        """Time to the first data rows of a streamed export, and to its end."""
        result = Result(label, who, url)
        client, headers = self._client_and_headers(who)
        for attempt in range(requests + 1):  # the first is a warm-up
            started = time.perf_counter()
            response = client.get(url, headers=headers, buffered=False)
            if response.status_code != 200:
                response.close()
                result.statuses[response.status_code] += 1
                if response.status_code == 404:
                    result.skipped = "404 (endpoint missing?)"
                    return result
                continue
            chunks = iter(response.response)
            # "Starts streaming" means the first data rows are out, not a byte-order mark or the XLSX parts
            # that go before any row is read: CSV up to its second line end (header and one row), XLSX up
            # to its second chunk (the first that carries rows).
            csv_body = url.split("?")[0].endswith(".csv")
            size = newlines = seen = 0
            for chunk in chunks:
                data = chunk.encode() if isinstance(chunk, str) else chunk
                size += len(data)
                newlines += data.count(b"\n")
                seen += 1
                if (csv_body and newlines >= 2) or (not csv_body and seen >= 2):
                    break
            first = (time.perf_counter() - started) * 1000
            for chunk in chunks:
                size += len(chunk)
            total = (time.perf_counter() - started) * 1000
            response.close()
            if attempt:
                result.statuses[200] += 1
                result.first_rows_ms.append(first)
                result.timings_ms.append(total)
                result.bytes.append(size)
        if not result.timings_ms:
            result.skipped = f"no 200 answer: {dict(result.statuses)}"
        return result


def print_table(results: list[Result]) -> None:
    print(f"\n{'endpoint':<36} {'who':<13} {'n':>3} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9} {'kB':>8}  note")
    for result in results:
        data = result.summary()
        if result.skipped:
            print(f"{result.label:<36} {result.who:<13} {'':>3} {'':>9} {'':>9} {'':>9} {'':>8}  "
                  f"skipped: {result.skipped}")
            continue
        errors = {k: v for k, v in result.statuses.items() if k != 200}
        note = f"statuses {errors}" if errors else ""
        if result.first_rows_ms:
            note = f"first rows p50 {data['first_rows_p50_ms']} ms, max {data['first_rows_max_ms']} ms " + note
        print(f"{result.label:<36} {result.who:<13} {data['n']:>3} {data['p50_ms']:>9.1f} {data['p95_ms']:>9.1f} "
              f"{data['max_ms']:>9.1f} {data['mean_bytes'] / 1024:>8.1f}  {note}")


def revision() -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "lms_service"], cwd=ROOT,
                                    capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"commit": commit, "lms_service_modified": dirty}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--requests", type=int, default=50, help="timed requests per endpoint (default 50)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per endpoint first (default 3)")
    parser.add_argument("--stream-requests", type=int, default=3,
                        help="timed requests of each full export (default 3)")
    parser.add_argument("--only", help="a regular expression: measure only endpoints whose label matches")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if not args.database_url:
        parser.error("set DATABASE_URL or --database-url")
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-use-0123456789")
    from lms_service import create_app
    from lms_service.extensions import db

    url = args.database_url.replace("postgres://", "postgresql://", 1)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False, "LMS_ENV": "development",
                      "LOG_LEVEL": "WARNING"})
    rng = random.Random(args.seed)
    with app.app_context():
        context = discover(rng)
        tokens = api_tokens(context.own_org)
        counts = {"learners": db.session.execute(sa.text("SELECT count(*) FROM users")).scalar_one(),
                  "statements": db.session.execute(sa.text("SELECT count(*) FROM lrs_statements")).scalar_one(),
                  "report_enrolments": db.session.execute(
                      sa.text("SELECT count(*) FROM report_enrolments")).scalar_one()}
        db.session.remove()
    print(f"database {url.split('@')[-1]}: {counts}; biggest company {context.own_org}, accounts "
          f"{context.accounts}")
    bench = Bench(app, context, tokens)
    # As gunicorn.conf.py's post_worker_init does in every worker: the objects of start-up go to the permanent
    # generation, so the collector no longer walks them on each full collection (which otherwise adds 80 ms
    # to one request in six here).
    gc.collect()
    gc.freeze()
    wanted = re.compile(args.only) if args.only else None
    results: list[Result] = []
    started = time.perf_counter()
    for label, who, template in ENDPOINTS:
        if wanted and not wanted.search(label):
            continue
        result = bench.endpoint(label, who, template, args.requests, args.warmup)
        results.append(result)
        data = result.summary()
        shown = f"skipped: {result.skipped}" if result.skipped else \
            f"p50 {data['p50_ms']} ms, p95 {data['p95_ms']} ms, max {data['max_ms']} ms"
        print(f"  {label:<36} {shown}", file=sys.stderr, flush=True)
    for label, who, url_ in STREAMS:
        if wanted and not wanted.search(label):
            continue
        result = bench.stream(label, who, url_, args.stream_requests)
        results.append(result)
        data = result.summary()
        shown = f"skipped: {result.skipped}" if result.skipped else \
            f"first rows {data['first_rows_p50_ms']} ms, total p50 {data['p50_ms']} ms, {data['mean_bytes']:,} bytes"
        print(f"  {label:<36} {shown}", file=sys.stderr, flush=True)
    print_table(results)
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    kind = "pg" if url.startswith("postgresql") else "sqlite"
    target = results_dir / f"reports_bench_{dt.datetime.now():%Y%m%d_%H%M%S}_{kind}.json"
    target.write_text(json.dumps({
        "database": url.split("@")[-1], "counts": counts, "requests": args.requests, "warmup": args.warmup,
        "revision": revision(), "seconds": round(time.perf_counter() - started, 1),
        "results": [r.summary() for r in results]}, indent=2))
    print(f"\nwritten {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
