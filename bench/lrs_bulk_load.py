"""Bench-only bulk loader: fill the LRS tables with N synthetic statements, fast.

It writes the same rows the ingest path writes (statement, agent and activity lookup rows) but
bypasses validation and hooks, with COPY on PostgreSQL and executemany on SQLite. Never use it on
a real store: it exists to build a 1,000,000-statement database for the query benchmark.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/lrs_bench \\
        python bench/lrs_bulk_load.py --statements 1000000

The tables must exist and be empty (``db.create_all()``). Data shape (see bench/README.md):
20,000 ordinary learners share 98 % of the statements; 10 "heavy" learners get 0.2 % each; 10 verbs;
1,000 activities with a parent course (20 courses, about 50,000 statements each through ``parent``);
5 % of the statements have the course itself as object (about 2,500 per course, no parent) and 1 % one
of 5,000 rare activities (about 2 each, with a parent course); a registration per learner and course,
the same in every load; ``stored`` spread over the last 365 days in primary-key order.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import sys
import time
import uuid

VERBS = [
    f"http://adlnet.gov/expapi/verbs/{v}"
    for v in (
        "launched",
        "initialized",
        "progressed",
        "answered",
        "completed",
        "passed",
        "failed",
        "terminated",
        "experienced",
        "attempted",
    )
]
HOME = "http://127.0.0.1:5000"
LEARNERS = 20_000
HEAVY = 10
ACTIVITIES = 1_000
COURSES = 20
RARE_ACTIVITIES = 5_000
# Registrations come from (learner, course), not from Python's hash(), which changes with every process.
REGISTRATIONS = uuid.UUID("6f1c3b52-1d8e-4c5e-9a47-2b1f0c9d8e71")


def learner_mbox(index: int) -> str:
    return f"mailto:learner{index}@bench.example"


def heavy_mbox(index: int) -> str:
    return f"mailto:heavy{index}@bench.example"


def registration_of(mbox: str, course: str) -> str:
    """The registration of a learner's statements in a course (the query benchmark asks for them)."""
    return str(uuid.uuid5(REGISTRATIONS, f"{mbox} {course}"))


