"""Completion statistics: the figures behind the company and programme dashboards and their CSV exports.

Every figure is read from the projections (registrations, the progress projection, assignments and
certificates), never from the statements, so a report costs a few indexed queries. The privacy rules live
here and in ``access.py``: callers ask for a company's figures only after the access check, and the
cross-company figures come back with small counts already suppressed.
"""
from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app, g
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from ..accounts.models import User
from ..certificates.models import Assignment, Certificate, aware
from ..errors import UserError
from ..extensions import db
from ..orgs.counties import KIND_LABELS, county_name
from ..orgs.models import Organisation
from ..packages.models import LearningPath, Module, ModuleVersion
from ..timeutil import as_aware
from .models import ReportEnrolment

FILTER_KEYS = frozenset({"from", "to", "module", "path", "page"})
STATUSES = ("not_started", "in_progress", "completed", "passed", "failed")
PAGE_SIZE = 50
DONE_STATUSES = frozenset({"completed", "passed"})


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """Validated report filters: a period of enrolment (inclusive dates), a module slug, a path key."""

    start: dt.date | None = None
    end: dt.date | None = None
    module: str | None = None
    path: str | None = None
    page: int = 1

    def query_args(self) -> dict[str, str]:
        """The filters as query-string arguments (for export links and pagination), without the page."""
        args = {"from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None, "module": self.module, "path": self.path}
        return {key: value for key, value in args.items() if value}


FIRST_YEAR, LAST_YEAR = 2000, 2100  # the service's reports cover no other years; outside is a typo


def check_date(day: dt.date, name: str) -> dt.date:
    """Refuse a day outside the years reports can cover (also keeps ``day + 1`` from overflowing)."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise UserError(_("%(name)s must be a date from %(first)s to %(last)s.", name=name, first=FIRST_YEAR,
                          last=LAST_YEAR), field=name)
    return day


def _parse_date(raw: str, name: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise UserError(_("%(name)s must be a date written YYYY-MM-DD, got %(value)s.", name=name, value=raw[:40]),
                        field=name) from None
    return check_date(day, name)


def _printable(value: str) -> bool:
    # PostgreSQL refuses NUL in text, and no slug or key holds a control character.
    return value.isprintable()


def check_subjects(module: str | None, path: str | None) -> None:
    """Raise UserError unless the module slug and the path key (where given) exist."""
    if module is not None and (not _printable(module) or db.session.execute(
            sa.select(Module.id).where(Module.slug == module)).scalar_one_or_none() is None):
        raise UserError(_("There is no module %(slug)s.", slug=module[:64]), field="module")
    if path is not None and (not _printable(path) or db.session.execute(
            sa.select(LearningPath.id).where(LearningPath.key == path)).scalar_one_or_none() is None):
        raise UserError(_("There is no learning path %(key)s.", key=path[:64]), field="path")


def parse_filters(args: Mapping[str, str]) -> Filters:
    """Validate the query string of a report page or export; raises UserError (400) naming the problem.

    Unknown arguments are refused rather than ignored, so a typo never silently widens a report.
    """
    unknown = sorted(set(args) - FILTER_KEYS)
    if unknown:
        raise UserError(_("Unknown filter: %(names)s.", names=", ".join(name[:40] for name in unknown)))
    start = _parse_date(args["from"], "from") if args.get("from") else None
    end = _parse_date(args["to"], "to") if args.get("to") else None
    if start and end and start > end:
        raise UserError(_("The period starts after it ends."), field="from")
    module = args.get("module") or None
    path = args.get("path") or None
    check_subjects(module, path)
    raw_page = args.get("page") or "1"
    if not re.fullmatch(r"[0-9]{1,6}", raw_page) or int(raw_page) < 1:
        raise UserError(_("page must be a whole number from 1, got %(value)s.", value=raw_page[:20]), field="page")
    return Filters(start, end, module, path, int(raw_page))


# ---------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class Subject:
    kind: str  # module | path
    key: str  # module slug or path key
    iri: str
    title: dict
    module_iris: tuple[str, ...] = ()  # a path's required modules

    def label(self, language: str) -> str:
        return self.title.get(language) or next(iter(self.title.values()), self.key)


def _catalogue() -> tuple[list[Subject], list[Subject], dict[str, tuple[str, ...]]]:
    """Every module and path as Subjects, and each path's modules (by slug), read once per request."""
    if "reports_catalogue" in g:
        return g.reports_catalogue
    # The newest version's title; ordering by version lets the last one seen win without ORM objects.
    titles = {module_id: (manifest or {}).get("title") or {} for module_id, manifest in db.session.execute(
        sa.select(ModuleVersion.module_id, ModuleVersion.manifest)
        .order_by(ModuleVersion.major, ModuleVersion.minor, ModuleVersion.patch))}
    modules = db.session.execute(sa.select(Module.id, Module.slug, Module.iri).order_by(Module.slug)).all()
    iri_of = {m.slug: m.iri for m in modules}
    paths = db.session.execute(sa.select(LearningPath).options(selectinload(LearningPath.modules))
                               .order_by(LearningPath.key)).scalars().all()
    module_subjects = [Subject("module", m.slug, m.iri, titles.get(m.id, {})) for m in modules]
    path_subjects = [Subject("path", p.key, p.iri, p.title, tuple(
        iri_of[pm.module_slug] for pm in p.modules if pm.required and pm.module_slug in iri_of)) for p in paths]
    slugs = {p.key: tuple(pm.module_slug for pm in p.modules) for p in paths}
    g.reports_catalogue = (module_subjects, path_subjects, slugs)
    return g.reports_catalogue


def catalogue_subjects(filters: Filters | None = None) -> tuple[list[Subject], list[Subject]]:
    """The modules and learning paths a report covers, narrowed by the module and path filters."""
    filters = filters or Filters()
    modules, paths, slugs = _catalogue()
    if filters.path:
        paths = [p for p in paths if p.key == filters.path]
        in_path = {slug for p in paths for slug in slugs[p.key]}
        modules = [m for m in modules if m.key in in_path]
    if filters.module:
        modules = [m for m in modules if m.key == filters.module]
        paths = [p for p in paths if filters.module in slugs[p.key]]
    return modules, paths


# ---------------------------------------------------------------- one company


@dataclass
class SubjectStats:
    subject: Subject
    assigned: int = 0
    enrolled: int = 0
    in_progress: int = 0
    completed: int = 0
    passed: int = 0
    average_score: float | None = None  # 0..1
    median_minutes: float | None = None  # median time from the first statement to completion


@dataclass
class _Enrolment:
    user_id: int
    module_iri: str
    created_at: dt.datetime
    status: str
    score: float | None
    minutes: float | None
    done_at: dt.datetime | None


def _period(column: sa.ColumnElement, filters: Filters) -> list[sa.ColumnElement[bool]]:
    """The filter's inclusive days as a half-open UTC range on ``column``, so an index can serve it."""
    conditions = []
    if filters.start is not None:
        conditions.append(column >= dt.datetime.combine(filters.start, dt.time(), dt.UTC))
    if filters.end is not None:
        conditions.append(column < dt.datetime.combine(filters.end + dt.timedelta(days=1), dt.time(), dt.UTC))
    return conditions


def _per_request(name: str, *key: object):
    """A memo for this request (the company page asks for the same rows for its figures and its table)."""
    def decorate(compute):
        memo = g.setdefault("reports_memo", {})
        if (name, *key) not in memo:
            memo[(name, *key)] = compute()
        return memo[(name, *key)]
    return decorate


def _company_enrolments(organisation_id: int, filters: Filters) -> list[_Enrolment]:
    """The reporting rows of the company's employees who enrolled in the period."""
    E = ReportEnrolment

    @_per_request("enrolments", organisation_id, filters.start, filters.end)
    def rows() -> list[_Enrolment]:
        return [_Enrolment(user_id, iri, aware(created), status, score, minutes, as_aware(done))
                for user_id, iri, created, status, score, minutes, done in _core_rows(
                    sa.select(E.user_id, Module.iri, E.enrolled_at, E.status, E.score_scaled, E.minutes_to_complete,
                              E.completed_at).join(Module, Module.id == E.module_id)
                    .where(E.organisation_id == organisation_id, *_period(E.enrolled_at, filters)))]

    return rows


def _company_assignments(organisation_id: int, filters: Filters) -> list[sa.Row]:
    """(user_id, subject_iri, due_date) of the company's assignments made in the period."""
    A = Assignment

    @_per_request("assignments", organisation_id, filters.start, filters.end)
    def rows() -> list[sa.Row]:
        return list(db.session.connection().execute(sa.select(A.user_id, A.subject_iri, A.due_date).where(
            A.organisation_id == organisation_id, *_period(A.created_at, filters))))

    return rows


def _fill(stats: SubjectStats, rows: list[tuple[str, float | None, float | None]]) -> None:
    """``rows``: (status, score, minutes to complete) of each enrolled learner."""
    stats.enrolled = len(rows)
    stats.completed = sum(1 for status, _s, _m in rows if status in DONE_STATUSES)
    stats.passed = sum(1 for status, _s, _m in rows if status == "passed")
    stats.in_progress = stats.enrolled - stats.completed - sum(1 for status, _s, _m in rows if status == "failed")
    scores = [score for _st, score, _m in rows if score is not None]
    stats.average_score = sum(scores) / len(scores) if scores else None
    minutes = [m for status, _s, m in rows if m is not None and status in DONE_STATUSES]
    stats.median_minutes = statistics.median(minutes) if minutes else None


def company_subject_stats(organisation_id: int, filters: Filters,
                          individuals: bool = True) -> tuple[list[SubjectStats], list[SubjectStats]]:
    """Per module and per learning path: assigned, enrolled, in progress, completed, passed, average score
    and median time to complete, for the company's employees who enrolled in the period.

    Without ``individuals`` (a viewer who may not see the company's employees one by one) the average score
    and median time of fewer than REPORTS_MIN_COUNT learners are left out: they would be a person's own.
    """
    modules, paths = catalogue_subjects(filters)
    enrolments = _company_enrolments(organisation_id, filters)
    assigned: dict[str, int] = defaultdict(int)
    for assignment in _company_assignments(organisation_id, filters):
        assigned[assignment.subject_iri] += 1
    by_module: dict[str, list[_Enrolment]] = defaultdict(list)
    for enrolment in enrolments:
        by_module[enrolment.module_iri].append(enrolment)

    module_stats = []
    for subject in modules:
        stats = SubjectStats(subject, assigned=assigned[subject.iri])
        _fill(stats, [(e.status, e.score, e.minutes) for e in by_module[subject.iri]])
        module_stats.append(stats)

    path_stats = []
    for subject in paths:
        per_user: dict[int, dict[str, _Enrolment]] = defaultdict(dict)
        for iri in subject.module_iris:
            for enrolment in by_module[iri]:
                per_user[enrolment.user_id][iri] = enrolment
        rows = []
        for done in per_user.values():
            results = [done.get(iri) for iri in subject.module_iris]
            statuses = [r.status if r else "not_started" for r in results]
            if statuses and all(s == "passed" for s in statuses):
                status = "passed"
            elif statuses and all(s in DONE_STATUSES for s in statuses):
                status = "completed"
            else:
                status = "in_progress"
            scores = [r.score for r in results if r is not None and r.score is not None]
            minutes = None
            if status in DONE_STATUSES:
                # A path takes from the learner's first module statement to the last module's completion.
                starts = [r.done_at - dt.timedelta(minutes=r.minutes) for r in results
                          if r is not None and r.minutes is not None and r.done_at is not None]
                ends = [r.done_at for r in results if r is not None and r.done_at is not None]
                if starts and ends:
                    minutes = (max(ends) - min(starts)).total_seconds() / 60
            rows.append((status, sum(scores) / len(scores) if scores else None, minutes))
        stats = SubjectStats(subject, assigned=assigned[subject.iri])
        _fill(stats, rows)
        path_stats.append(stats)
    if not individuals:
        threshold = min_count()
        for stats in module_stats + path_stats:
            if stats.enrolled < threshold:
                stats.average_score = stats.median_minutes = None
    return module_stats, path_stats


@dataclass
class EmployeeRow:
    user_id: int
    name: str
    email: str
    subject: Subject
    status: str  # not_started | in_progress | completed | passed | failed
    due_date: dt.date | None
    overdue: bool
    certificate_status: str | None  # valid | expired | None
    certificate_valid_until: dt.datetime | None


@dataclass
class EmployeePage:
    rows: list[EmployeeRow]
    page: int
    pages: int
    total: int = field(default=0)


def _current_certificates(organisation_id: int, user_ids: set[int]) -> dict[tuple[int, str], dt.datetime | None]:
    """The validity end (None: never expires) of each of these employees' latest unrevoked certificate per
    subject."""
    if not user_ids:
        return {}
    C = Certificate
    return {(user_id, iri): valid_until for user_id, iri, valid_until in _core_rows(
        sa.select(C.user_id, C.subject_iri, C.valid_until).join(User, User.id == C.user_id)
        .where(User.organisation_id == organisation_id, C.user_id.in_(sorted(user_ids)), C.revoked_at.is_(None))
        .order_by(C.earned_at))}


def employee_rows(organisation_id: int, filters: Filters, now: dt.datetime) -> list[EmployeeRow]:
    """One row per employee and module or path they are enrolled in or assigned to (in the period), with
    status, due date, whether it is overdue and their certificate for it, ordered by name."""
    return _employee_table(organisation_id, filters, now, None, None).rows


def employee_page(organisation_id: int, filters: Filters, now: dt.datetime,
                  size: int = PAGE_SIZE) -> EmployeePage | None:
    """The filters' page of ``employee_rows`` (None beyond the last page; page 1 of nothing is empty).

    Only the page's rows are built and only their certificates read, so a company of thousands costs
    little more than a small one.
    """
    return _employee_table(organisation_id, filters, now, filters.page, size)


def _employee_table(organisation_id: int, filters: Filters, now: dt.datetime, page: int | None,
                    size: int | None) -> EmployeePage | None:
    modules, paths = catalogue_subjects(filters)
    subjects = {s.iri: s for s in modules + paths}
    members = {user_id: (name, email) for user_id, name, email in _core_rows(
        sa.select(User.id, User.display_name, User.email).where(User.organisation_id == organisation_id))}
    due_dates = {(user_id, iri): due for user_id, iri, due in _company_assignments(organisation_id, filters)
                 if user_id in members}
    status: dict[tuple[int, str], str] = {}
    for enrolment in _company_enrolments(organisation_id, filters):
        # A reporting row not yet moved with its learner (see projection.py) is not this company's.
        if enrolment.module_iri in subjects and enrolment.user_id in members:
            status[(enrolment.user_id, enrolment.module_iri)] = enrolment.status
    for path in paths:
        for user_id in members:
            results = [status.get((user_id, iri)) for iri in path.module_iris]
            if not any(results):
                continue
            if all(r == "passed" for r in results):
                status[(user_id, path.iri)] = "passed"
            elif all(r in DONE_STATUSES for r in results):
                status[(user_id, path.iri)] = "completed"
            else:
                status[(user_id, path.iri)] = "in_progress"
    names = {user_id: name.casefold() for user_id, (name, _email) in members.items()}
    keys = sorted(set(status) | {key for key in due_dates if key[1] in subjects},
                  key=lambda k: (names[k[0]], k[0], subjects[k[1]].kind, subjects[k[1]].key))
    total, number = len(keys), page or 1
    pages = max(1, -(-total // size)) if size else 1
    if number > pages:
        return None
    if size:
        keys = keys[(number - 1) * size:number * size]
    certificates = _current_certificates(organisation_id, {user_id for user_id, _iri in keys})
    today = now.date()
    rows = []
    for key in keys:
        user_id, iri = key
        name, email = members[user_id]
        valid_until = certificates.get(key, False)
        if valid_until is False:
            cert_status = None
        else:
            valid_until = as_aware(valid_until)
            cert_status = "expired" if valid_until is not None and valid_until <= now else "valid"
        due = due_dates.get(key)
        rows.append(EmployeeRow(user_id, name, email, subjects[iri], status.get(key, "not_started"), due,
                                bool(due and due < today and cert_status != "valid"), cert_status,
                                valid_until or None))
    return EmployeePage(rows, number, pages, total)


# ---------------------------------------------------------------- the programme (every company)


DIMENSIONS = ("county", "kind", "module", "month")


@dataclass
class ProgrammeRow:
    key: str
    label: str
    companies: int | None  # None: suppressed (fewer than REPORTS_MIN_COUNT, but not zero)
    learners: int | None
    completions: int | None
    certificates: int | None


def min_count() -> int:
    return int(current_app.config.get("REPORTS_MIN_COUNT", 5))


def suppress(count: int, threshold: int) -> int | None:
    """A count below the threshold (other than zero) is hidden: small cells can name a person."""
    return None if 0 < count < threshold else count


def _month(column: sa.ColumnElement) -> sa.ColumnElement[str]:
    """YYYY-MM of a UTC timestamp column, in the database's own dialect."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


def _enrolment_conditions(filters: Filters, narrowed: list[Subject] | None) -> list[sa.ColumnElement[bool]]:
    E = ReportEnrolment
    conditions = [E.organisation_id.is_not(None), *_period(E.enrolled_at, filters)]
    if narrowed is not None:
        conditions.append(E.module_id.in_(sa.select(Module.id).where(Module.iri.in_([s.iri for s in narrowed]))))
    return conditions


def _learners_per_company(conditions: list, key: sa.ColumnElement | None = None,
                          one_row_per_learner: bool = False) -> sa.Select:
    """The query of rows (key, company, learners, completions), or (company, learners, completions);
    a learner counts once per key and company. The covering indexes on (key, company, learner) let
    PostgreSQL count them in index order, without sorting or reading the table. With
    ``one_row_per_learner`` (a module: one registration per learner) a plain count does."""
    E = ReportEnrolment
    done = sa.func.sum(sa.case((E.status.in_(sorted(DONE_STATUSES)), 1), else_=0))
    keys = [key] if key is not None else []
    learners = sa.func.count() if one_row_per_learner else sa.func.count(sa.distinct(E.user_id))
    return (sa.select(*keys, E.organisation_id, learners, done).where(*conditions)
            .group_by(*keys, E.organisation_id))


def _core_rows(query: sa.Select) -> list[tuple]:
    """Rows of a Core query as plain tuples, without the ORM's result machinery (thousands of rows)."""
    return [tuple(row) for row in db.session.connection().execute(query)]


def _certificate_queries(filters: Filters, narrowed: list[Subject] | None) -> list[sa.Select]:
    """Unrevoked certificates earned in the period, counted per company, per month earned and per subject.

    On PostgreSQL one pass with GROUPING SETS (a few hundred rows come back, not one per company, month
    and subject); elsewhere one query per grouping. ``_certificate_counts`` reads their rows.
    """
    C = Certificate
    conditions = [C.revoked_at.is_(None), User.organisation_id.is_not(None), *_period(C.earned_at, filters)]
    if narrowed is not None:
        conditions.append(C.subject_iri.in_([s.iri for s in narrowed]))
    keys = list(_certificate_groupings(C))
    base = sa.select().select_from(C).join(User, User.id == C.user_id).where(*conditions)
    if db.session.get_bind().dialect.name == "postgresql":
        return [base.add_columns(*(sa.func.grouping(key) for key in keys), *keys, sa.func.count())
                .group_by(sa.func.grouping_sets(*(sa.tuple_(key) for key in keys)))]
    return [base.add_columns(key, sa.func.count()).group_by(key) for key in keys]


def _certificate_groupings(C: type[Certificate]) -> tuple[sa.ColumnElement, ...]:
    return (User.organisation_id, _month(C.earned_at).label("month"), C.subject_iri)


def _certificate_counts(answers: list[list[tuple]]) -> dict[str, dict]:
    """{company|month|subject: {key: count}} from the answers of ``_certificate_queries``."""
    names = ("company", "month", "subject")
    counts: dict[str, dict] = {name: {} for name in names}
    if len(answers) == 1:  # GROUPING SETS: grouping() is 0 for the key a row is grouped by
        for row in answers[0]:
            index = row[:3].index(0)
            counts[names[index]][row[3 + index]] = row[6]
        return counts
    for name, rows in zip(names, answers, strict=True):
        counts[name] = dict(rows)
    return counts


def _in_two_lanes(queries: list[sa.Select]) -> list[list[tuple]]:
    """Answers of independent read queries, in order. On PostgreSQL the second half runs at the same time on
    a connection of its own (one per request at most), so the database scans on both cores while Python
    waits; elsewhere, one after the other on the session's connection."""
    if db.session.get_bind().dialect.name != "postgresql" or len(queries) < 2:
        return [_core_rows(query) for query in queries]
    engine = db.engine
    split = len(queries) // 2

    def side_lane() -> list[list[tuple]]:
        with engine.connect() as connection:
            return [[tuple(row) for row in connection.execute(query)] for query in queries[split:]]

    with ThreadPoolExecutor(max_workers=1) as pool:
        side = pool.submit(side_lane)
        main = [_core_rows(query) for query in queries[:split]]
        return main + side.result()


@dataclass
class _Cell:
    companies: set[int] = field(default_factory=set)
    learners: int = 0
    completions: int = 0
    certificates: int = 0


def _programme_cells(filters: Filters) -> tuple[dict[str, dict[str, _Cell]], dict[int, sa.Row], list[Subject]]:
    """Every figure of every dimension (county, kind, module, month, company), from four grouped queries
    whose answers have one row per company and key, so the cost grows with companies, not learners."""
    modules, _paths = catalogue_subjects(filters)
    narrowed = modules if filters.module or filters.path else None
    conditions = _enrolment_conditions(filters, narrowed)
    orgs = {org.id: org for org in db.session.execute(
        sa.select(Organisation.id, Organisation.name, Organisation.county, Organisation.kind))}
    slug_of_id = dict(db.session.execute(sa.select(Module.id, Module.slug)).all())
    slug_of_iri = {s.iri: s.key for s in modules}
    cells: dict[str, dict[str, _Cell]] = {d: defaultdict(_Cell) for d in (*DIMENSIONS, "company")}
    county, kind, company, month_cells, module_cells = (cells[d] for d in ("county", "kind", "company", "month",
                                                                          "module"))

    def add(cell: _Cell, org_id: int, learners: int, completions: int) -> None:
        cell.companies.add(org_id)
        cell.learners += learners
        cell.completions += int(completions or 0)

    per_company, per_module, per_month, *certificate_answers = _in_two_lanes([
        _learners_per_company(conditions),
        _learners_per_company(conditions, ReportEnrolment.module_id, one_row_per_learner=True),
        _learners_per_company(conditions, ReportEnrolment.enrolled_month),
        *_certificate_queries(filters, narrowed)])
    for org_id, learners, completions in per_company:
        org = orgs[org_id]
        for cell in (county[org.county], kind[org.kind], company[str(org_id)]):
            add(cell, org_id, learners, completions)
    for module_id, org_id, learners, completions in per_module:
        add(module_cells[slug_of_id[module_id]], org_id, learners, completions)
    for month, org_id, learners, completions in per_month:
        add(month_cells[month], org_id, learners, completions)
    certificates = _certificate_counts(certificate_answers)
    for org_id, count in certificates["company"].items():
        org = orgs[org_id]
        for cell in (county[org.county], kind[org.kind], company[str(org_id)]):
            cell.certificates += count
    for month, count in certificates["month"].items():
        month_cells[month].certificates += count
    for iri, count in certificates["subject"].items():
        if iri in slug_of_iri:  # by module, only module certificates
            module_cells[slug_of_iri[iri]].certificates += count
    return cells, orgs, modules


def _suppressed_row(key: str, label: str, cell: _Cell, threshold: int) -> ProgrammeRow:
    return ProgrammeRow(key, label, *(suppress(count, threshold) for count in (
        len(cell.companies), cell.learners, cell.completions, cell.certificates)))


def programme_figures(filters: Filters, language: str) -> dict[str, list[ProgrammeRow]]:
    """Companies reached, learners, completions and certificates by county, company kind, module and
    month of enrolment, across every company; counts below REPORTS_MIN_COUNT are suppressed."""
    cells, _orgs, modules = _programme_cells(filters)
    threshold = min_count()
    labels = {"county": lambda k: county_name(k, language),
              "kind": lambda k: str(KIND_LABELS.get(k, k)),
              "module": lambda k: next((s.label(language) for s in modules if s.key == k), k),
              "month": lambda k: k}
    return {dimension: [_suppressed_row(key, labels[dimension](key), cells[dimension][key], threshold)
                        for key in sorted(cells[dimension])] for dimension in DIMENSIONS}


def company_figures(filters: Filters) -> list[ProgrammeRow]:
    """Learners, completions and certificates per company (key: its id), small counts suppressed."""
    cells, orgs, _modules = _programme_cells(filters)
    threshold = min_count()
    rows = [_suppressed_row(key, orgs[int(key)].name, cell, threshold) for key, cell in cells["company"].items()]
    rows.sort(key=lambda row: (row.label.casefold(), int(row.key)))
    return rows


# ---------------------------------------------------------------- individual rows (API and exports)


def _subject_iris(filters: Filters) -> tuple[list[Subject], list[Subject], list[str] | None]:
    modules, paths = catalogue_subjects(filters)
    narrowed = None
    if filters.module or filters.path:
        narrowed = [s.iri for s in modules] + ([] if filters.module else [p.iri for p in paths])
    return modules, paths, narrowed


@dataclass(frozen=True)
class Listing:
    """A list of rows, newest first: counted and paged on its driving table alone (an index serves both,
    however deep the page), then only the rows of one page joined with the tables that name them."""

    table_query: sa.Select  # SELECT key FROM driving table WHERE … ORDER BY …
    key: sa.ColumnElement
    joined: sa.Select  # the full columns, ordered the same way, without the paging

    def total(self) -> int:
        return db.session.execute(sa.select(sa.func.count()).select_from(
            self.table_query.order_by(None).subquery())).scalar_one()

    def page(self, page: int, size: int) -> list[sa.Row]:
        keys = self.table_query.limit(size).offset((page - 1) * size).subquery()
        return list(db.session.execute(self.joined.where(self.key.in_(sa.select(keys.c[0])))))

    def stream(self, batch: int = 2000):
        """Every row, fetched in batches through a server-side cursor where the database has one."""
        for partition in db.session.execute(self.joined.execution_options(yield_per=batch)).partitions():
            yield from partition


def learner_progress(scope: set[int] | None, filters: Filters, status: str | None = None,
                     done_only: bool = False) -> Listing:
    """Each enrolment of the learners of the companies in ``scope`` (None: every learner), newest first.

    The period selects the day of enrolment, or with ``done_only`` (completions) the day of completion.
    """
    E = ReportEnrolment
    conditions = []
    if scope is not None:
        conditions.append(E.organisation_id.in_(sorted(scope)))
    _modules, _paths, narrowed = _subject_iris(filters)
    if narrowed is not None:
        conditions.append(E.module_id.in_(sa.select(Module.id).where(Module.iri.in_(narrowed))))
    if status is not None:
        conditions.append(E.status == status)
    if done_only:
        order = (E.completed_at.desc(), E.registration.desc())
        conditions += [E.status.in_(sorted(DONE_STATUSES)), E.completed_at.is_not(None),
                       *_period(E.completed_at, filters)]
    else:
        order = (E.enrolled_at.desc(), E.registration.desc())
        conditions += _period(E.enrolled_at, filters)
    joined = (sa.select(E.registration, E.user_id, User.display_name, User.email, E.organisation_id,
                        Module.slug, E.status, E.enrolled_at, E.completed_at, E.score_scaled, E.minutes_to_complete)
              .join(User, User.id == E.user_id).join(Module, Module.id == E.module_id).where(*conditions)
              .order_by(*order))
    if scope is not None:
        # The reporting row's copy of the company decides fast; the users table has the last word.
        joined = joined.where(User.organisation_id.in_(sorted(scope)))
    return Listing(sa.select(E.registration).where(*conditions).order_by(*order), E.registration, joined)


def progress_item(row: sa.Row) -> dict:
    return {"learner": {"id": row.user_id, "name": row.display_name, "email": row.email,
                        "company": row.organisation_id},
            "module": row.slug, "registration": row.registration, "status": row.status,
            "enrolled_at": as_aware(row.enrolled_at), "completed_at": as_aware(row.completed_at),
            "score": row.score_scaled, "minutes_to_complete": row.minutes_to_complete}


def certificates_listing(scope: set[int] | None, filters: Filters, status: str | None,
                         now: dt.datetime) -> Listing:
    """Certificates of the learners of the companies in ``scope`` (None: everyone's) earned in the period."""
    C = Certificate
    conditions = list(_period(C.earned_at, filters))
    if scope is not None:
        conditions.append(User.organisation_id.in_(sorted(scope)))
    _modules, _paths, narrowed = _subject_iris(filters)
    if narrowed is not None:
        conditions.append(C.subject_iri.in_(narrowed))
    if status == "revoked":
        conditions.append(C.revoked_at.is_not(None))
    elif status == "expired":
        conditions += [C.revoked_at.is_(None), C.valid_until <= now]
    elif status == "valid":
        conditions += [C.revoked_at.is_(None), sa.or_(C.valid_until.is_(None), C.valid_until > now)]
    order = (C.earned_at.desc(), C.id.desc())
    joined = (sa.select(C.public_id, C.user_id, C.learner_name, User.email, User.organisation_id, C.subject_kind,
                        C.subject_iri, C.subject_title, C.earned_at, C.valid_until, C.revoked_at)
              .join(User, User.id == C.user_id).where(*conditions).order_by(*order))
    # Every certificate of a learner (user_id set) has its user: the users table is needed for the scope only.
    keys = sa.select(C.id).where(C.user_id.is_not(None), *conditions).order_by(*order)
    if scope is not None:
        keys = keys.join(User, User.id == C.user_id)
    return Listing(keys, C.id, joined)


def subject_keys() -> dict[str, str]:
    """Module slug or path key by IRI."""
    modules, paths = catalogue_subjects()
    return {s.iri: s.key for s in modules + paths}


def certificate_item(row: sa.Row, language: str, now: dt.datetime, keys: Mapping[str, str]) -> dict:
    from flask import url_for

    valid_until = as_aware(row.valid_until)
    state = "revoked" if row.revoked_at is not None else (
        "expired" if valid_until is not None and valid_until <= now else "valid")
    title = row.subject_title.get(language) or next(iter(row.subject_title.values()), "")
    return {"id": row.public_id, "learner": {"id": row.user_id, "name": row.learner_name, "email": row.email,
                                             "company": row.organisation_id},
            "subject_kind": row.subject_kind, "subject": keys.get(row.subject_iri, row.subject_iri),
            "title": title, "earned_at": as_aware(row.earned_at), "valid_until": valid_until, "status": state,
            "verify_url": url_for("verify.verify", public_id=row.public_id, _external=True)}
