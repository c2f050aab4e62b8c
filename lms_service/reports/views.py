"""Report pages and their CSV exports.

Every handler validates the filters (400), loads the company (404), checks access (403; the rules are in
access.py) and asks the services for the figures. An export takes the same filters and the same checks as
the page it belongs to.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts.access import can_manage_org, role_required
from ..errors import UserError
from ..i18n import current_language
from ..timeutil import as_aware, utcnow
from . import services, sharing, tokens
from .access import current_viewer, individual_scope, may_see_individuals, reported_organisation_or_abort
from .charts import bar_chart, line_chart
from .csvexport import csv_response
from .forms import RevokeForm, SharingForm, TokenForm, scope_labels
from .xlsxexport import xlsx_response

bp = Blueprint("reports", __name__, template_folder="templates", url_prefix="/reports")

STATUS_LABELS = {
    "not_started": lambda: _("Not started"), "in_progress": lambda: _("In progress"),
    "completed": lambda: _("Completed"), "passed": lambda: _("Passed"), "failed": lambda: _("Failed"),
    "valid": lambda: _("Valid"), "expired": lambda: _("Expired"),
}


def _table(fmt: str, name: str, header: Sequence[str], rows: Iterable[Sequence[object]]):
    """One export in the format asked for: CSV or XLSX, streamed either way."""
    if fmt == "xlsx":
        return xlsx_response(f"{name}.xlsx", header, rows, sheet_title=name)
    return csv_response(f"{name}.csv", header, rows)


def _filters() -> services.Filters:
    try:
        return services.parse_filters(request.args)
    except UserError as error:
        abort(400, description=error.message)


def _label(status: str | None) -> str:
    return STATUS_LABELS[status]() if status in STATUS_LABELS else ""


def _percent_value(value: float | None) -> int | None:
    """A scaled score as a whole per cent: a number, so an XLSX export gets a number cell."""
    return None if value is None else round(value * 100)


def _minutes_value(value: float | None) -> int | None:
    return None if value is None else round(value)


def _percent(value: float | None) -> str:
    return "" if value is None else str(_percent_value(value))


def _minutes(value: float | None) -> str:
    return "" if value is None else str(_minutes_value(value))


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
    individuals = may_see_individuals(current_viewer(), organisation.id)
    module_stats, path_stats = services.company_subject_stats(organisation.id, filters, individuals)
    employees = None
    if individuals:
        employees = services.employee_page(organisation.id, filters, utcnow())
        if employees is None:
            abort(404)
    elif filters.page != 1:
        abort(404)
    modules, paths = services.catalogue_subjects()
    lang = current_language()
    manages = can_manage_org(current_user, organisation.id)
    return render_template(
        "reports/company.html", organisation=organisation, filters=filters, args=filters.query_args(),
        module_stats=module_stats, path_stats=path_stats, employees=employees, lang=lang, manages=manages,
        shared=sharing.is_shared(organisation.id), sharing_form=SharingForm(),
        module_choices=[(m.key, m.label(lang)) for m in modules], path_choices=[(p.key, p.label(lang)) for p in paths],
        status_label=_label, percent=_percent, minutes=_minutes)


def _stats_rows(stats: list[services.SubjectStats], lang: str):
    for row in stats:
        yield [row.subject.key, row.subject.label(lang), row.assigned, row.enrolled, row.in_progress, row.completed,
               row.passed, _percent_value(row.average_score), _minutes_value(row.median_minutes)]


STATS_HEADER = ("key", "title", "assigned", "enrolled", "in_progress", "completed", "passed",
                "average_score_percent", "median_minutes_to_complete")


@bp.route("/company/<int:org_id>/<any(modules, paths):table>.<any(csv, xlsx):fmt>")
@login_required
def company_stats_export(org_id: int, table: str, fmt: str):
    organisation = reported_organisation_or_abort(org_id)
    filters = _filters()
    module_stats, path_stats = services.company_subject_stats(
        organisation.id, filters, may_see_individuals(current_viewer(), organisation.id))
    stats = module_stats if table == "modules" else path_stats
    return _table(fmt, f"{table}-{organisation.org_number}", list(STATS_HEADER),
                  _stats_rows(stats, current_language()))


@bp.route("/company/<int:org_id>/employees.<any(csv, xlsx):fmt>")
@login_required
def employees_export(org_id: int, fmt: str):
    organisation = reported_organisation_or_abort(org_id, individuals=True)
    filters = _filters()
    rows = services.employee_rows(organisation.id, filters, utcnow())
    lang = current_language()
    header = ["name", "email", "kind", "key", "title", "status", "due_date", "overdue", "certificate",
              "certificate_valid_until"]
    return _table(fmt, f"employees-{organisation.org_number}", header, (
        [r.name, r.email, r.subject.kind, r.subject.key, r.subject.label(lang), r.status,
         r.due_date, "yes" if r.overdue else "no", r.certificate_status or "",
         r.certificate_valid_until.date() if r.certificate_valid_until else None] for r in rows))


@bp.route("/company/<int:org_id>/sharing", methods=["POST"])
@login_required
def company_sharing(org_id: int):
    """A company admin shares (or stops sharing) the employees' individual progress with the coordinators."""
    organisation = reported_organisation_or_abort(org_id, individuals=True)
    if not can_manage_org(current_user, organisation.id):
        abort(403)
    form = SharingForm()
    if not form.validate_on_submit():
        abort(400, description=_("Your form expired or was sent from another page. Please try again."))
    share = request.form.get("share")
    if share not in ("yes", "no"):
        abort(400, description=_("Choose whether to share or to stop sharing."))
    sharing.set_shared(organisation.id, share == "yes", current_user.id)
    flash(_("The programme's coordinators now see your employees individually.") if share == "yes"
          else _("The programme's coordinators no longer see your employees individually."), "success")
    return redirect(url_for("reports.company", org_id=organisation.id))


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
        key_headings={"county": _("County"), "kind": _("Company kind"), "module": _("Module"),
                      "month": _("Month of enrolment")},
        args=filters.query_args(), min_count=services.min_count(), is_admin=current_user.has_role("admin"),
        trend=line_chart([row.key for row in figures["month"]], [
            (_("Learners"), [row.learners for row in figures["month"]]),
            (_("Completions"), [row.completions for row in figures["month"]]),
            (_("Certificates"), [row.certificates for row in figures["month"]])],
            title=_("Learners, completions and certificates by month"), number=lambda value: format_decimal(value)),
        learners_export=_learners_export_label(),
        module_choices=[(m.key, m.label(lang)) for m in modules], path_choices=[(p.key, p.label(lang)) for p in paths])


