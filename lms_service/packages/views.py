"""Media for learners, and the authoring pages: upload → report → preview → publish; version history.

Views load (404), check access (role_required), call a service and render; nothing else.
"""
from __future__ import annotations

import re

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..accounts.access import role_required
from . import services
from .forms import ActionForm, UploadForm
from .models import Module, ModuleVersion

bp = Blueprint("packages", __name__, template_folder="templates")

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
AUTHORS = ("author", "admin")


# ---------------------------------------------------------------- media (public, content-addressed)


@bp.route("/media/modules/<sha256>.<ext>")
def media(sha256: str, ext: str) -> Response:
    if not SHA256_RE.match(sha256):
        abort(404)
    blob = services.get_media(sha256)
    if blob is None:
        abort(404)
    response = Response(blob.data, mimetype=blob.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The content never changes under its hash; an SVG is shown as an image, and if opened on its own
    # nothing in it may run or load (the validator also refuses scripts; this is the second lock).
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["Content-Disposition"] = "inline"
    if blob.content_type == "image/svg+xml":
        response.headers["Content-Security-Policy"] = SVG_CSP
    else:
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


# ---------------------------------------------------------------- loaders


def _module(slug: str) -> Module:
    module = services.get_module_by_slug(slug)
    if module is None:
        abort(404)
    return module


def _version(slug: str, version: str) -> ModuleVersion:
    found = services.get_version(_module(slug), version)
    if found is None:
        abort(404)
    return found


# ---------------------------------------------------------------- authoring


@bp.route("/authoring/modules/", methods=["GET", "POST"])
@role_required(*AUTHORS)
def index():
    form = UploadForm()
    report = None
    status = 200
    if form.validate_on_submit():
        upload = form.package.data
        limit = int(current_app.config["MODULE_UPLOAD_MAX_BYTES"])
        data = upload.read(limit + 1)
        report, package = services.validate_upload(data, upload.filename or "upload.zip")
        if package is not None:
            from flask_login import current_user

            try:
                result = services.import_package(package, user=current_user, publish=False)
            except services.ImportRefused as exc:
                flash(exc.message, "error")
                status = 409
            else:
                if result.changed:
                    flash(_("Version %(version)s of %(slug)s is uploaded as a draft. Preview it, then publish it.",
                            version=result.version, slug=result.slug), "success")
                else:
                    flash(_("Version %(version)s of %(slug)s was already uploaded with exactly this content; "
                            "nothing changed.", version=result.version, slug=result.slug), "success")
                return redirect(url_for("packages.module", slug=result.slug))
        else:
            status = 422
    elif request.method == "POST":
        status = 400
    return render_template("packages/index.html", form=form, report=report,
                           modules=[(m, services.list_versions(m)) for m in services.list_modules()]), status


@bp.route("/authoring/modules/<slug>/")
@role_required(*AUTHORS)
def module(slug: str):
    found = _module(slug)
    versions = services.list_versions(found)
    history = [(version, services.diff_versions(versions[index + 1] if index + 1 < len(versions) else None, version))
               for index, version in enumerate(versions)]
    return render_template("packages/module.html", module=found, history=history, action_form=ActionForm(),
                           latest=services.latest_published_version(found))


@bp.route("/authoring/modules/<slug>/<version>/preview")
@role_required(*AUTHORS)
def preview(slug: str, version: str):
    found = _version(slug, version)
    lang = request.args.get("lang", found.languages[0])
    if lang not in found.languages:
        abort(404)
    lessons = [(lesson, services.render_lesson(found, lesson["id"], lang)) for lesson in found.manifest["lessons"]]
    questions = [services.render_question(found, question, lang) for question in found.quiz["questions"]]
    return render_template("packages/preview.html", version=found, module=found.module, lang=lang,
                           lessons=lessons, questions=questions)


@bp.route("/authoring/modules/<slug>/<version>/publish", methods=["POST"])
@role_required(*AUTHORS)
def publish(slug: str, version: str):
    found = _version(slug, version)
    if ActionForm().validate_on_submit():
        services.set_published(found, True)
        flash(_("Version %(version)s is published: new learners start on the highest published version.",
                version=found.version), "success")
    return redirect(url_for("packages.module", slug=slug))


@bp.route("/authoring/modules/<slug>/<version>/unpublish", methods=["POST"])
@role_required(*AUTHORS)
def unpublish(slug: str, version: str):
    found = _version(slug, version)
    if ActionForm().validate_on_submit():
        services.set_published(found, False)
        flash(_("Version %(version)s is no longer published. Learners who started it can finish it.",
                version=found.version), "success")
    return redirect(url_for("packages.module", slug=slug))


@bp.route("/authoring/modules/<slug>/<version>/export")
@role_required(*AUTHORS)
def export(slug: str, version: str) -> Response:
    found = _version(slug, version)
    response = Response(services.export_version(found), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-{found.version}.zip"'
    return response
