"""Campaigns, events, candidates and news posts: list, get, create, change, delete.

The four work the same way, so one table describes them and one set of thin views
serves them all: parse with the schema, call the resource's service, dump with the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from flask import Blueprint
from marshmallow import Schema

from schemas import api as shapes
from schemas.content import CampaignIn, CandidateIn, EventIn, PostIn

from ...services.organising import campaigns, candidates, events, posts
from .access import PUBLIC, operation, token, viewer
from .exchange import body, created, html_url, page_response, query_args

WRITE = token("write", "organiser")
# Ids beyond a 32-bit INTEGER column are simply not found, instead of overflowing the driver.
ID = "int(max=2147483647)"


@dataclass(frozen=True)
class Resource:
    """One kind of content and everything its routes need to know about it."""

    plural: str  # path segment and endpoint suffix: /campaigns, list_campaigns
    singular: str  # endpoint suffix for one item: get_campaign
    service: ModuleType  # listing(viewer, page, per_page, **filters), get, create, update, delete
    schema_in: type[Schema]
    schema_out: type[Schema]
    item: type[Schema]  # schema_out plus its page's url, for the OpenAPI document
    query: type[Schema]
    page_endpoint: str
    page_path: str  # where the page lives if its blueprint is not registered
    notes: str = ""

    @property
    def a(self) -> str:
        return ("an " if self.singular[0] in "aeiou" else "a ") + self.singular

    def link(self, found: Any) -> str:
        return html_url(self.page_endpoint, self.page_path, item_id=found.id)

    def dump(self, found: Any) -> dict[str, Any]:
        return {**self.schema_out().dump(found), "url": self.link(found)}


RESOURCES = (
    Resource(
        "campaigns",
        "campaign",
        campaigns,
        CampaignIn,
        shapes.CampaignOut,
        shapes.CampaignItem,
        shapes.CampaignQuery,
        "pages.campaign",
        "/campaigns/{item_id}",
        "Active campaigns first, then newest.",
    ),
    Resource(
        "events",
        "event",
        events,
        EventIn,
        shapes.EventOut,
        shapes.EventItem,
        shapes.EventQuery,
        "pages.event",
        "/events/{item_id}",
        "when=upcoming lists soonest first; when=past and no filter list latest first. "
        "A start or end without a UTC offset is read in the event's time zone.",
    ),
    Resource(
        "candidates",
        "candidate",
        candidates,
        CandidateIn,
        shapes.CandidateOut,
        shapes.CandidateItem,
        shapes.CandidateQuery,
        "pages.candidate",
        "/candidates/{item_id}",
        "Endorsed candidates first, then by name.",
    ),
    Resource(
        "posts",
        "post",
        posts,
        PostIn,
        shapes.PostOut,
        shapes.PostItem,
        shapes.PostQuery,
        "pages.post",
        "/news/{item_id}",
        "Newest first. Posts scheduled for later (published_at ahead) are shown to "
        "organisers only.",
    ),
)

VISIBILITY_NOTE = (
    "Public without a token. Members-only items need a member's token with scope `read`; "
    "without one they are absent from lists and answer 404."
)


def register(bp: Blueprint, resource: Resource) -> None:
    """Add the five routes of ``resource`` to ``bp``."""
    r = resource
    collection, one = f"/{r.plural}", f"/{r.plural}/<{ID}:item_id>"

    @operation(
        f"List {r.plural}",
        PUBLIC,
        query=r.query,
        response=shapes.page_of(r.item),
        description=f"{r.notes} {VISIBILITY_NOTE}",
    )
    def list_items():
        args = query_args(r.query())
        found = r.service.listing(viewer(), **args)
        return page_response(found, r.schema_out(), r.link)

    @operation(
        f"Get one {r.singular}", PUBLIC, response=r.item, description=VISIBILITY_NOTE, errors=(404,)
    )
    def get_item(item_id: int):
        return r.dump(r.service.get(item_id, viewer()))

    @operation(
        f"Create {r.a}",
        WRITE,
        body=r.schema_in,
        response=r.item,
        status=201,
        description=f"{r.notes} The Location header names the new {r.singular}.",
    )
    def create_item():
        data = body(r.schema_in())
        found = r.service.create(data)
        return created(r.dump(found), f"api.get_{r.singular}", item_id=found.id)

    @operation(
        f"Change {r.a}",
        WRITE,
        body=r.schema_in,
        response=r.item,
        description="Send only the fields to change; null clears an optional field.",
        errors=(404,),
    )
    def update_item(item_id: int):
        found = r.service.get(item_id, viewer())
        data = body(r.schema_in(), partial=True)
        return r.dump(r.service.update(found, data))

    @operation(f"Delete {r.a}", WRITE, status=204, errors=(404,))
    def delete_item(item_id: int):
        r.service.delete(r.service.get(item_id, viewer()))
        return "", 204

    bp.add_url_rule(collection, f"list_{r.plural}", list_items, methods=["GET"])
    bp.add_url_rule(collection, f"create_{r.singular}", create_item, methods=["POST"])
    bp.add_url_rule(one, f"get_{r.singular}", get_item, methods=["GET"])
    bp.add_url_rule(one, f"update_{r.singular}", update_item, methods=["PATCH"])
    bp.add_url_rule(one, f"delete_{r.singular}", delete_item, methods=["DELETE"])
