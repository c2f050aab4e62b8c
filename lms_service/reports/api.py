"""The reporting API (JSON, read-only): aggregates, company figures, learner progress, completions and
certificates, documented as OpenAPI 3 at /api/openapi.json and browsable at /api/docs.

A request authenticates with ``Authorization: Bearer <token>`` (tokens.py) or, for people trying the API
in a browser, with their signed-in session; either way it becomes a ``Viewer`` and the rules of access.py
apply exactly as on the pages. Query strings pass marshmallow schemas that refuse unknown arguments, so a
mistyped filter is a 422 naming it, never a silently wider answer.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import abort, current_app, g, render_template, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..extensions import api
from ..i18n import current_language
from ..timeutil import utcnow
from . import services
from .access import (
    Viewer,
    current_viewer,
    individual_scope,
    may_see_individuals,
    may_see_programme,
    reported_organisation_or_abort,
)
from .tokens import viewer_for_token

blp = Blueprint("reporting", __name__, url_prefix="/api/reports",
                description="Completion statistics for company admins, the programme and external systems. "
                            "Individual rows need a token with the reports:learners scope; the raw data "
                            "stays available through the xAPI statements API under /xapi/.")

MAX_PAGE_SIZE = 500


# ---------------------------------------------------------------- authentication


def api_viewer() -> Viewer:
    """The Viewer of this request: its bearer token, else the signed-in person; 401 without either."""
    if "reports_viewer" in g:
        return g.reports_viewer
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _space, token = header.partition(" ")
        viewer = viewer_for_token(token.strip()) if scheme.lower() == "bearer" else None
        if viewer is None:
            g.reports_token_error = "invalid_token"
            _unauthorised(_("The bearer token is unknown, revoked or expired."))
    else:
        viewer = current_viewer()
        if not (viewer.programme or viewer.organisation_id is not None):
            _unauthorised(_("Send a reporting API token: Authorization: Bearer <token>."))
    g.reports_viewer = viewer
    return viewer


@blp.before_request
def _authenticate() -> None:
    # Before the arguments are parsed: an unauthenticated request learns nothing, not even what is valid.
    api_viewer()


def _unauthorised(message: str) -> None:
    abort(401, description=message)


@blp.after_request
def _no_store(response):
    # Reports are personal data: no shared cache may keep them. The 401 names the scheme.
    response.headers["Cache-Control"] = "no-store"
    if response.status_code == 401:
        # RFC 6750: name the error when a token was sent and refused.
        error = g.get("reports_token_error")
        response.headers["WWW-Authenticate"] = 'Bearer realm="reports"' + (f', error="{error}"' if error else "")
    return response


# ---------------------------------------------------------------- arguments


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class FilterArgs(_Strict):
    from_ = fields.Date(data_key="from", metadata={"description": "First day of the period (YYYY-MM-DD), inclusive."})
    to = fields.Date(metadata={"description": "Last day of the period (YYYY-MM-DD), inclusive."})
    module = fields.String(validate=validate.Length(1, 64), metadata={"description": "A module slug."})
    path = fields.String(validate=validate.Length(1, 64), metadata={"description": "A learning path key."})

    @validates_schema
    def _check(self, data: dict, **_kwargs: Any) -> None:
        for key, name in (("from_", "from"), ("to", "to")):
            if data.get(key):
                try:
                    services.check_date(data[key], name)
                except services.UserError as error:
                    raise ValidationError(error.message, name) from None
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ValidationError(_("The period starts after it ends."), "from")
        try:
            services.check_subjects(data.get("module"), data.get("path"))
        except services.UserError as error:
            raise ValidationError(error.message, error.field or "module") from None


class PageArgs(FilterArgs):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))
    page_size = fields.Integer(load_default=100, validate=validate.Range(1, MAX_PAGE_SIZE))
    company = fields.Integer(validate=validate.Range(1, 2**31 - 1),
                             metadata={"description": "Only this company's learners (its id)."})


class ProgressArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(services.STATUSES))


class CertificateArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(("valid", "expired", "revoked")))


class AggregateArgs(FilterArgs):
    pass


def _filters(args: dict) -> services.Filters:
    return services.Filters(args.get("from_"), args.get("to"), args.get("module"), args.get("path"))


# ---------------------------------------------------------------- response schemas


class ApiError(Schema):
    """The body of every error answer (errors.json_error): a message, and per-argument messages on a 422."""

    error = fields.Dict(metadata={"description": "{status, message, errors?}: errors maps each refused "
                                                 "query argument to its messages."})


def _documented_errors(view):
    """Name the error answers every endpoint can give in the OpenAPI document."""
    for status, description in ((401, "No token, or an unknown, revoked or expired one."),
                                (403, "The token or account may not see this."),
                                (404, "No such company, or a page beyond the last.")):
        view = blp.alt_response(status, schema=ApiError, description=description)(view)
    return view



class AggregateRow(Schema):
    key = fields.String(metadata={"description": "County code, company kind, module slug, YYYY-MM or company id."})
    label = fields.String()
    companies = fields.Integer(allow_none=True)
    learners = fields.Integer(allow_none=True)
    completions = fields.Integer(allow_none=True)
    certificates = fields.Integer(allow_none=True)
    suppressed = fields.List(fields.String(), metadata={
        "description": "Figures hidden because they are below min_count (shown as null)."})


class Aggregates(Schema):
    dimension = fields.String()
    min_count = fields.Integer(metadata={"description": "Counts from 1 to min_count - 1 are hidden (null)."})
    items = fields.List(fields.Nested(AggregateRow))


class SubjectFigures(Schema):
    kind = fields.String(metadata={"description": "module or path"})
    key = fields.String()
    title = fields.String()
    assigned = fields.Integer()
    enrolled = fields.Integer()
    in_progress = fields.Integer()
    completed = fields.Integer()
    passed = fields.Integer()
    average_score = fields.Float(allow_none=True, metadata={"description": "0 to 1"})
    median_minutes_to_complete = fields.Float(allow_none=True)


class CompanyFigures(Schema):
    company = fields.Dict()
    modules = fields.List(fields.Nested(SubjectFigures))
    paths = fields.List(fields.Nested(SubjectFigures))


class Learner(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()
    company = fields.Integer()


class ProgressRow(Schema):
    learner = fields.Nested(Learner)
    module = fields.String(metadata={"description": "Module slug"})
    registration = fields.String()
    status = fields.String()
    enrolled_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    score = fields.Float(allow_none=True, metadata={"description": "Scaled score 0 to 1"})
    minutes_to_complete = fields.Float(allow_none=True)


class CertificateRow(Schema):
    id = fields.String(metadata={"description": "The public id, as in /verify/<id>"})
    learner = fields.Nested(Learner)
    subject_kind = fields.String()
    subject = fields.String(metadata={"description": "Module slug or path key"})
    title = fields.String()
    earned_at = fields.DateTime()
    valid_until = fields.DateTime(allow_none=True)
    status = fields.String()
    verify_url = fields.String()


def _page_schema(name: str, item: type[Schema]) -> type[Schema]:
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item)), "page": fields.Integer(), "page_size": fields.Integer(),
        "total": fields.Integer(), "pages": fields.Integer()}, name=name)


ProgressPage = _page_schema("ProgressPage", ProgressRow)
CertificatePage = _page_schema("CertificatePage", CertificateRow)


# ---------------------------------------------------------------- endpoints


def _scope_for(viewer: Viewer, company: int | None) -> set[int] | None:
    """The companies whose individuals this request reads: 403 when the viewer may see none of them."""
    scope = individual_scope(viewer)
    if company is not None:
        reported_organisation_or_abort(company, individuals=True, viewer=viewer)
        return {company}
    if scope is not None and not scope:
        abort(403, description=_("This token or account may not see individual learners."))
    return scope


def _paged(total: int, page: int, page_size: int) -> int:
    pages = max(1, -(-total // page_size))
    if page > pages:
        abort(404, description=_("Page %(page)s is beyond the last page, %(pages)s.", page=page, pages=pages))
    return pages


@blp.route("/aggregates/<any(county, kind, module, month, company):dimension>")
class AggregatesView(MethodView):
    @blp.arguments(AggregateArgs, location="query", unknown=RAISE)
    @blp.response(200, Aggregates)
    @_documented_errors
    def get(self, args: dict, dimension: str):
        """Companies reached, learners, completions and certificates per county, company kind, module,
        month of enrolment or company. Programme-wide: global tokens and coordinators only; small counts
        are hidden."""
        viewer = api_viewer()
        if not may_see_programme(viewer):
            abort(403, description=_("Programme figures need a global token or a coordinator's account."))
        filters = _filters(args)
        lang = current_language()
        if dimension == "company":
            rows = services.company_figures(filters)
        else:
            rows = services.programme_figures(filters, lang)[dimension]
        names = ("companies", "learners", "completions", "certificates")
        return {"dimension": dimension, "min_count": services.min_count(), "items": [
            {"key": row.key, "label": row.label, **{n: getattr(row, n) for n in names},
             "suppressed": [n for n in names if getattr(row, n) is None]} for row in rows]}


@blp.route("/companies/<int:org_id>")
class CompanyView(MethodView):
    @blp.arguments(AggregateArgs, location="query", unknown=RAISE)
    @blp.response(200, CompanyFigures)
    @_documented_errors
    def get(self, args: dict, org_id: int):
        """One company's figures per module and learning path (its own token, or the programme)."""
        viewer = api_viewer()
        organisation = reported_organisation_or_abort(org_id, viewer=viewer)
        modules, paths = services.company_subject_stats(organisation.id, _filters(args),
                                                        may_see_individuals(viewer, organisation.id))
        lang = current_language()

        def figures(stats: services.SubjectStats) -> dict:
            return {"kind": stats.subject.kind, "key": stats.subject.key, "title": stats.subject.label(lang),
                    "assigned": stats.assigned, "enrolled": stats.enrolled, "in_progress": stats.in_progress,
                    "completed": stats.completed, "passed": stats.passed, "average_score": stats.average_score,
                    "median_minutes_to_complete": stats.median_minutes}

        return {"company": {"id": organisation.id, "name": organisation.name, "org_number": organisation.org_number,
                            "county": organisation.county, "kind": organisation.kind},
                "modules": [figures(s) for s in modules], "paths": [figures(s) for s in paths]}


