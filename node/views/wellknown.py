"""Discovery: WebFinger (acct:handle@host → the Group actor), NodeInfo 2.1 and host-meta."""

from __future__ import annotations

import json
from importlib import metadata
from urllib.parse import urlsplit

from flask import Blueprint, Response, request
from markupsafe import escape

from ..activitypub import documents
from ..activitypub.negotiation import ACTIVITY_JSON, json_error
from ..services import feed, groups, stats

bp = Blueprint("wellknown", __name__)

NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/2.1"
PROFILE_PAGE = "http://webfinger.net/rel/profile-page"


def _json(document: dict, content_type: str) -> Response:
    response = Response(json.dumps(document, ensure_ascii=False), content_type=content_type)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _host(base_url: str) -> str:
    return urlsplit(base_url).netloc.lower()


def _parse(resource: str) -> tuple[str, str] | None:
    """Split ``acct:user@host`` into (user, host), or a URL into ("", url); None if neither."""
    if resource[:5].lower() == "acct:":
        user, at, host = resource[5:].lstrip("@").rpartition("@")
        if not at or not user or not host or "@" in user or " " in resource:
            return None
        return user.lower(), host.lower()
    parts = urlsplit(resource)
    if parts.scheme in ("http", "https") and parts.netloc:
        return "", resource
    return None


def _names_group(parsed: tuple[str, str], group) -> bool:
    user, rest = parsed
    if user:
        return user == group.handle.lower() and rest == _host(group.base_url)
    base = group.base_url
    return rest in (documents.actor_id(group), base, f"{base}/")


@bp.get("/.well-known/webfinger")
def webfinger():
    resource = (request.args.get("resource") or "").strip()
    if not resource:
        return json_error(400, "Give a resource to look up.", {"resource": ["Required."]})
    parsed = _parse(resource)
    if parsed is None:
        return json_error(
            400, "The resource is not valid.", {"resource": ["Use acct:handle@host or a URL."]}
        )
    group = groups.current_group()
    if group is None or not _names_group(parsed, group):
        return json_error(404, "Nobody here goes by that name.")
    actor = documents.actor_id(group)
    return _json(
        {
            "subject": f"acct:{group.handle}@{_host(group.base_url)}",
            "aliases": [actor, f"{group.base_url}/"],
            "links": [
                {"rel": "self", "type": ACTIVITY_JSON, "href": actor},
                {"rel": PROFILE_PAGE, "type": "text/html", "href": f"{group.base_url}/"},
            ],
        },
        "application/jrd+json",
    )


@bp.get("/.well-known/host-meta")
def host_meta():
    group = groups.current_group()
    if group is None:
        return json_error(404, "This node is not set up yet.")
    template = escape(f"{group.base_url}/.well-known/webfinger?resource={{uri}}")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" type="application/jrd+json" template="{template}"/>\n'
        "</XRD>\n"
    )
    return Response(body, content_type="application/xrd+xml")


@bp.get("/.well-known/nodeinfo")
def nodeinfo_links():
    group = groups.current_group()
    if group is None:
        return json_error(404, "This node is not set up yet.")
    return _json(
        {"links": [{"rel": NODEINFO_SCHEMA, "href": f"{group.base_url}/nodeinfo/2.1"}]},
        "application/json",
    )


def _version() -> str:
    try:
        return metadata.version("branchline")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "0.0.0"


@bp.get("/nodeinfo/2.1")
def nodeinfo():
    group = groups.current_group()
    if group is None:
        return json_error(404, "This node is not set up yet.")
    counts = stats.public_counts()
    return _json(
        {
            "version": "2.1",
            "software": {"name": "branchline", "version": _version()},
            "protocols": ["activitypub"],
            "services": {"inbound": [], "outbound": []},
            "openRegistrations": False,
            # One account federates: the group. How many members it has is its own business.
            "usage": {
                "users": {"total": 1, "activeMonth": 1, "activeHalfyear": 1},
                "localPosts": counts["posts"],
            },
            "metadata": {
                "nodeName": group.name,
                "groupName": group.name,
                "groupHandle": group.handle,
                "area": group.area,
                "feedHead": feed.head_seq(),
                "publicItems": counts,
            },
        },
        f'application/json; profile="{NODEINFO_SCHEMA}#"',
    )