@bp.route("/programme/<any(county, kind, module, month, company):dimension>.<any(csv, xlsx):fmt>")
@role_required("coordinator", "admin")
def programme_export(dimension: str, fmt: str):
    filters = _filters()
    if dimension == "company":
        rows = services.company_figures(filters)
    else:
        rows = services.programme_figures(filters, current_language())[dimension]
    threshold = services.min_count()

    def shown(value: int | None) -> int | str:
        return f"<{threshold}" if value is None else value

    return _table(fmt, f"programme-{dimension}",
                  [dimension, "label", "companies", "learners", "completions", "certificates"],
                  ([row.key, row.label, shown(row.companies), shown(row.learners), shown(row.completions),
                    shown(row.certificates)] for row in rows))


def _learners_export_label() -> str | None:
    scope = individual_scope(current_viewer())
    if scope is None:
        return _("Every learner's progress")
    return _("Progress of the learners of the companies that share it") if scope else None


LEARNER_HEADER = ("name", "email", "company_id", "module", "registration", "status", "enrolled_at", "completed_at",
                  "score_percent", "minutes_to_complete")


@bp.route("/learners.<any(csv, xlsx):fmt>")
@login_required
def learners_export(fmt: str):
    """Every enrolment of every learner the viewer may see individually (admins: everyone; coordinators:
    the companies that share), newest first; streamed, so it starts at once whatever its size."""
    scope = individual_scope(current_viewer())
    if scope is not None and not scope:
        abort(403)
    listing = services.learner_progress(scope, _filters())

    def rows():
        for row in listing.stream():
            yield [row.display_name, row.email, row.organisation_id, row.slug, row.registration, row.status,
                   as_aware(row.enrolled_at), as_aware(row.completed_at), _percent_value(row.score_scaled),
                   _minutes_value(row.minutes_to_complete)]

    return _table(fmt, "learners", LEARNER_HEADER, rows())


# ---------------------------------------------------------------- reporting API tokens


def _token_owner(org_id: int | None):
    """The company whose tokens the page manages (its admins, admins), or None for the admins' global page."""
    if org_id is None:
        if not current_user.has_role("admin"):
            abort(403)
        return None
    organisation = reported_organisation_or_abort(org_id)
    if not can_manage_org(current_user, organisation.id):
        abort(403)
    return organisation


@bp.route("/tokens", methods=["GET", "POST"], endpoint="global_tokens")
@bp.route("/company/<int:org_id>/tokens", methods=["GET", "POST"])
@login_required
def company_tokens(org_id: int | None = None):
    organisation = _token_owner(org_id)
    owner_id = organisation.id if organisation is not None else None
    form = TokenForm()
    created = None
    if form.validate_on_submit():
        try:
            token, text = tokens.create_token(form.name.data, form.scopes.data, owner_id, current_user.id,
                                              form.valid_days.data)
        except UserError as error:
            form.name.errors = [*form.name.errors, error.message]
        else:
            created = {"name": token.name, "token": text}
            form = TokenForm(formdata=None)
    listed = tokens.list_tokens(owner_id, every=organisation is None)
    company_names = tokens.company_names(listed) if organisation is None else {}
    return render_template("reports/tokens.html", organisation=organisation, form=form, created=created,
                           tokens=listed, status=tokens.token_status, scope_labels=scope_labels(),
                           company_names=company_names,
                           revoke_form=RevokeForm()), 200 if created or not form.errors else 400


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"], endpoint="revoke_global_token")
@bp.route("/company/<int:org_id>/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int, org_id: int | None = None):
    organisation = _token_owner(org_id)
    if not RevokeForm().validate_on_submit():
        abort(400, description=_("Your form expired or was sent from another page. Please try again."))
    try:
        tokens.revoke_token(token_id, organisation.id if organisation else None, every=organisation is None)
    except UserError as error:
        abort(error.status, description=error.message)
    flash(_("The token is revoked."), "success")
    if organisation is None:
        return redirect(url_for("reports.global_tokens"))
    return redirect(url_for("reports.company_tokens", org_id=organisation.id))
