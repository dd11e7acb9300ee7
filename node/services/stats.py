"""Counts of what the group publishes, for NodeInfo: numbers only, public items only."""

from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..models import Campaign, Candidate, Event, Post, utcnow


def public_counts() -> dict[str, int]:
    """Count the public campaigns, events, candidates and published posts."""

    def count(model, *conditions) -> int:
        query = select(func.count()).select_from(model).where(model.visibility == "public")
        return db.session.scalar(query.where(*conditions)) or 0

    return {
        "campaigns": count(Campaign),
        "events": count(Event),
        "candidates": count(Candidate),
        "posts": count(Post, Post.published_at <= utcnow()),
    }
