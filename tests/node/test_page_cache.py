"""Visitors share one rendered group page until the content changes or it grows old."""

from __future__ import annotations

import pytest

from node import create_app, page_cache
from node.extensions import db
from node.services import content_version, groups
from node.services.membership import logins
from node.services.organising import campaigns, events, shifts
from tests import factories
from tests.conftest import CSRF_INPUT, log_in


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


def _copies(app) -> list[str]:
    return [found.html for found in app.extensions.get("page_cache", {}).values()]


def test_members_share_a_home_page_copy_filled_with_their_own_name_and_answers(
    cached, client, member
):
    going_to, maybe_to = factories.event(title="Door knock"), factories.event(title="Phone bank")
    other = factories.member(display_name="Olive Other")
    events.respond(going_to, member, "going")
    events.respond(maybe_to, other, "maybe")
    log_in(client, member)
    client.get("/")  # shows the welcome message: that page is not shared
    mine = client.get("/").get_data(as_text=True)
    theirs_client = cached.test_client()
    log_in(theirs_client, other)
    theirs_client.get("/")
    theirs = theirs_client.get("/").get_data(as_text=True)

    assert member.display_name in mine and "Olive Other" not in mine
    assert "Olive Other" in theirs and member.display_name not in theirs
    assert mine.count("You: Going") == 1 and "You: Maybe" not in mine
    assert theirs.count("You: Maybe") == 1 and "You: Going" not in theirs
    # One copy for members, holding nobody's name, answer or form token.
    shared = [html for html in _copies(cached) if "Door knock" in html]
    assert len(shared) == 1
    assert member.display_name not in shared[0] and "Olive Other" not in shared[0]
    assert "You:" not in shared[0] and 'value="<!--hole' in shared[0]
    assert "<!--hole" not in mine and "<!--hole" not in theirs


def test_organisers_get_their_own_copy_with_the_manage_link(cached, client, member, organiser):
    log_in(client, member)
    client.get("/")
    assert "Manage" not in client.get("/").get_data(as_text=True)
    theirs = cached.test_client()
    log_in(theirs, organiser)
    theirs.get("/")
    assert "Manage" in theirs.get("/").get_data(as_text=True)
    assert "Manage" not in client.get("/").get_data(as_text=True)


def test_each_visitor_of_a_shared_event_page_gets_a_form_token_of_their_own(cached, client):
    found = factories.event(title="Street stall")
    first = client.get(f"/events/{found.id}").get_data(as_text=True)
    other = cached.test_client()
    second = other.get(f"/events/{found.id}").get_data(as_text=True)
    tokens = [CSRF_INPUT.search(html).group(1) for html in (first, second)]
    assert tokens[0] != tokens[1] and "<!--hole" not in first + second
    kept = [html for html in _copies(cached) if "Street stall" in html]
    assert kept and all(tokens[0] not in html and tokens[1] not in html for html in kept)
    assert "Street stall" in first and "Street stall" in second
    # The token is the visitor's own: the guest form posts with it.
    response = other.post(
        f"/events/{found.id}/guest-rsvp",
        data={"csrf_token": tokens[1], "name": "Gwen Guest", "email": "gwen@example.org"},
    )
    assert response.status_code != 400


def test_a_shift_change_is_seen_on_the_shared_event_page_at_once(cached, client, member):
    found = factories.event(title="Street stall")
    shift = factories.shift(found.id, label="Morning leafleting", capacity=5)
    assert "Morning leafleting" in client.get(f"/events/{found.id}").get_data(as_text=True)
    shifts.sign_up(shift, member)
    assert "4 of 5 places left" in client.get(f"/events/{found.id}").get_data(as_text=True)


def test_a_group_change_made_by_another_worker_is_seen_within_a_recheck(
    app, client, app_config, monkeypatch
):
    app.config["PAGE_CACHE_SECONDS"] = 0  # the group's copy, not the page's, is checked
    clock = [1000.0]
    monkeypatch.setattr(content_version, "_clock", lambda: clock[0])
    assert "Leeds North Momentum" in client.get("/news").get_data(as_text=True)
    other_worker = create_app(app_config)  # its own process-wide copies, the same database
    with other_worker.app_context():
        found = groups.current_group()
        found.name = "Leeds North Campaigners"
        db.session.commit()
    db.session.expire_all()  # as a fresh request's session would be: tests keep theirs
    assert "Leeds North Momentum" in client.get("/news").get_data(as_text=True)
    clock[0] += content_version.RECHECK_SECONDS
    db.session.expire_all()
    assert "Leeds North Campaigners" in client.get("/news").get_data(as_text=True)


def test_a_change_this_process_commits_is_seen_by_its_next_request(cached, client):
    assert "Fresh campaign" not in client.get("/campaigns").get_data(as_text=True)
    campaigns.create({"title": "Fresh campaign", "kind": "community"})
    assert "Fresh campaign" in client.get("/campaigns").get_data(as_text=True)


def test_a_group_change_behind_the_orms_back_is_seen_within_the_lifetime(app, client, monkeypatch):
    app.config["PAGE_CACHE_SECONDS"] = 0
    clock = [1000.0]
    monkeypatch.setattr(groups, "_clock", lambda: clock[0])
    client.get("/news")
    db.session.execute(db.text("UPDATE group_profile SET name = 'Renamed by hand'"))
    db.session.commit()
    db.session.expire_all()
    assert "Renamed by hand" not in client.get("/news").get_data(as_text=True)
    clock[0] += groups.GROUP_LIFETIME
    db.session.expire_all()
    assert "Renamed by hand" in client.get("/news").get_data(as_text=True)
