"""OAuth 2 through authlib: the client-credentials token endpoint and bearer-token checks.

Both objects are module-level and hold no per-app state: settings such as the token
lifetime are read from ``current_app`` when a token is issued, so one pair serves
every app the factory builds (tests build many).
"""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.integrations.flask_oauth2.requests import FlaskJsonRequest
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidScopeError, UnauthorizedClientError
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc6750.errors import InsufficientScopeError, InvalidTokenError
from flask import current_app, g, request

from schemas import vocab

from .models import ApiToken, Member
from .services.membership import tokens

REALM = "branchline"


class InactiveMember(InvalidTokenError):
    """The token is fine but the member it acts for is suspended or has left."""

    description = "The member this token acts for is not active."


class RoleTooLow(InsufficientScopeError):
    """The token holds the scope, but its member's role does not allow the action."""

    def __init__(self, role: str) -> None:
        super().__init__(description=f"Only members with the {role} role can do that.")


class MemberTokenValidator(BearerTokenValidator):
    """Accept a token only while it is live, its member is active and it holds the scope."""

    def authenticate_token(self, token_string: str) -> ApiToken | None:
        return tokens.find(token_string)

    def validate_token(self, token, scopes, request, role: str | None = None):
        if token is None or token.is_expired() or token.is_revoked():
            raise InvalidTokenError(realm=self.realm)
        member: Member | None = token.member
        if member is None or not member.is_active:
            raise InactiveMember(realm=self.realm)
        # A token's rights are its scopes AND what its member's role allows today:
        # an organiser demoted to member loses 'write' on every token at once.
        held = tokens.effective_scopes(token)
        missing = [s for s in scopes or () if s not in held]
        if missing:
            raise InsufficientScopeError(
                description=f"This token lacks the scope: {', '.join(missing)}."
            )
        if role is not None and not member.has_role(role):
            raise RoleTooLow(role)


require_token = ResourceProtector()
require_token.register_token_validator(MemberTokenValidator(realm=REALM))


def token_for_request(scopes: list[str] | None = None, role: str | None = None) -> ApiToken:
    """Check this request's bearer token; raise an authlib OAuth2Error when it falls short."""
    # validate_request rather than acquire_token: the latter wraps every keyword in a list.
    token = require_token.validate_request(scopes or [], FlaskJsonRequest(request), role=role)
    tokens.touch(token)  # stored with the request's commit, or by the API's after_request
    g.api_token = token
    return token


# The token endpoint ---------------------------------------------------------------


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """Client credentials for an ApiClient, which acts as its (still active) member."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self):
        super().validate_token_request()
        client = self.request.client
        if not client.member.is_active:
            raise UnauthorizedClientError("The member this client acts for is not active.")
        if not tokens.grantable_scope(client, self.request.payload.scope):
            raise InvalidScopeError("None of the requested scopes can be granted to this client.")


def _expires_in(client, grant_type: str) -> int:
    return int(current_app.config["TOKEN_LIFETIME_SECONDS"])


def _generate_token(**_kwargs) -> str:
    return tokens.new_token_value()


class ScopeNarrowingGenerator(BearerTokenGenerator):
    """Issue only the scopes the client registered with and its member's role still allows."""

    @staticmethod
    def get_allowed_scope(client, scope):
        return tokens.grantable_scope(client, scope)


def _save_token(token: dict, request) -> None:
    tokens.store_issued(request.client, token["access_token"], token["scope"], token["expires_in"])


# Token-endpoint errors keep RFC 6749's shape (``error`` is the OAuth code, as client
# libraries expect) and add our ``fields``, naming the parameter at fault where there is one.
FIELD_AT_FAULT = {
    "invalid_scope": "scope",
    "unsupported_grant_type": "grant_type",
    "invalid_client": "client_id",
    "unauthorized_client": "client_id",
}


class TokenServer(AuthorizationServer):
    def handle_error_response(self, request, error):
        return self.handle_response(*error_body(error))


def error_body(error) -> tuple[int, dict, list]:
    """Turn an authlib error at the token endpoint into our body, keeping its headers."""
    status, body, headers = error()
    field = FIELD_AT_FAULT.get(body.get("error"))
    message = body.get("error_description") or body.get("error")
    body["fields"] = {field: [message]} if field else {}
    return status, body, headers


authorization_server = TokenServer(query_client=tokens.client_by_id, save_token=_save_token)
authorization_server.scopes_supported = list(vocab.TOKEN_SCOPES)
authorization_server.register_token_generator(
    "default", ScopeNarrowingGenerator(_generate_token, None, _expires_in)
)
authorization_server.register_grant(ClientCredentialsGrant)
