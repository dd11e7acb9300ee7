"""Reading query strings and bodies, and writing list pages, item links and 201s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from flask import request, url_for
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import BadRequest
from werkzeug.routing import BuildError

from ...services.organising.records import Page
from ..input import load_json


def query_args(schema: Schema) -> dict[str, Any]:
    """Validate the query string with ``schema``: unknown or repeated arguments are a 400."""
    args = request.args
    repeated = {name: ["Give this only once."] for name in args if len(args.getlist(name)) > 1}
    if repeated:
        raise ValidationError(repeated)
    return schema.load(request.args.to_dict())


def body(schema: Schema, *, partial: bool = False) -> dict[str, Any]:
    """Validate the JSON body with ``schema``; 415 if not JSON, 400 if malformed or invalid."""
    try:
        return load_json(schema, partial=partial)
    except RecursionError:  # the json module's answer to absurdly deep nesting
        raise BadRequest("The body is nested too deeply.") from None


def html_url(endpoint: str, fallback: str, **values: Any) -> str:
    """Return the absolute address of an HTML page, or ``fallback`` (a path) if not routed."""
    try:
        return url_for(endpoint, _external=True, **values)
    except BuildError:
        # The page may belong to a blueprint not registered on this app; link where it lives.
        return urljoin(request.url_root, fallback.format(**values).lstrip("/"))


def page_response(
    found: Page, schema: Schema, link: Callable[[Any], str] | None = None
) -> dict[str, Any]:
    """Return the list envelope: items, page, per_page, total and the next page's address."""
    items = []
    for item in found.items:
        dumped = schema.dump(item)
        if link is not None:
            dumped["url"] = link(item)
        items.append(dumped)
    following = None
    if found.has_next:
        args = {**request.args.to_dict(), "page": found.page + 1}
        following = url_for(request.endpoint, _external=True, **(request.view_args or {}), **args)
    return {
        "items": items,
        "page": found.page,
        "per_page": found.per_page,
        "total": found.total,
        "next": following,
    }


def created(document: dict[str, Any], endpoint: str, **values: Any):
    """Answer 201 with the new item and its API address in Location."""
    return document, 201, {"Location": url_for(endpoint, _external=True, **values)}
