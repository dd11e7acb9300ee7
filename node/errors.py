"""One place that turns every failure into a proper response: JSON under /api, pages elsewhere."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from schemas.wording import N_

from .extensions import db
from .services.errors import ServiceError

# For people on error pages (marked here, translated by error.html) and, in English, for the
# API's clients, whose code reads the status, not the words.
MESSAGES = {
    400: N_("The request was not valid."),
    401: N_("You need to log in or present a valid token."),
    403: N_("You are not allowed to do that."),
    404: N_("There is nothing here."),
    405: N_("That method is not allowed here."),
    409: N_("That clashes with the current state."),
    413: N_("The request is too large."),
    415: N_("Send JSON (Content-Type: application/json)."),
    429: N_("Too many attempts. Wait a while and try again."),
    500: N_("Something went wrong on our side."),
}


# Addresses only other servers use (with what lies below them): they answer in JSON, and
# before setup with a JSON 404 rather than a redirect to the first-run form.
ACTIVITYPUB_PATHS = ("/actor", "/inbox", "/outbox", "/followers", "/following", "/ns", "/nodeinfo")
# Monitors' addresses (node/views/operations.py) likewise, and never the first-run form.
OPERATIONS_PATHS = ("/healthz", "/readyz", "/metrics")


def wants_json() -> bool:
    """Say whether this request should get JSON errors (the API and ActivityPub routes)."""
    path = request.path
    if path == "/api" or path.startswith(("/api/", "/.well-known/")) or path in OPERATIONS_PATHS:
        return True
    return any(path == prefix or path.startswith(prefix + "/") for prefix in ACTIVITYPUB_PATHS)


def error_response(status: int, message: str | None = None, fields: dict[str, Any] | None = None):
    """Build the error response in the shape the caller expects."""
    message = message or MESSAGES.get(status, "Error.")
    if wants_json():
        response = jsonify({"error": message, "fields": fields or {}})
        response.status_code = status
        return response
    return render_template(
        "error.html", status=status, message=message, fields=fields or {}
    ), status


def init_app(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):
        db.session.rollback()
        return error_response(exc.status, exc.message, exc.fields)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return error_response(400, "Some fields are not valid.", fields)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return error_response(
            400,
            "This form has expired or was not sent from this site. "
            "Go back, reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        message = exc.description if status == 400 else MESSAGES.get(status, exc.description)
        response = app.make_response(error_response(status, message))
        if status == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        db.session.rollback()
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(500)
