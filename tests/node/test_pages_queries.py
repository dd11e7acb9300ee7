"""The group page costs the same number of SQL queries however much the group publishes."""

from __future__ import annotations

from node.services.organising import events
from tests import factories
from tests.conftest import log_in
from tests.node.statements import counting_statements


def _publish(n_events, n_campaigns, n_candidates, n_posts, rsvp_as=None):
    for n in range(n_events):
        found = factories.event(
            starts_at=factories.soon(1 + n), visibility="members" if n % 3 == 0 else "public"
        )
        if rsvp_as is not None and n % 2 == 0:
            events.respond(found, rsvp_as, "going" if n % 4 == 0 else "maybe")
    for n in range(n_campaigns):
        factories.campaign(visibility="members" if n % 2 else "public")
    for n in range(n_candidates):
        factories.candidate(visibility="members" if n % 2 else "public")
    for n in range(n_posts):
        factories.post(visibility="members" if n % 2 else "public")


def _home_queries(client) -> int:
    with counting_statements() as statements:
        response = client.get("/")
    assert response.status_code == 200
    return len(statements)


def test_home_page_query_count_does_not_grow_with_content(
    client, member, group, kept_copies_clock_stopped
):
    anonymous = client.application.test_client()
    log_in(client, member)
    _publish(2, 2, 2, 2, rsvp_as=member)
    small_member, small_visitor = _home_queries(client), _home_queries(anonymous)

    _publish(58, 18, 13, 28, rsvp_as=member)  # now 60 events, 20 campaigns, 15 candidates, 30 posts
    large_member, large_visitor = _home_queries(client), _home_queries(anonymous)

    assert large_member == small_member
    assert large_visitor == small_visitor
    # a count and a page per list, the group, the member and their answers, the twinned
    # groups: a small constant
    assert small_member <= 13
    assert small_visitor <= 11
