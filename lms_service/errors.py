"""Error pages for people, JSON errors for API clients, and the error type services raise."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/xapi/", "/healthz")


class UserError(Exception):
    """A request that cannot be carried out, with a message meant for the person who made it."""

    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.status = status


def wants_json() -> bool:
    return request.path.startswith(API_PREFIXES) or request.path == "/xapi"


def json_error(status: int, message: str, **extra):
    body = {"error": {"status": status, "message": message, **extra}}
    return jsonify(body), status


def init_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        message = _("Your form expired or was sent from another page. Please try again.")
        if wants_json():
            return json_error(400, message)
        return render_template("errors/error.html", status=400, title=_("Form expired"), message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        if wants_json():
            # webargs (flask-smorest's argument parser) attaches the field-by-field messages of a 422.
            data = getattr(error, "data", None)
            extra = {"errors": data["messages"]} if isinstance(data, dict) and "messages" in data else {}
            message = _("Some arguments are not valid.") if extra else (error.description or error.name)
            response = json_error(status, message, **extra)
            for name in ("WWW-Authenticate", "Allow", "Retry-After"):
                if error.get_response().headers.get(name):
                    response[0].headers[name] = error.get_response().headers[name]
            return response
        titles = {
            400: _("Bad request"),
            401: _("Please log in"),
            403: _("You do not have access to this page"),
            404: _("Page not found"),
            405: _("Method not allowed"),
            413: _("The upload is too large"),
            429: _("Too many attempts"),
        }
        messages = {
            403: _("Your account does not have the role this page needs."),
            404: _("The page you asked for does not exist. Check the address or start from the home page."),
            413: _("The file is larger than the service accepts."),
            429: _("Too many attempts in a short time. Wait a minute and try again."),
        }
        template = "errors/403.html" if status == 403 else "errors/error.html"
        return (
            render_template(template, status=status, title=titles.get(status, error.name),
                            message=messages.get(status, error.description)),
            status,
        )

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return json_error(500, _("An unexpected error occurred. It has been logged."))
        return render_template("errors/error.html", status=500, title=_("Something went wrong"),
                               message=_("An unexpected error occurred. It has been logged; please try again later.")), 500

    app.register_error_handler(InternalServerError, unexpected_error)
