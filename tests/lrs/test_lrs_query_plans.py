"""The plans PostgreSQL picks for queries by activity (and agent): one ordered index range of the lookup
table, no sort of every row of the key, no sequential scan; a registration starts from its statements.

The store is filled with SQL (20,000 statements, a few popular keys) and analysed, so the planner decides
with real statistics, as it does at 1,000,000 statements (docs/performance.md).
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import IS_POSTGRES

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not IS_POSTGRES, reason="reads PostgreSQL's EXPLAIN; set TEST_DATABASE_URL"),
]

STATEMENTS = 20_000
COURSE = "http://example.com/courses/0"  # object of 1 in 20 statements, parent of a quarter of the rest
HEAVY = "mbox:mailto:heavy@example.com"  # actor of one statement in ten
VERB = "http://example.com/verbs/3"
REGISTRATION = "00000000-0000-4000-8000-000000000008"  # 4 statements, in COURSE


@pytest.fixture
def store(app):
    """20,000 statements with their lookup rows, written in SQL and analysed."""
    from lms_service.extensions import db

    statements = f"""
        INSERT INTO lrs_statements (pk, statement_id, stored, verb_id, registration, voided, is_voiding,
                                    version, has_attachments, body)
        SELECT i, md5(i::text)::uuid::text, now() - make_interval(secs => {STATEMENTS} - i),
               'http://example.com/verbs/' || mod(i, 10),
               '00000000-0000-4000-8000-' || lpad(mod(i, 5000)::text, 12, '0'), false, false, '2.0.0', false,
               '{{}}'::jsonb
        FROM generate_series(1, {STATEMENTS}) AS i"""
    # Course-level statements (pk mod 20 = 0) have the course as object; the others a lesson and a parent
    # course (pk mod 4). A registration (pk mod 5000) stays in one course, as one learner's attempt does.
    activities = """
        INSERT INTO lrs_statement_activities (statement_pk, activity_id, verb_id, related, registration, stored)
        SELECT s.pk, a.activity_id, s.verb_id, a.related, s.registration, s.stored
        FROM lrs_statements s, LATERAL (
            SELECT 'http://example.com/courses/' || mod(s.pk, 4) AS activity_id, false AS related
            WHERE mod(s.pk, 20) = 0
            UNION ALL SELECT 'http://example.com/lessons/' || mod(s.pk, 200), false WHERE mod(s.pk, 20) <> 0
            UNION ALL SELECT 'http://example.com/courses/' || mod(s.pk, 4), true WHERE mod(s.pk, 20) <> 0
        ) AS a"""
    agents = """
        INSERT INTO lrs_statement_agents (statement_pk, ifi, verb_id, related, registration, stored)
        SELECT pk, CASE WHEN mod(pk, 10) = 0 THEN 'mbox:mailto:heavy@example.com'
                        ELSE 'mbox:mailto:learner' || mod(pk, 2000) || '@example.com' END,
               verb_id, false, registration, stored
        FROM lrs_statements"""
    with app.app_context():
        connection = db.session.connection()
        for sql in (statements, activities, agents):
            connection.exec_driver_sql(sql)
        db.session.commit()
        for table in ("lrs_statements", "lrs_statement_activities", "lrs_statement_agents"):
            db.session.connection().exec_driver_sql(f"ANALYZE {table}")
        db.session.commit()
    return app


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _plan(app, **filters) -> list[dict]:
    """The plan nodes of the select a query with ``filters`` runs (lrs/query.py)."""
    from lms_service.extensions import db
    from lms_service.lrs import query as q

    with app.app_context():
        query = q.StatementQuery(**filters)
        query.bound = q.utcnow()
        select = q._lookup_query(query, None, 50)
        sql = str(select.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
        (plan,) = db.session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql).scalar()
        db.session.rollback()
    return list(_nodes(plan["Plan"]))


def _indexes_used(nodes, table: str) -> set[str]:
    """Names of the indexes of ``table`` the plan reads (bitmap index scans name no relation)."""
    names = {n["Index Name"] for n in nodes if "Index Name" in n}
    return {name for name in names if name == f"pk_{table}" or name.startswith(f"ix_{table}_")}


ORDERED_SHAPES = {
    "activity": dict(activity=COURSE),
    "activity + verb": dict(activity=COURSE, verb=VERB),
    "activity + related": dict(activity=COURSE, related_activities=True),
    "activity + related + verb": dict(activity=COURSE, related_activities=True, verb=VERB),
    "activity + since/until": dict(
        activity=COURSE,
        since=dt.datetime.now(dt.UTC) - dt.timedelta(hours=4),
        until=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
    ),
    "activity + related, ascending": dict(activity=COURSE, related_activities=True, ascending=True),
    "activity + related, a more page": dict(
        activity=COURSE,
        related_activities=True,
        after_stored=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2),
        after_pk=STATEMENTS // 2,
    ),
    "agent": dict(agent=HEAVY),
    "agent + verb": dict(agent=HEAVY, verb=VERB),
}
INDEXES = {  # (lookup table, with a verb): the index a page reads
    ("lrs_statement_agents", False): "ix_lrs_statement_agents_ifi_related",
    ("lrs_statement_agents", True): "ix_lrs_statement_agents_ifi_verb_related",
    ("lrs_statement_activities", False): "ix_lrs_statement_activities_aid_related",
    ("lrs_statement_activities", True): "ix_lrs_statement_activities_aid_verb_related",
}


def test_a_page_of_a_popular_key_is_one_ordered_index_range_of_the_lookup_table(store):
    wrong = []
    for shape, filters in ORDERED_SHAPES.items():
        table = "lrs_statement_agents" if "agent" in filters else "lrs_statement_activities"
        nodes = _plan(store, **filters)
        types = [n["Node Type"] for n in nodes]
        lookup = [n for n in nodes if n.get("Relation Name") == table]
        # With related_activities: the ranges of related = false and related = true, merged in order.
        ranges = 2 if filters.get("related_activities") else 1
        if (
            "Seq Scan" in types
            # A sort (or a bitmap scan, which loses the order) would read every row of the key first.
            or {"Sort", "Incremental Sort", "Bitmap Heap Scan"} & set(types)
            or len(lookup) != ranges
            or (ranges == 2 and "Merge Append" not in types)
            or any(n["Node Type"] not in ("Index Scan", "Index Only Scan") for n in lookup)
            or _indexes_used(nodes, table) != {INDEXES[(table, "verb" in filters)]}
            # The statements table is visited only for the page's rows, by primary key.
            or _indexes_used(nodes, "lrs_statements") != {"pk_lrs_statements"}
        ):
            wrong.append(f"{shape}: {types} {_indexes_used(nodes, table)}")
    assert not wrong, "\n".join(wrong)


def test_activity_and_registration_start_from_the_registration(store):
    wrong = []
    for related in (False, True):
        nodes = _plan(store, activity=COURSE, registration=REGISTRATION, related_activities=related)
        types = [n["Node Type"] for n in nodes]
        if (
            "Seq Scan" in types
            or "ix_lrs_statements_registration_stored" not in _indexes_used(nodes, "lrs_statements")
            # The course's rows are probed by statement, never read as a range.
            or _indexes_used(nodes, "lrs_statement_activities") != {"pk_lrs_statement_activities"}
        ):
            wrong.append(f"related={related}: {types} {_indexes_used(nodes, 'lrs_statement_activities')}")
    assert not wrong, "\n".join(wrong)
