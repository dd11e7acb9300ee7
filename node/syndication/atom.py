"""News posts as an Atom (RFC 4287) feed, for feed readers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from feedgen.feed import FeedGenerator

from ..activitypub.documents import object_id
from ..models import Group, Post
from ..text import markdown_to_plain_text, render_markdown


def news_feed(group: Group, posts: Sequence[Post], self_url: str) -> bytes:
    """Return ``posts`` (newest first) as an Atom feed served at ``self_url``."""
    page = f"{group.base_url}/news"
    feed = FeedGenerator()
    feed.id(page)  # the news page's address: stable for as long as the group is
    feed.title(group.name)
    summary = markdown_to_plain_text(group.summary)
    if summary:
        feed.subtitle(summary)
    feed.author({"name": group.name, "uri": f"{group.base_url}/"})
    feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.link(href=page, rel="alternate", type="text/html")
    feed.language("en-GB")  # the pages' own lang
    feed.generator("Branchline")
    if group.logo_filename:
        feed.logo(f"{group.base_url}/logo?v={group.logo_filename}")
    updated = [_updated(post) for post in posts]
    # With no posts, the profile's last change is the latest thing the feed could show.
    feed.updated(max(updated, default=group.updated_at))
    for post, when in zip(posts, updated, strict=True):
        address = object_id(group, post)
        entry = feed.add_entry(order="append")  # feedgen prepends by default
        entry.id(address)
        entry.title(post.title)
        entry.link(href=address, rel="alternate", type="text/html")
        entry.published(post.published_at)
        entry.updated(when)
        if post.body:
            entry.content(str(render_markdown(post.body, group.base_url)), type="html")
    return feed.atom_str(pretty=True)


def _updated(post: Post) -> datetime:
    # A scheduled post was last edited before it came out; it cannot be updated before then.
    return max(post.published_at, post.updated_at or post.published_at)
