"""Visitors share one rendered group page until the content changes or it grows old."""

from __future__ import annotations

import pytest

from node import page_cache
from node.extensions import db
from node.services import content_version
from node.services.membership import logins
from node.services.organising import campaigns, events
from tests import factories
from tests.conftest import log_in


@pytest.fixture
def cached(app):
    app.config["PAGE_CACHE_SECONDS"] = 30
    return app


def test_every_content_change_moves_the_version_in_its_own_transaction(group, member):
    start = content_version.current()
    made = campaigns.create({"title": "Save the library", "kind": "community"})
    after_create = content_version.current()
    campaigns.update(made, {"summary": "Open six days a week"})
    after_update = content_version.current()
    event = factories.event(capacity=3)
    before_rsvp = content_version.current()
    events.respond(event, member, "going")  # a bulk UPDATE of the place counter
    assert start < after_create < after_update < content_version.current()
    assert content_version.current() > before_rsvp


def test_member_bookkeeping_does_not_move_the_version(group, member):
    start = content_version.current()
    logins.authenticate(member.email, factories.PASSWORD, "127.0.0.1")
    assert content_version.current() == start


def test_a_visitor_gets_the_kept_copy_until_content_changes(cached, client):
    factories.event(title="Street stall")
    first = client.get("/").get_data(as_text=True)
    # Written behind the cache's back: the copy stays, as the version did not move.
    db.session.execute(db.text("UPDATE event SET title = 'Renamed quietly'"))
    db.session.commit()
    assert client.get("/").get_data(as_text=True) == first
    campaigns.create({"title": "Fresh campaign", "kind": "community", "status": "active"})
    fresh = client.get("/").get_data(as_text=True)
    assert "Fresh campaign" in fresh and "Renamed quietly" in fresh


def test_the_copy_expires_with_time(cached, client, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: clock[0])
    factories.event(title="Street stall")
    client.get("/")
    db.session.execute(db.text("UPDATE event SET title = 'Moved on'"))
    db.session.commit()
    assert "Moved on" not in client.get("/").get_data(as_text=True)
    clock[0] += 31
    assert "Moved on" in client.get("/").get_data(as_text=True)


def test_members_never_get_the_visitors_copy(cached, client, member):
    factories.event(title="Inner meeting", visibility="members")
    assert "Inner meeting" not in client.get("/").get_data(as_text=True)
    log_in(client, member)
    page = client.get("/").get_data(as_text=True)
    assert "Inner meeting" in page and member.display_name in page


def test_a_visitors_copy_never_holds_a_members_page(cached, client, member):
    factories.event(title="Inner meeting", visibility="members")
    log_in(client, member)
    client.get("/")
    visitor = cached.test_client()
    assert "Inner meeting" not in visitor.get("/").get_data(as_text=True)


def test_turned_off_with_zero_seconds(app, client):
    app.config["PAGE_CACHE_SECONDS"] = 0
    factories.event(title="Street stall")
    client.get("/")
    db.session.execute(db.text("UPDATE event SET title = 'Seen at once'"))
    db.session.commit()
    assert "Seen at once" in client.get("/").get_data(as_text=True)
