"""Swedish (default) and English through Flask-Babel.

The locale is the logged-in user's saved language, else the visitor's choice kept in the session, else the
best match of Accept-Language, else Swedish.
"""
from __future__ import annotations

import os

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user

from .extensions import babel

LANGUAGE_NAMES = {"sv": "Svenska", "en": "English"}


def supported_languages() -> tuple[str, ...]:
    return tuple(current_app.config["LANGUAGES"])


def select_locale() -> str:
    languages = supported_languages()
    if not has_request_context():
        # CLI: the terminal's language (LANG=sv_SE.UTF-8 gives Swedish), else English.
        wanted = (os.environ.get("LMS_LANGUAGE") or os.environ.get("LANG") or "en")[:2].lower()
        return wanted if wanted in languages else "en"
    if current_user and current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def current_language() -> str:
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


def init_i18n(app: Flask) -> None:
    app.config.setdefault(
        "BABEL_TRANSLATION_DIRECTORIES", os.path.join(os.path.dirname(__file__), "translations")
    )
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def language_context():
        return {"current_language": current_language(), "language_names": LANGUAGE_NAMES}
