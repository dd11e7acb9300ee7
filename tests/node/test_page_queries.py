"""Every public page, and a member's home, runs as many SQL statements at 1,000 items as at 10.

The pages are rendered afresh for each request (the shared copies of node/page_cache.py are
turned off, except where a test says), so a template or view that queries once per item
listed or shown (an event's shifts, its answers) makes the counts differ.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from node.extensions import db
from node.models import Campaign, Candidate, Event, Member, Post, Rsvp, Shift
from tests import factories
from tests.conftest import log_in
from tests.node.statements import counting_statements

PUBLIC_PAGES = ("/", "/events", "/campaigns", "/candidates", "/news")


def _grow(to: int, shown: Event, reader: Member) -> None:
    """Bring each kind of item, and the shown event's shifts and answers, up to ``to``."""
    have = db.session.query(Campaign).count()
    more = range(have, to)
    starts = factories.soon(2)
    db.session.add_all(
        Event(
            title=f"Canvass {n}",
            kind="canvass",
            starts_at=starts + timedelta(hours=n),
            status="scheduled",
            visibility="members" if n % 3 == 0 else "public",
            timezone="Europe/London",
            going_count=0,
            campaign_id=None,
        )
        for n in more
    )
    db.session.add_all(
        Campaign(title=f"Campaign {n}", kind="community", status="active", visibility="public")
        for n in more
    )
    db.session.add_all(
        Candidate(
            name=f"Candidate {n}",
            office="council_ward",
            stage="selected",
            endorsement="endorsed",
            visibility="members" if n % 2 else "public",
        )
        for n in more
    )
    db.session.add_all(
        Post(
            title=f"News {n}",
            body="We knocked **300 doors**.",
            visibility="public",
            published_at=factories.soon(-1) - timedelta(minutes=n),
        )
        for n in more
    )
    people = [
        Member(
            email=f"reader{n}@example.org",
            display_name=f"Reader {n}",
            role="member",
            status="active",
            password_hash="not used",
        )
        for n in more
    ]
    db.session.add_all(people)
    db.session.flush()
    db.session.add_all(
        Shift(
            event_id=shown.id,
            label=f"Shift {n}",
            starts_at=shown.starts_at,
            ends_at=shown.starts_at + timedelta(hours=1),
            capacity=None,
            going_count=0,
        )
        for n in more
    )
    db.session.add_all(Rsvp(event_id=shown.id, member_id=p.id, response="going") for p in people)
    # The reader's own answers to the events listed on the home page.
    upcoming = db.session.query(Event).order_by(Event.starts_at).limit(20).all()
    answered = {r.event_id for r in db.session.query(Rsvp).filter(Rsvp.member_id == reader.id)}
    db.session.add_all(
        Rsvp(event_id=e.id, member_id=reader.id, response="maybe")
        for e in upcoming
        if e.id not in answered
    )
    db.session.commit()


def _counts(visitor, member, shown: Event) -> dict[str, int]:
    found = {}
    pages = [(path, visitor) for path in (*PUBLIC_PAGES, f"/events/{shown.id}")]
    pages.append(("/", member))
    for path, client in pages:
        name = path if client is visitor else f"{path} (member)"
        client.get(path)  # the first view fills this process's copies (the group, the page)
        with counting_statements() as statements:
            response = client.get(path)
        assert response.status_code == 200, name
        found[name] = len(statements)
    return found


@pytest.fixture
def readers(app, client, member):
    """A visitor's and a logged-in member's browsers, and the event page both look at."""
    shown = factories.event(title="The shown event", starts_at=factories.soon(1))
    log_in(client, member)
    client.get("/")  # shows, and so clears, the welcome message: no page is shared with one
    return app.test_client(), client, shown


@pytest.mark.parametrize("cache_seconds", [0, 30], ids=["rendered", "shared copies"])
def test_each_page_runs_as_many_statements_at_1000_items_as_at_10(
    app, readers, member, cache_seconds, kept_copies_clock_stopped
):
    app.config["PAGE_CACHE_SECONDS"] = cache_seconds
    visitor, reader, shown = readers
    _grow(10, shown, member)
    at_10 = _counts(visitor, reader, shown)
    _grow(1000, shown, member)
    at_1000 = _counts(visitor, reader, shown)
    assert at_1000 == at_10
    html = reader.get("/").get_data(as_text=True)
    assert "You: Maybe" in html and "Canvass 1" in html  # the items and answers are shown
    assert "Shift 999" in visitor.get(f"/events/{shown.id}").get_data(as_text=True)


def test_a_query_per_item_is_caught(app, readers, member, monkeypatch):
    # The check above would see a page that reads something once per event it lists.
    app.config["PAGE_CACHE_SECONDS"] = 0
    visitor, reader, shown = readers
    real = app.jinja_env.filters["local_time"]

    def with_a_query(value, *args):
        db.session.get(Member, member.id)
        db.session.expire_all()
        return real(value, *args)

    monkeypatch.setitem(app.jinja_env.filters, "local_time", with_a_query)
    _grow(10, shown, member)
    at_10 = _counts(visitor, reader, shown)
    _grow(30, shown, member)
    assert _counts(visitor, reader, shown) != at_10
