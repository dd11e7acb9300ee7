"""The /api/v1 blueprint and what applies to every route on it: refused tokens answered with
a challenge, token use stored, JSON strings escaped.
"""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6750.errors import InsufficientScopeError
from flask import Blueprint

from ...errors import error_response
from ...oauth import REALM, InactiveMember
from ...services.membership import tokens

bp = Blueprint("api", __name__, url_prefix="/api/v1")

REFUSALS = {
    "missing_authorization": "This needs a bearer token: send Authorization: Bearer <token>.",
    "unsupported_token_type": "Send the token as Authorization: Bearer <token>.",
    "invalid_token": "The token is not valid: it is unknown, expired or revoked.",
}


@bp.errorhandler(OAuth2Error)
def _refused(error: OAuth2Error):
    """Answer a token the route cannot accept: 401 with a challenge, or 403 for too few rights."""
    if isinstance(error, InsufficientScopeError):
        response = error_response(403, error.description)
        challenge = f'Bearer realm="{REALM}", error="insufficient_scope"'
    else:
        message = REFUSALS.get(error.error, "The token is not valid.")
        if isinstance(error, InactiveMember):
            message = error.description
        response = error_response(401, message)
        challenge = f'Bearer realm="{REALM}"'
        if error.error != "missing_authorization":  # RFC 6750 3.1: no error code when none sent
            challenge += f', error="invalid_token", error_description="{message}"'
    response.headers["WWW-Authenticate"] = challenge
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.after_request
def _store_token_use(response):
    """Store when the request's token was used, if the request's own commit did not."""
    tokens.settle_touch()
    return response


@bp.after_request
def _escape_markup(response):
    """Escape <, > and & inside JSON strings, so no body can be sniffed or embedded as HTML."""
    if response.mimetype == "application/json" and not response.direct_passthrough:
        data = response.get_data()
        if b"<" in data or b">" in data or b"&" in data:
            # In JSON text these characters can only occur inside strings, where the
            # \u escapes mean exactly the same thing to every JSON parser.
            data = data.replace(b"&", b"\\u0026").replace(b"<", b"\\u003c")
            response.set_data(data.replace(b">", b"\\u003e"))
    return response
