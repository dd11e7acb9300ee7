"""Content negotiation: which requests get ActivityStreams JSON instead of a page."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request

ACTIVITY_JSON = "application/activity+json"
LD_JSON = "application/ld+json"
ACTIVITY_TYPES = (ACTIVITY_JSON, LD_JSON)


def _qualities() -> tuple[float, float]:
    """Return the best quality the client gives ActivityStreams and, by name, HTML."""
    activity = html = 0.0
    for value, quality in request.accept_mimetypes:
        # Compare the bare type: ld+json comes with a profile parameter that Werkzeug's
        # own matching would hold against a plain offer.
        base = value.split(";", 1)[0].strip().lower()
        if base in ACTIVITY_TYPES:
            activity = max(activity, quality)
        elif base == "text/html":
            html = max(html, quality)
    return activity, html


def wants_activity_json() -> bool:
    """Tell whether the client asks for ActivityStreams JSON at least as much as for HTML."""
    activity, html = _qualities()
    # A browser never names an ActivityStreams type, so "*/*" still gets the page.
    return activity > 0 and activity >= html


def asks_for_html() -> bool:
    """Tell whether a browser asked for a page: it names text/html and prefers it."""
    activity, html = _qualities()
    return html > 0 and html > activity


def activity_response(document: Any, status: int = 200) -> Response:
    """Serve ``document`` as ActivityStreams JSON."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return raw_activity_response(body, status)


def raw_activity_response(body: str, status: int = 200) -> Response:
    """Serve already-serialised JSON text as ActivityStreams, byte for byte."""
    response = Response(body, status=status, content_type=ACTIVITY_JSON)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Accept")
    return response


def json_error(status: int, message: str, fields: dict[str, Any] | None = None) -> Response:
    """Answer with the one JSON error shape."""
    body = json.dumps({"error": message, "fields": fields or {}})
    return Response(body, status=status, content_type="application/json")
