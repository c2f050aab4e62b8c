"""The learner's pages: catalogue, module page, player (lessons, quiz, result), My learning.

Every route is listed here; each view loads (404), checks access (the registration is the learner's own),
calls a service and renders. Services raise ``UserError`` with a message for the learner; the handler at
the bottom shows it with its status.
"""
from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..errors import UserError
from ..i18n import current_language
from ..packages import services as packages
from ..packages.models import Module, ModuleVersion
from ..packages.questions import ResponseError
from . import services
from .forms import ActionForm, AttemptForm, CatalogueFilterForm

bp = Blueprint("learning", __name__, template_folder="templates")

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# ---------------------------------------------------------------- loaders


def _published(slug: str) -> tuple[Module, ModuleVersion]:
    module = packages.get_module_by_slug(slug)
    version = packages.latest_published_version(module) if module is not None else None
    if module is None or version is None:
        abort(404)
    return module, version


def _registration(registration: str):
    if not UUID_RE.match(registration):
        raise UserError(_("There is no registration %(id)s. Start the module from the catalogue.",
                          id=registration[:40]), status=404)
    return services.registration_for(current_user, registration)


def _url(state: services.PlayerState, location: str) -> str:
    reg = state.registration.registration
    if location.startswith("lesson:"):
        return url_for("learning.lesson", registration=reg, lesson_id=location[7:])
    if location == "result":
        return url_for("learning.result", registration=reg)
    return url_for("learning.quiz", registration=reg)


# ---------------------------------------------------------------- catalogue


@bp.route("/modules/")
def catalogue():
    paths = packages.list_learning_paths()
    lang = current_language()
    form = CatalogueFilterForm(request.args)
    form.set_choices([(path.key, services.text(path.title, lang)) for path in paths])
    valid = form.validate() if request.args else True
    filters = services.CatalogueFilters(
        query=(form.q.data or "").strip() if not form.q.errors else "",
        language=form.lang.data if not form.lang.errors else "",
        path=form.path.data if not form.path.errors else "",
        duration=form.duration.data if not form.duration.errors else "")
    groups = services.catalogue(filters)
    filtered = any([filters.query, filters.language, filters.path, filters.duration])
    return render_template("learning/catalogue.html", form=form, groups=groups, lang=lang, filtered=filtered,
                           count=sum(len(group.entries) for group in groups)), (200 if valid else 400)


@bp.route("/modules/<slug>")
def module(slug: str):
    module, version = _published(slug)
    lang = current_language()
    registration = progress = None
    if current_user.is_authenticated:
        registration = services.find_registration(current_user, module)
        if registration is not None:
            progress = services.registration_status(registration)
    return render_template("learning/module.html", module=module, version=version, manifest=version.manifest,
                           path=services.path_for(version.manifest, module.slug), lang=lang,
                           module_lang=services.module_language(version, lang), registration=registration,
                           progress=progress, form=ActionForm(), policy=services.retry_policy(version))


@bp.route("/modules/<slug>/enrol", methods=["POST"])
@login_required
def enrol(slug: str):
    module, _version = _published(slug)
    form = ActionForm()
    if not form.validate_on_submit():
        raise UserError(_("Your form expired or was sent from another page. Please try again."))
    registration = services.enrol(current_user, module, current_language())
    return redirect(url_for("learning.player", registration=registration.registration))


# ---------------------------------------------------------------- player


@bp.route("/learn/<registration>")
@login_required
def player(registration: str):
    """Resume: continue exactly where the bookmark says."""
    state = services.open_player(_registration(registration), current_user, current_language())
    return redirect(_url(state, services.resume_location(state, current_user)))


@bp.route("/learn/<registration>/lessons/<lesson_id>")
@login_required
def lesson(registration: str, lesson_id: str):
    state = services.open_player(_registration(registration), current_user, current_language())
    lesson = state.lesson(lesson_id)
    if lesson is None:
        raise UserError(_("This module has no lesson %(id)s.", id=lesson_id[:64]), status=404)
    index = state.lessons.index(lesson)
    page = render_template("learning/lesson.html", state=state, lesson=lesson, index=index,
                           body=services.lesson_html(state.version, lesson_id, state.lang),
                           previous=state.lessons[index - 1] if index else None, form=ActionForm(),
                           manifest=state.version.manifest)
    # After rendering: the bookmark's commit then expires nothing the page still needs.
    services.save_bookmark(state.registration, current_user, f"lesson:{lesson_id}")
    return page


@bp.route("/learn/<registration>/lessons/<lesson_id>/done", methods=["POST"])
@login_required
def finish_lesson(registration: str, lesson_id: str):
    reg = _registration(registration)
    if not ActionForm().validate_on_submit():
        raise UserError(_("Your form expired or was sent from another page. Please try again."))
    state = services.finish_lesson(reg, current_user, lesson_id, current_language())
    # The bookmark moves on with the learner: leaving now resumes at the next step, not the finished lesson.
    location = state.next_location()
    services.save_bookmark(state.registration, current_user, location)
    return redirect(_url(state, location))