def generate(count: int, seed: int = 7):
    """Yield (pk, statement_id, stored, verb, registration, body_json, agent_ifi, activity, parent or None)."""
    rng = random.Random(seed)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
    step = dt.timedelta(days=365) / count
    authority = {"objectType": "Agent", "name": "bench", "account": {"homePage": HOME, "name": "client-1"}}
    for pk in range(1, count + 1):
        if rng.random() < 0.02:
            mbox = heavy_mbox(rng.randrange(HEAVY))
        else:
            mbox = learner_mbox(rng.randrange(LEARNERS))
        verb = VERBS[rng.randrange(len(VERBS))]
        activity_index = rng.randrange(ACTIVITIES)
        course = f"http://bench.example/courses/{activity_index // (ACTIVITIES // COURSES)}"
        kind = rng.random()
        if kind < 0.05:  # course-level statements: the course is the object and has no parent
            activity, parent, name = course, None, f"Course {activity_index // (ACTIVITIES // COURSES)}"
        elif kind < 0.06:
            rare = rng.randrange(RARE_ACTIVITIES)
            activity, parent, name = f"http://bench.example/rare/{rare}", course, f"Rare {rare}"
        else:
            activity = f"http://bench.example/activities/{activity_index}"
            parent, name = course, f"Activity {activity_index}"
        registration = registration_of(mbox, course)
        stored = start + step * pk
        stored_text = stored.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        statement_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        body = {
            "id": statement_id,
            "actor": {"objectType": "Agent", "mbox": mbox},
            "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[1]}},
            "object": {
                "objectType": "Activity",
                "id": activity,
                "definition": {
                    "name": {"en-US": name},
                    "type": "http://adlnet.gov/expapi/activities/" + ("lesson" if parent else "course"),
                },
            },
            "result": {"score": {"scaled": round(rng.random(), 2)}, "completion": True},
            "context": {"registration": registration},
            "timestamp": stored_text,
            "stored": stored_text,
            "authority": authority,
            "version": "2.0.0",
        }
        if parent:
            body["context"]["contextActivities"] = {"parent": [{"objectType": "Activity", "id": parent}]}
        yield (
            pk,
            statement_id,
            stored,
            verb,
            registration,
            json.dumps(body, separators=(",", ":")),
            f"mbox:{mbox}",
            activity,
            parent,
        )


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def load_postgres(url: str, count: int, chunk: int = 50_000) -> None:
    import psycopg

    url = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=False) as conn:
        cur = conn.cursor()
        # Secondary indexes are dropped during the load and rebuilt after: far faster than
        # maintaining them row by row.
        cur.execute("""SELECT indexname, indexdef FROM pg_indexes
                       WHERE tablename IN ('lrs_statements', 'lrs_statement_agents',
                                           'lrs_statement_activities')
                       AND indexname NOT LIKE 'pk_%' AND indexname NOT LIKE 'uq_%'""")
        indexes = cur.fetchall()
        for name, _definition in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        conn.commit()
        rows = generate(count)
        done = 0
        while done < count:
            statements, agents, activities = io.StringIO(), io.StringIO(), io.StringIO()
            for _ in range(min(chunk, count - done)):
                pk, sid, stored, verb, registration, body, ifi, activity, parent = next(rows)
                statements.write(
                    "\t".join(
                        _copy_text(v)
                        for v in (
                            pk,
                            sid,
                            stored.isoformat(),
                            verb,
                            registration,
                            None,
                            False,
                            False,
                            "2.0.0",
                            None,
                            None,
                            False,
                            body,
                        )
                    )
                    + "\n"
                )
                tail = f"{verb}\t{registration}\t{stored.isoformat()}"
                agents.write(f"{pk}\t{_copy_text(ifi)}\tf\t{tail}\n")
                activities.write(f"{pk}\t{activity}\tf\t{tail}\n")
                if parent:
                    activities.write(f"{pk}\t{parent}\tt\t{tail}\n")
                done += 1
            with cur.copy(
                "COPY lrs_statements (pk, statement_id, stored, verb_id, registration, ref_target, "
                "voided, is_voiding, version, client_id, organisation_id, has_attachments, body) "
                "FROM STDIN"
            ) as copy:
                copy.write(statements.getvalue())
            with cur.copy(
                "COPY lrs_statement_agents (statement_pk, ifi, related, verb_id, registration, stored) "
                "FROM STDIN"
            ) as copy:
                copy.write(agents.getvalue())
            with cur.copy(
                "COPY lrs_statement_activities (statement_pk, activity_id, related, verb_id, "
                "registration, stored) FROM STDIN"
            ) as copy:
                copy.write(activities.getvalue())
            conn.commit()
            print(f"  {done:>9,} statements", file=sys.stderr, flush=True)
        print("rebuilding indexes ...", file=sys.stderr, flush=True)
        for _name, definition in indexes:
            cur.execute(definition)
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('lrs_statements', 'pk'), "
            "(SELECT max(pk) FROM lrs_statements))"
        )
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE lrs_statements")
        cur.execute("VACUUM ANALYZE lrs_statement_agents")
        cur.execute("VACUUM ANALYZE lrs_statement_activities")


def load_sqlite(path: str, count: int, chunk: int = 50_000) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    rows = generate(count)
    done = 0
    while done < count:
        statements, agents, activities = [], [], []
        for _ in range(min(chunk, count - done)):
            pk, sid, stored, verb, registration, body, ifi, activity, parent = next(rows)
            stored_text = stored.replace(tzinfo=None).isoformat(sep=" ")
            statements.append(
                (pk, sid, stored_text, verb, registration, None, 0, 0, "2.0.0", None, None, 0, body)
            )
            agents.append((pk, ifi, 0, verb, registration, stored_text))
            activities.append((pk, activity, 0, verb, registration, stored_text))
            if parent:
                activities.append((pk, parent, 1, verb, registration, stored_text))
            done += 1
        conn.executemany(
            "INSERT INTO lrs_statements (pk, statement_id, stored, verb_id, registration, ref_target, "
            "voided, is_voiding, version, client_id, organisation_id, has_attachments, body) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            statements,
        )
        conn.executemany(
            "INSERT INTO lrs_statement_agents (statement_pk, ifi, related, verb_id, registration, "
            "stored) VALUES (?,?,?,?,?,?)",
            agents,
        )
        conn.executemany(
            "INSERT INTO lrs_statement_activities (statement_pk, activity_id, related, verb_id, "
            "registration, stored) VALUES (?,?,?,?,?,?)",
            activities,
        )
        conn.commit()
        print(f"  {done:>9,} statements", file=sys.stderr, flush=True)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = parser.parse_args()
    if not args.database_url:
        parser.error("set DATABASE_URL or --database-url")
    started = time.perf_counter()
    if args.database_url.startswith(("postgres://", "postgresql")):
        load_postgres(args.database_url.replace("postgres://", "postgresql://", 1), args.statements)
    elif args.database_url.startswith("sqlite:///"):
        load_sqlite(args.database_url[len("sqlite:///") :], args.statements)
    else:
        parser.error("DATABASE_URL must be postgresql://... or sqlite:///...")
    print(json.dumps({"statements": args.statements, "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
