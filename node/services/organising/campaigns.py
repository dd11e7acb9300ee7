"""Campaigns: what the group is fighting for."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from ...extensions import db
from ...models import Campaign, Member
from .. import feed
from ..errors import Invalid
from .records import Page, assign, commit, get_visible, paginate, visible


def listing(
    viewer: Member | None,
    page: int = 1,
    per_page: int = 20,
    status: str | None = None,
    kind: str | None = None,
) -> Page[Campaign]:
    """List campaigns the viewer may see, active and newest first."""
    query = visible(select(Campaign), Campaign, viewer)
    if status:
        query = query.where(Campaign.status == status)
    if kind:
        query = query.where(Campaign.kind == kind)
    query = query.order_by(
        (Campaign.status == "active").desc(), Campaign.created_at.desc(), Campaign.id.desc()
    )
    return paginate(query, page, per_page)


def get(campaign_id: int, viewer: Member | None) -> Campaign:
    return get_visible(Campaign, campaign_id, viewer)


def create(data: dict[str, Any]) -> Campaign:
    """Create a campaign from validated fields."""
    campaign = Campaign(status="planned", visibility="public")
    assign(campaign, data)
    db.session.add(campaign)
    feed.record(campaign, "create")
    commit()
    return campaign


def update(campaign: Campaign, data: dict[str, Any]) -> Campaign:
    """Apply validated changes, checking the dates still make sense."""
    start = data.get("starts_on", campaign.starts_on)
    end = data.get("ends_on", campaign.ends_on)
    if start and end and end < start:
        raise Invalid.on("ends_on", gettext("Must not be before the start date."))
    assign(campaign, data)
    feed.record(campaign, "update")
    commit()
    return campaign


def delete(campaign: Campaign) -> None:
    feed.record(campaign, "delete")
    db.session.delete(campaign)
    commit()
