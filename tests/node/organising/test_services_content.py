"""Campaigns, candidates and posts: visibility, scheduling, validation."""

from datetime import UTC, date, datetime, timedelta

import pytest

from node.services.errors import Invalid, NotFound
from node.services.organising import campaigns, candidates, events, posts
from tests import factories


def test_members_only_items_are_hidden_from_visitors_and_shown_to_members(group, member):
    factories.campaign(title="Open", visibility="public")
    hidden = factories.campaign(title="Inner", visibility="members")
    assert [c.title for c in campaigns.listing(None).items] == ["Open"]
    assert {c.title for c in campaigns.listing(member).items} == {"Open", "Inner"}
    with pytest.raises(NotFound):
        campaigns.get(hidden.id, None)
    assert campaigns.get(hidden.id, member).title == "Inner"


def test_suspended_member_sees_only_public_items(group, member):
    factories.candidate(visibility="members")
    member.status = "suspended"
    assert candidates.listing(member).total == 0


def test_scheduled_post_is_a_draft_until_its_time(group, member, organiser):
    later = factories.post(title="Later", published_at=datetime.now(UTC) + timedelta(days=1))
    factories.post(title="Now")
    assert [p.title for p in posts.listing(member).items] == ["Now"]
    assert {p.title for p in posts.listing(organiser).items} == {"Now", "Later"}
    with pytest.raises(NotFound):
        posts.get(later.id, member)


def test_post_without_a_time_is_published_now(group):
    made = posts.create({"title": "Hello", "body": "x", "published_at": None})
    assert made.published_at <= datetime.now(UTC)


def test_campaign_update_keeps_dates_in_order(group):
    made = campaigns.create({"title": "x", "kind": "policy", "starts_on": date(2030, 5, 1)})
    with pytest.raises(Invalid) as caught:
        campaigns.update(made, {"ends_on": date(2030, 4, 1)})
    assert "ends_on" in caught.value.fields


def test_event_with_unknown_campaign_is_refused_on_that_field(group):
    with pytest.raises(Invalid) as caught:
        events.create(
            {
                "title": "x",
                "kind": "other",
                "starts_at": datetime(2031, 1, 1, 10),
                "campaign_id": 99,
            }
        )
    assert "campaign_id" in caught.value.fields


def test_capacity_cannot_drop_below_those_going(group):
    event = factories.event(capacity=5)
    for _ in range(3):
        events.respond(event, factories.member(), "going")
    with pytest.raises(Invalid):
        events.update(event, {"capacity": 2})
    events.update(event, {"capacity": 3})
    assert event.capacity == 3


def test_upcoming_and_past_are_split_by_end_time(group):
    now = datetime.now(UTC)
    factories.event(
        title="Running", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1)
    )
    factories.event(title="Done", starts_at=now - timedelta(days=2))
    factories.event(title="Soon", starts_at=now + timedelta(days=1))
    assert [e.title for e in events.listing(None, when="upcoming").items] == ["Running", "Soon"]
    assert [e.title for e in events.listing(None, when="past").items] == ["Done"]
