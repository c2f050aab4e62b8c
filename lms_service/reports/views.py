"""Report pages and their CSV exports.

Every handler validates the filters (400), loads the company (404), checks access (403; the rules are in
access.py) and asks the services for the figures. An export takes the same filters and the same checks as
the page it belongs to.
"""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts.access import role_required
from ..errors import UserError
from ..i18n import current_language
from ..timeutil import utcnow
from . import services
from .access import current_viewer, may_see_individuals, reported_organisation_or_abort
from .charts import bar_chart
from .csvexport import csv_response

bp = Blueprint("reports", __name__, template_folder="templates", url_prefix="/reports")

STATUS_LABELS = {
    "not_started": lambda: _("Not started"), "in_progress": lambda: _("In progress"),
    "completed": lambda: _("Completed"), "passed": lambda: _("Passed"), "failed": lambda: _("Failed"),
    "valid": lambda: _("Valid"), "expired": lambda: _("Expired"),
}


def _filters() -> services.Filters:
    try:
        return services.parse_filters(request.args)
    except UserError as error:
        abort(400, description=error.message)


def _label(status: str | None) -> str:
    return STATUS_LABELS[status]() if status in STATUS_LABELS else ""


def _percent(value: float | None) -> str:
    return "" if value is None else str(round(value * 100))


def _minutes(value: float | None) -> str:
    return "" if value is None else str(round(value))


# ---------------------------------------------------------------- the company dashboard


@bp.route("/company")
@login_required
def my_company():
    if current_user.organisation_id is None or not current_user.has_role("org_admin"):
        abort(403)
    # Only validated filters travel on: raw arguments could carry url_for's own (_external, org_id).
    filters = _filters()
    return redirect(url_for("reports.company", org_id=current_user.organisation_id, **filters.query_args()))


@bp.route("/company/<int:org_id>")
@login_required
def company(org_id: int):
    organisation = reported_organisation_or_abort(org_id)
    filters = _filters()
    module_stats, path_stats = services.company_subject_stats(organisation.id, filters)
    employees = None
    if may_see_individuals(current_viewer(), organisation.id):
        employees = services.paginate(services.employee_rows(organisation.id, filters, utcnow()), filters.page)
        if employees is None:
            abort(404)
    elif filters.page != 1:
        abort(404)
    modules, paths = services.catalogue_subjects()
    lang = current_language()
    return render_template(
        "reports/company.html", organisation=organisation, filters=filters, args=filters.query_args(),
        module_stats=module_stats, path_stats=path_stats, employees=employees, lang=lang,
        module_choices=[(m.key, m.label(lang)) for m in modules], path_choices=[(p.key, p.label(lang)) for p in paths],
        status_label=_label, percent=_percent, minutes=_minutes)


def _stats_rows(stats: list[services.SubjectStats], lang: str):
    for row in stats:
        yield [row.subject.key, row.subject.label(lang), row.assigned, row.enrolled, row.in_progress, row.completed,
               row.passed, _percent(row.average_score), _minutes(row.median_minutes)]


STATS_HEADER = ("key", "title", "assigned", "enrolled", "in_progress", "completed", "passed",
                "average_score_percent", "median_minutes_to_complete")


@bp.route("/company/<int:org_id>/<any(modules, paths):table>.csv")
@login_required
def company_stats_csv(org_id: int, table: str):
    organisation = reported_organisation_or_abort(org_id)
    filters = _filters()
    module_stats, path_stats = services.company_subject_stats(organisation.id, filters)
    stats = module_stats if table == "modules" else path_stats
    return csv_response(f"{table}-{organisation.org_number}.csv", list(STATS_HEADER),
                        _stats_rows(stats, current_language()))


@bp.route("/company/<int:org_id>/employees.csv")
@login_required
def employees_csv(org_id: int):
    organisation = reported_organisation_or_abort(org_id, individuals=True)
    filters = _filters()
    rows = services.employee_rows(organisation.id, filters, utcnow())
    lang = current_language()
    header = ["name", "email", "kind", "key", "title", "status", "due_date", "overdue", "certificate",
              "certificate_valid_until"]
    return csv_response(f"employees-{organisation.org_number}.csv", header, (
        [r.name, r.email, r.subject.kind, r.subject.key, r.subject.label(lang), r.status,
         r.due_date.isoformat() if r.due_date else "", "yes" if r.overdue else "no", r.certificate_status or "",
         r.certificate_valid_until.date().isoformat() if r.certificate_valid_until else ""] for r in rows))


# ---------------------------------------------------------------- the programme dashboard


def _dimension_titles() -> dict[str, str]:
    return {"county": _("By county"), "kind": _("By company kind"), "module": _("By module"),
            "month": _("By month of enrolment")}


@bp.route("/programme")
@role_required("coordinator", "admin")
def programme():
    filters = _filters()
    if filters.page != 1:
        abort(404)
    lang = current_language()
    figures = services.programme_figures(filters, lang)
    titles = _dimension_titles()
    charts = {dimension: bar_chart(
        [(row.label, row.learners) for row in rows],
        title=_("Learners, %(dimension)s", dimension=titles[dimension].lower()),
        number=lambda value: format_decimal(value)) for dimension, rows in figures.items()}
    modules, paths = services.catalogue_subjects()
    return render_template(
        "reports/programme.html", figures=figures, charts=charts, titles=titles, filters=filters,
        args=filters.query_args(), min_count=services.min_count(),
        module_choices=[(m.key, m.label(lang)) for m in modules], path_choices=[(p.key, p.label(lang)) for p in paths])


@bp.route("/programme/<any(county, kind, module, month):dimension>.csv")
@role_required("coordinator", "admin")
def programme_csv(dimension: str):
    filters = _filters()
    figures = services.programme_figures(filters, current_language())
    threshold = services.min_count()

    def shown(value: int | None) -> str:
        return f"<{threshold}" if value is None else str(value)

    return csv_response(f"programme-{dimension}.csv",
                        [dimension, "label", "companies", "learners", "completions", "certificates"],
                        ([row.key, row.label, shown(row.companies), shown(row.learners), shown(row.completions),
                          shown(row.certificates)] for row in figures[dimension]))
