"""After a restore the feed takes no new entry until it is reconciled (or forced)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import FeedEntry, Post
from node.services import feed
from node.services.organising import posts
from node.services.recovery import guard, network
from tests import factories


def _held(app) -> None:
    guard.hold(Path(app.instance_path), {"backup_feed_head": None})


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_publishing_is_refused_with_a_503_after_a_restore(app, api, admin_token):
    posts.create({"title": "Before the loss", "body": "."})
    _held(app)

    answer = api.post("/posts", admin_token, json={"title": "Too soon", "body": "A fork."})

    assert answer.status_code == 503
    assert "branchline recover --from URL" in answer.get_json()["error"]
    assert _count(FeedEntry) == 1 and _count(Post) == 1  # nothing half-written


def test_the_service_refuses_before_anything_is_stored(app, group):
    _held(app)

    with pytest.raises(guard.PublishingHeld):
        posts.create({"title": "Too soon", "body": "."})

    db.session.rollback()
    assert _count(FeedEntry) == 0


def test_scheduled_posts_wait_while_publishing_is_held(app, group):
    factories.post(published_at=factories.soon(-1), created_at=factories.soon(-2))
    _held(app)

    assert feed.publish_due() == 0
    guard.release("reconciled in the test")
    assert feed.publish_due() == 1


def test_forcing_publishing_is_logged_and_releases_it(app, group, caplog):
    _held(app)

    with caplog.at_level(logging.WARNING):
        network.force_publish("the admin knows no follower holds more")

    assert guard.pending() is None
    assert "forced by an admin" in caplog.text
    posts.create({"title": "Published again", "body": "."})
    assert feed.head_seq() == 1


def test_a_damaged_mark_still_holds_publishing(app, group):
    guard.mark_path().write_text("{not json")

    assert guard.pending() is not None
    with pytest.raises(guard.PublishingHeld):
        guard.require_reconciled()
