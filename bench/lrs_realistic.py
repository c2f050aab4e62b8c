"""Ingest under traffic shaped like the real thing: many statements per learner and registration, batches of
several clients that share registrations, a few heavy learners, Swedish text, cmi5-shaped statements.

The older ``lrs_bench.py ingest`` gives every statement a fresh random registration and an e-mail actor, so
no two requests ever touch the same progress row and no hook but the outbox has work to do: it cannot show a
lock convoy or a deadlock. Here the learners are accounts of the service (actor = their pseudonymous xAPI
account on BASE_URL, each registration a row of ``learning_registrations`` for a bundled module), so every
projection works as it does for the native player: progress, the reporting table, certificates on a pass,
the forwarding outbox.

    # once per database (after `flask db upgrade` and `flask modules import modules/`):
    python bench/lrs_realistic.py plan --learners 500 --out /tmp/plan.json
    # against gunicorn serving that database:
    python bench/lrs_realistic.py ingest --plan /tmp/plan.json --url http://127.0.0.1:5200/xapi -u KEY -p SECRET \\
        --batch 50 --clients 8 --seconds 30 [--gunicorn-pid PID] [--pg-database NAME]

``plan`` builds every registration's journey with the player's own builders (xapi/builders.py): launched,
initialized, a progressed per lesson, completed, an answered per question, failed or passed with a score,
terminated, and for some a second session (suspended, resumed, another attempt). ``ingest`` sends them from
separate client processes: each batch takes the next few statements of several registrations, chosen with a
bias towards heavy learners, so concurrent batches of different clients keep meeting on the same rows; each
statement gets a fresh id and timestamp when it is sent. With ``--repeat-percent`` a client sends some batches
twice at once (a retry racing the original). Bench bench/realistic_run.sh runs the LRS alone and the whole
service back to back on fresh databases.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lrs_bench  # noqa: E402  (the connection, CPU and memory sampling of the older bench)

SWEDISH_RESPONSES = ["Elbilens drivlina – batteri, växelriktare och motor", "Återvinning av 95 % av blyet",
                     "Cirkulär ekonomi: ’resurseffektivitet’ för 120 € per år", "Ja ✓", "Nej – inte än 🌱"]


def _journeys(manifest: dict, quiz: dict, session, languages: list[str], rng: random.Random) -> list[dict]:
    """One registration's statements, in the order the player sends them (without ids or timestamps)."""
    from lms_service.packages.questions import get_question_type
    from xapi import builders

    start = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    lessons = list(manifest["lessons"])
    questions = list(quiz["questions"])
    iri = session.module_iri
    out = [builders.launched(session, start), builders.initialized(session, start)]
    if rng.random() < 0.3:  # left part-way and came back
        out.append(builders.suspended(session, 40, start))
        out.append(builders.resumed(session, start))
    for n, lesson in enumerate(lessons, 1):
        out.append(builders.progressed(session, f"{iri}/lessons/{lesson['id']}", lesson["title"],
                                       round(100 * n / len(lessons)), start))
    out.append(builders.completed(session, dt.timedelta(minutes=14), start))
    for attempt in (1, 2) if rng.random() < 0.25 else (1,):
        for question in questions:
            kind = get_question_type(question["type"])
            out.append(builders.answered(session, f"{iri}/questions/{question['id']}",
                                         kind.xapi_definition(question, languages), rng.choice(SWEDISH_RESPONSES),
                                         rng.random() < 0.8, attempt, start))
        passed = attempt == 2 or rng.random() < 0.85
        raw = len(questions) if passed else max(0, len(questions) // 2)
        out.append(builders.judged(session, passed, raw / max(1, len(questions)), raw, len(questions),
                                   dt.timedelta(minutes=18), start))
    out.append(builders.terminated(session, dt.timedelta(minutes=20), start))
    for statement in out:
        statement.pop("id", None)
        statement.pop("timestamp", None)
    return out


def run_plan(args) -> dict:
    """Create the learners and their registrations in the database of DATABASE_URL; write the journeys."""
    import sqlalchemy as sa

    from lms_service import create_app
    from lms_service.accounts.models import User
    from lms_service.extensions import db
    from lms_service.learning.models import Registration
    from lms_service.learning.services import path_for
    from lms_service.orgs.models import Organisation
    from lms_service.packages.models import Module, ModuleVersion
    from xapi import builders

    rng = random.Random(args.seed)
    app = create_app()
    with app.app_context():
        if db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar():
            raise SystemExit("the database already has users: plan on a fresh one")
        modules = db.session.execute(
            sa.select(Module, ModuleVersion).join(ModuleVersion, ModuleVersion.module_id == Module.id)
            .where(ModuleVersion.published.is_(True)).order_by(Module.slug)).all()
        if not modules:
            raise SystemExit("no published modules: run `flask modules import modules/` first")
        orgs = []
        for n in range(args.companies):
            # Valid-looking numbers are not checked at this level; the bench needs distinct ones only.
            org = Organisation(name=f"Underleverantör {n} AB – Södertälje", org_number=f"556{n:03d}-0000",
                               county="01", kind="vehicle_supplier")
            db.session.add(org)
            orgs.append(org)
        db.session.flush()
        users = [{"email": f"larande{n}@bench.example", "display_name": f"Lärande nummer {n} Åström",
                  "language": "sv" if n % 3 else "en", "password_hash": "!", "organisation_id": orgs[n % len(orgs)].id,
                  "xapi_account_name": uuid.UUID(int=rng.getrandbits(128)).hex, "active": True}
                 for n in range(args.learners)]
        db.session.execute(sa.insert(User), users)
        ids = db.session.execute(sa.select(User.id, User.xapi_account_name).order_by(User.id)).all()
        heavy = set(rng.sample(range(len(ids)), max(1, len(ids) * args.heavy_percent // 100)))
        base_url = app.config["BASE_URL"]
        journeys, weights, registrations = [], [], []
        for index, (user_id, account) in enumerate(ids):
            count = len(modules) if index in heavy else rng.randint(1, min(4, len(modules)))
            for module, version in rng.sample(modules, count):
                registration = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                registrations.append({"registration": registration, "user_id": user_id, "module_id": module.id,
                                      "module_version_id": version.id, "status": "active"})
                path = path_for(version.manifest, module.slug)
                languages = list(version.manifest["languages"])
                session = builders.ModuleSession(
                    home_page=base_url, account_name=account, registration=registration, module_iri=module.iri,
                    module_title=version.manifest["title"], module_version=version.version,
                    language="sv" if "sv" in languages else languages[0],
                    path_iri=path.iri if path else None, path_title=path.title if path else None)
                journeys.append(_journeys(version.manifest, version.quiz, session, languages, rng))
                weights.append(10 if index in heavy else 1)
        db.session.execute(sa.insert(Registration), registrations)
        db.session.commit()
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump({"journeys": journeys, "weights": weights}, handle, ensure_ascii=False)
    statements = sum(len(j) for j in journeys)
    return {"benchmark": "plan", "learners": args.learners, "heavy_learners": len(heavy),
            "registrations": len(journeys), "statements_per_journey": round(statements / len(journeys), 1),
            "modules": len(modules), "companies": args.companies}


def _stamp(counter: int) -> str:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(microseconds=counter % 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Loaded before the clients fork (they inherit it), so reading the plan is not part of the measured time.
_PLAN: dict = {}


def _realistic_worker(args, worker: int, deadline: float, queue) -> None:
    """One client: batches that take the next 1-8 statements of registrations picked with a heavy bias."""
    journeys, weights = _PLAN["journeys"], _PLAN["weights"]
    rng = random.Random(worker * 7919 + int(time.time()))
    conn = lrs_bench.Connection(args.url, args.user, args.password)
    cursors = [0] * len(journeys)
    sent = errors = counter = 0
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    while time.time() < deadline:
        batch: list[dict] = []
        while len(batch) < args.batch:
            j = rng.choices(range(len(journeys)), weights)[0]
            journey = journeys[j]
            for _ in range(min(rng.randint(1, 8), args.batch - len(batch))):
                statement = dict(journey[cursors[j] % len(journey)])
                cursors[j] += 1
                counter += 1
                statement["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                statement["timestamp"] = _stamp(counter)
                batch.append(statement)
        body = json.dumps(batch if args.batch > 1 else batch[0], ensure_ascii=False).encode("utf-8")
        repeats = 2 if args.repeat_percent and rng.randrange(100) < args.repeat_percent else 1
        for _ in range(repeats):
            started = time.perf_counter()
            status, _body = conn.request("POST", "/statements", body, "application/json; charset=utf-8")
            latencies.append(time.perf_counter() - started)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status == 200:
                sent += len(batch) if repeats == 1 or _ == 0 else 0
            else:
                errors += 1
    queue.put((sent, errors, latencies, statuses))


def main() -> None:
    parser = argparse.ArgumentParser(description="realistic ingest bench")
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan")
    plan.add_argument("--learners", type=int, default=500)
    plan.add_argument("--companies", type=int, default=5)
    plan.add_argument("--heavy-percent", type=int, default=5, help="learners who take every module")
    plan.add_argument("--seed", type=int, default=7)
    plan.add_argument("--out", required=True)
    ingest = sub.add_parser("ingest")
    ingest.add_argument("--plan", required=True)
    ingest.add_argument("--url", required=True, help="xAPI base, e.g. http://127.0.0.1:5200/xapi")
    ingest.add_argument("-u", "--user", required=True)
    ingest.add_argument("-p", "--password", required=True)
    ingest.add_argument("--batch", type=int, default=50)
    ingest.add_argument("--clients", type=int, default=8)
    ingest.add_argument("--seconds", type=float, default=30)
    ingest.add_argument("--repeat-percent", type=int, default=0, help="batches sent twice, racing themselves")
    ingest.add_argument("--gunicorn-pid", type=int, default=0)
    ingest.add_argument("--pg-database", default="", help="count its backends' CPU too")
    args = parser.parse_args()
    if args.command == "plan":
        report = run_plan(args)
    else:
        with open(args.plan, encoding="utf-8") as handle:
            _PLAN.update(json.load(handle))
        report = lrs_bench.run_ingest(args, worker=_realistic_worker)
        report["benchmark"] = "ingest_realistic"
        report["loadavg"] = open("/proc/loadavg").read().split()[:3]
    print(json.dumps(report))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
