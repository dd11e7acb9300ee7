"""Candidates the group supports, proposes or tracks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ...extensions import db
from ...models import Candidate, Member
from .. import feed
from .records import Page, assign, commit, get_visible, paginate, visible


def listing(
    viewer: Member | None,
    page: int = 1,
    per_page: int = 20,
    stage: str | None = None,
    endorsement: str | None = None,
    office: str | None = None,
) -> Page[Candidate]:
    """List candidates the viewer may see, endorsed first, then by contest date."""
    query = visible(select(Candidate), Candidate, viewer)
    if stage:
        query = query.where(Candidate.stage == stage)
    if endorsement:
        query = query.where(Candidate.endorsement == endorsement)
    if office:
        query = query.where(Candidate.office == office)
    query = query.order_by(
        (Candidate.endorsement == "endorsed").desc(), Candidate.name, Candidate.id
    )
    return paginate(query, page, per_page)


def get(candidate_id: int, viewer: Member | None) -> Candidate:
    return get_visible(Candidate, candidate_id, viewer)


def create(data: dict[str, Any]) -> Candidate:
    candidate = Candidate(stage="interested", endorsement="none", visibility="public")
    assign(candidate, data)
    db.session.add(candidate)
    feed.record(candidate, "create")
    commit()
    return candidate


def update(candidate: Candidate, data: dict[str, Any]) -> Candidate:
    assign(candidate, data)
    feed.record(candidate, "update")
    commit()
    return candidate


def delete(candidate: Candidate) -> None:
    feed.record(candidate, "delete")
    db.session.delete(candidate)
    commit()
