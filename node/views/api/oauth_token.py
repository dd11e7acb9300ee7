"""The OAuth 2 token endpoint: the client-credentials grant, through authlib."""

from __future__ import annotations

import base64

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError
from flask import request

from schemas import api as shapes

from ...oauth import authorization_server, error_body
from ..no_store import no_store
from .access import CLIENT, operation
from .blueprint import bp

FORM = "application/x-www-form-urlencoded"


@bp.post("/oauth/token")
@no_store  # authlib marks its answers too; errors and 415s included here
@operation(
    "Get an access token with client credentials",
    CLIENT,
    body=shapes.TokenRequest,
    response=shapes.TokenOut,
    description="RFC 6749 section 4.4. Send the client id and secret with HTTP Basic "
    "(or as client_id/client_secret fields) and a form-encoded body. The token acts as the "
    "member the client was registered for, with the scopes it registered with that the "
    "member's role still allows. Errors keep RFC 6749's shape: `error` is the OAuth error "
    "code, `error_description` says what went wrong, and `fields` names the parameter.",
    errors=(401, 415),
)
def issue_token():
    if request.mimetype != FORM:
        error = InvalidRequestError(f"Send the form as {FORM}.", status_code=415)
        return authorization_server.handle_response(*error_body(error))
    if not _basic_credentials_readable():
        error = InvalidClientError("The Basic credentials are not base64 UTF-8.", status_code=401)
        return authorization_server.handle_response(*error_body(error))
    try:
        return authorization_server.create_token_response()
    except OAuth2Error as error:  # raised before authlib's own handling, e.g. plain http
        return authorization_server.handle_response(*error_body(error))


def _basic_credentials_readable() -> bool:
    # authlib decodes Basic credentials unguarded; undecodable ones would be a 500 there.
    sent = request.headers.get("Authorization", "")
    if sent[:6].lower() != "basic ":
        return True
    try:
        base64.b64decode(sent[6:].strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
        return False
    return True
