"""The group's public profile."""

from __future__ import annotations

from schemas import api as shapes
from schemas.group import GroupIn, GroupOut

from ...services import groups, profile
from ...services.errors import NotFound
from .access import PUBLIC, operation, token
from .blueprint import bp
from .exchange import body, html_url, query_args


def _group():
    found = groups.current_group()
    if found is None:
        raise NotFound("This node is not set up yet.")
    return found


def _dump(found) -> dict:
    return {**GroupOut().dump(found), "url": html_url("pages.home", "/")}


@bp.get("/group")
@operation("The group's profile", PUBLIC, query=shapes.NoQuery, response=shapes.GroupItem)
def get_group():
    query_args(shapes.NoQuery())
    return _dump(_group())


@bp.patch("/group")
@operation(
    "Change the group's profile",
    token("group", "organiser"),
    body=GroupIn,
    response=shapes.GroupItem,
    description="Send only the fields to change.",
)
def update_group():
    found = _group()
    data = body(GroupIn(), partial=True)
    return _dump(profile.update(found, data))