def _page_of(listing: services.Listing, args: dict, item) -> dict:
    """The requested page of a listing with its counts; 404 beyond the last page."""
    total = listing.total()
    pages = _paged(total, args["page"], args["page_size"])
    return {"items": [item(row) for row in listing.page(args["page"], args["page_size"])], "page": args["page"],
            "page_size": args["page_size"], "total": total, "pages": pages}


def _progress_page(args: dict, done_only: bool) -> dict:
    scope = _scope_for(api_viewer(), args.get("company"))
    listing = services.learner_progress(scope, _filters(args), status=args.get("status"), done_only=done_only)
    return _page_of(listing, args, services.progress_item)


@blp.route("/progress")
class ProgressView(MethodView):
    @blp.arguments(ProgressArgs, location="query", unknown=RAISE)
    @blp.response(200, ProgressPage)
    @_documented_errors
    def get(self, args: dict):
        """Every learner's status per module they enrolled in (in the period of enrolment), newest first."""
        return _progress_page(args, done_only=False)


@blp.route("/completions")
class CompletionsView(MethodView):
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, ProgressPage)
    @_documented_errors
    def get(self, args: dict):
        """Completed and passed modules; the period selects the day of completion."""
        return _progress_page(args, done_only=True)


@blp.route("/certificates")
class CertificatesView(MethodView):
    @blp.arguments(CertificateArgs, location="query", unknown=RAISE)
    @blp.response(200, CertificatePage)
    @_documented_errors
    def get(self, args: dict):
        """Certificates earned in the period (valid, expired or revoked), newest first."""
        scope = _scope_for(api_viewer(), args.get("company"))
        now = utcnow()
        listing = services.certificates_listing(scope, _filters(args), args.get("status"), now)
        lang, keys = current_language(), services.subject_keys()
        return _page_of(listing, args, lambda row: services.certificate_item(row, lang, now, keys))


# ---------------------------------------------------------------- browsable documentation

docs_bp = FlaskBlueprint("api_docs", __name__, template_folder="templates")


@docs_bp.route("/api/docs")
def docs():
    """The OpenAPI document as a readable page: no JavaScript, the same document as /api/openapi.json."""
    spec = api.spec.to_dict()
    schemas = spec.get("components", {}).get("schemas", {})
    return render_template("reports/api_docs.html", spec=spec, schemas=schemas,
                           base_url=current_app.config.get("BASE_URL", "").rstrip("/"))


def init_api(app) -> None:
    """Bind flask-smorest to the app (spec at /api/openapi.json) and register the reporting blueprint."""
    app.config.setdefault("API_TITLE", "lms_service reporting API")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "description": "A reporting API token (lmsr_…)."}}},
        "security": [{"bearer": []}]})
    api.ERROR_SCHEMA = ApiError
    api.init_app(app)
    api.register_blueprint(blp)
    app.register_blueprint(docs_bp)
