"""Build the API's OpenAPI 3 document from the routes themselves and their marshmallow schemas.

Every ``api.*`` rule in the app's URL map is described: what the route declared with
``views.api.access.operation`` gives its summary, access, query, body and response.
A route without a declaration still appears (with what the URL map knows), so the
document can never silently leave a route out.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Flask, request, url_for
from marshmallow import Schema

from schemas.api import ErrorOut

SCOPES = {
    "read": "See members-only items.",
    "rsvp": "Answer events for yourself.",
    "vote": "Vote in ballots, for yourself.",
    "mail": "See the messages sent to you and choose which kinds of mail you get.",
    "write": "Create, change and delete campaigns, events, candidates and posts (organisers).",
    "members": "See and manage members and who answered events (organisers).",
    "group": "Change the group's profile (organisers).",
    "announce": "Draft, send and follow announcements to members (organisers).",
}

ERRORS = {
    400: "The request was not valid; `fields` names each field at fault.",
    401: "No token, or a token that is unknown, expired, revoked or whose member is inactive.",
    403: "The token lacks the scope, or its member the role, this needs.",
    404: "Nothing here, or nothing this caller may see.",
    409: "That clashes with the current state (a full event, a taken e-mail address, ...).",
    413: "The body is larger than the node accepts (1 MiB by default).",
    415: "The body is not JSON (send Content-Type: application/json).",
    422: "The Idempotency-Key was used before for a different request.",
    503: "The node cannot store data right now (full disk, database down): retry after "
    "Retry-After seconds; nothing was saved.",
}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Retry this write with the same key and request to get the first answer "
    "again (for 24 h) instead of writing twice.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}

DESCRIPTION = """\
The JSON API of a Branchline node: one local group's campaigns, events, candidates,
news posts and members.

Lists answer `{"items": [...], "page", "per_page", "total", "next"}`; `page` and
`per_page` (at most 100) are query arguments, and unknown query arguments are refused.
Every error answers `{"error": "...", "fields": {...}}`.

Authenticate with a bearer token: a personal token (`branchline token create`) or one
from the client-credentials grant at `/api/v1/oauth/token` (`branchline client create`).
A token may do what its scopes allow **and** its member's current role allows, while the
member is active.
"""

PARAMETER = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>[^<>]+)>")
TYPES = {"int": "integer", "float": "number"}  # werkzeug converter -> JSON schema type


def _schema_name(schema: type[Schema] | Schema) -> str:
    name = resolve_schema_cls(schema).__name__
    if not isinstance(schema, type) and schema.partial:
        name += "Patch"  # the same schema for PATCH, with nothing required
    return name


def build(app: Flask) -> dict[str, Any]:
    """Return the OpenAPI 3 document for every route of the ``api`` blueprint."""
    spec = APISpec(
        title="Branchline node API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
        info={"description": DESCRIPTION},
        servers=[{"url": request.url_root.rstrip("/")}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme(
        "oauth2",
        {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": url_for("api.issue_token", _external=True),
                    "scopes": SCOPES,
                }
            },
        },
    )
    spec.components.security_scheme("client", {"type": "http", "scheme": "basic"})
    spec.components.schema("Error", schema=ErrorOut)
    for status, text in ERRORS.items():
        spec.components.response(
            f"E{status}",
            {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        )

    paths: dict[str, dict[str, Any]] = {}
    parameters: dict[str, list[dict[str, Any]]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("api."):
            continue
        path = PARAMETER.sub(r"{\g<name>}", rule.rule)
        parameters[path] = [
            {
                "name": found["name"],
                "in": "path",
                "required": True,
                "schema": {"type": TYPES.get((found["converter"] or "").split("(")[0], "string")},
            }
            for found in PARAMETER.finditer(rule.rule)
        ]
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            described = _operation(rule.endpoint, view, method)
            described["tags"] = [rule.rule.removeprefix("/api/v1/").split("/")[0]]
            paths.setdefault(path, {})[method.lower()] = described
    for path, operations in paths.items():
        spec.path(path=path, operations=operations, parameters=parameters[path] or None)
    return spec.to_dict()


def _operation(endpoint: str, view: Any, method: str) -> dict[str, Any]:
    record = getattr(view, "operation", None)
    if record is None:
        doc = (view.__doc__ or endpoint).strip().splitlines()[0]
        ok = {"200": {"description": "OK"}}
        return {"operationId": endpoint, "summary": doc, "responses": ok}
    access = record.access
    result: dict[str, Any] = {
        "operationId": endpoint.removeprefix("api."),
        "summary": record.summary,
    }
    notes = [record.description.strip()] if record.description.strip() else []
    errors = set(record.errors)
    if access.kind == "token":
        needs = f"scope `{access.scope}`" if access.scope else "any valid token"
        if access.role:
            needs += f" and the {access.role} role"
        notes.append(f"Needs a bearer token: {needs}.")
        result["security"] = [{"bearer": []}, {"oauth2": [access.scope] if access.scope else []}]
        errors |= {401, 403}
    elif access.kind == "public":
        result["security"] = [{}, {"bearer": []}, {"oauth2": ["read"]}]
        errors.add(401)  # only when a token is sent and is not valid
    else:
        result["security"] = [{"client": []}, {}]
    if notes:
        result["description"] = " ".join(notes)
    if record.query is not None:
        result["parameters"] = [{"in": "query", "schema": record.query}]
        errors.add(400)
    if access.kind == "token" and method in ("POST", "PUT", "PATCH", "DELETE"):
        result.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
        errors |= {400, 409, 422}
    errors.add(503)
    if record.body is not None:
        media = "application/json"
        if access.kind == "client":
            media = "application/x-www-form-urlencoded"  # RFC 6749's token request
        schema: Any = record.body(partial=True) if method == "PATCH" else record.body
        result["requestBody"] = {"required": True, "content": {media: {"schema": schema}}}
        errors |= {400, 413, 415}
    success: dict[str, Any] = {"description": "Done." if record.status == 204 else "OK."}
    if record.response is not None and record.status != 204:
        success["content"] = {"application/json": {"schema": record.response}}
    if record.status == 201:
        success["headers"] = {
            "Location": {"description": "The new item's address.", "schema": {"type": "string"}}
        }
    responses: dict[str, Any] = {str(record.status): success}
    for status in sorted(errors):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    result["responses"] = responses
    return result