@bp.route("/learn/<registration>/quiz")
@login_required
def quiz(registration: str):
    state = services.open_player(_registration(registration), current_user, current_language())
    if state.registration.finished or state.attempts_left == 0:
        return redirect(url_for("learning.result", registration=registration))
    if not state.lessons_done:
        flash(_("Finish the lessons before you take the quiz."), "info")
        return redirect(_url(state, state.next_location()))
    if state.review_pending:
        return redirect(url_for("learning.result", registration=registration))
    wanted = request.args.get("q")
    if wanted is not None:
        question = state.question(wanted)
        if question is None:
            raise UserError(_("This module's quiz has no question %(id)s.", id=wanted[:64]), status=404)
    else:
        question = state.next_question()
    page = _quiz_page(state, question)
    services.save_bookmark(state.registration, current_user, "quiz")
    return page


def _quiz_page(state: services.PlayerState, question: dict | None, error: str | None = None, response=None,
               status: int = 200):
    answer = state.answers.get(question["id"]) if question else None
    if question is None:
        html = None
    elif answer is not None:
        html = services.question_html(state, question, answer)
    elif response is not None:
        html = packages.render_question(state.version, question, state.lang, response=response)
    else:
        html = services.question_html(state, question)
    number = state.questions.index(question) + 1 if question else len(state.questions)
    following = state.next_question()
    return render_template("learning/quiz.html", state=state, question=question, question_html=html,
                           answer=answer, number=number, following=following, error=error,
                           form=AttemptForm(attempt=str(state.attempt)), manifest=state.version.manifest), status


@bp.route("/learn/<registration>/quiz/answers/<question_id>", methods=["POST"])
@login_required
def answer(registration: str, question_id: str):
    reg = _registration(registration)
    form = AttemptForm()
    if not form.validate_on_submit():
        raise UserError(_("Your form expired or was sent from another page. Please try again."))
    try:
        outcome = services.record_answer(reg, current_user, question_id, form.attempt.data, request.form,
                                         current_language())
    except ResponseError as error:
        state = services.player_state(reg, current_language())
        return _quiz_page(state, state.question(question_id), error=str(error.message), status=400)
    if outcome.duplicate:
        flash(_("You had already answered this question; your first answer counts."), "info")
    return redirect(url_for("learning.quiz", registration=registration, q=question_id, _anchor="feedback"))


@bp.route("/learn/<registration>/quiz/grade", methods=["POST"])
@login_required
def grade(registration: str):
    reg = _registration(registration)
    form = AttemptForm()
    if not form.validate_on_submit():
        raise UserError(_("Your form expired or was sent from another page. Please try again."))
    outcome = services.submit_quiz(reg, current_user, form.attempt.data, current_language())
    services.save_bookmark(reg, current_user, "result")
    if outcome.duplicate:
        flash(_("This attempt had already been graded; here is its result."), "info")
    return redirect(url_for("learning.result", registration=registration))


@bp.route("/learn/<registration>/result")
@login_required
def result(registration: str):
    state = services.open_player(_registration(registration), current_user, current_language())
    view = services.result_view(state)
    if view is None:
        return redirect(_url(state, state.next_location()))
    path = services.path_for(state.version.manifest, state.registration.module.slug)
    page = render_template("learning/result.html", state=state, view=view, manifest=state.version.manifest,
                           path=path, form=ActionForm())
    services.save_bookmark(state.registration, current_user, "result")
    return page


@bp.route("/learn/<registration>/leave", methods=["POST"])
@login_required
def leave(registration: str):
    reg = _registration(registration)
    if not ActionForm().validate_on_submit():
        raise UserError(_("Your form expired or was sent from another page. Please try again."))
    if services.leave(reg, current_user, current_language()):
        flash(_("Your place is saved. Continue whenever you like from My learning."), "success")
    return redirect(url_for("learning.my_learning"))


# ---------------------------------------------------------------- my learning


@bp.route("/my-learning")
@login_required
def my_learning():
    active, finished, certificates = services.my_learning(current_user)
    # The certificates feature, when installed, has the issued documents (PDF, verification page).
    issued_url = url_for("certificates.mine") if "certificates.mine" in current_app.view_functions else None
    return render_template("learning/my_learning.html", active=active, finished=finished,
                           certificates=certificates, lang=current_language(), issued_url=issued_url)


@bp.errorhandler(UserError)
def user_error(error: UserError):
    return render_template("learning/error.html", message=error.message, status=error.status), error.status
