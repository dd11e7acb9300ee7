"""News posts. A post whose publication time is still ahead is a draft only organisers see."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from ...extensions import db
from ...models import Member, Post, utcnow
from .. import feed
from ..errors import NotFound
from .records import Page, assign, commit, get_visible, paginate, visible


def _published(query, viewer: Member | None):
    if viewer is not None and viewer.is_active and viewer.has_role("organiser"):
        return query
    return query.where(Post.published_at <= utcnow())


def listing(viewer: Member | None, page: int = 1, per_page: int = 20) -> Page[Post]:
    """List posts the viewer may see, newest first."""
    query = _published(visible(select(Post), Post, viewer), viewer)
    query = query.order_by(Post.published_at.desc(), Post.id.desc())
    return paginate(query, page, per_page)


def get(post_id: int, viewer: Member | None) -> Post:
    post = get_visible(Post, post_id, viewer)
    scheduled = post.published_at > utcnow()
    if scheduled and not (viewer is not None and viewer.is_active and viewer.has_role("organiser")):
        raise NotFound(gettext("No such post."))
    return post


def create(data: dict[str, Any]) -> Post:
    post = Post(visibility="public")
    assign(post, {k: v for k, v in data.items() if not (k == "published_at" and v is None)})
    if post.published_at is None:
        post.published_at = utcnow()
    db.session.add(post)
    feed.record(post, "create")
    commit()
    return post


def update(post: Post, data: dict[str, Any]) -> Post:
    if data.get("published_at", post.published_at) is None:
        data = {**data, "published_at": utcnow()}
    assign(post, data)
    feed.record(post, "update")
    commit()
    return post


def delete(post: Post) -> None:
    feed.record(post, "delete")
    db.session.delete(post)
    commit()
