"""Only organisers reach /manage: visitors are sent to log in, members get a 403."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import Event
from tests import factories
from tests.conftest import csrf_token, log_in, post_form

KINDS = ("campaigns", "events", "candidates", "posts")


def manage_urls(app, items: dict[str, int], member_id: int) -> list[tuple[str, str]]:
    """Build (method, url) for every route of the manage blueprint, for every kind."""
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("manage."):
            continue
        kinds = KINDS if "kind" in rule.arguments else ("events",)
        for kind in kinds:
            values = {"kind": kind, "item_id": items[kind], "member_id": member_id}
            url = adapter.build(rule.endpoint, {k: values[k] for k in rule.arguments})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((method, url))
    return sorted(set(found))


@pytest.fixture
def urls(app, group):
    target = factories.member(email="target@example.org")
    items = {
        "campaigns": factories.campaign().id,
        "events": factories.event().id,
        "candidates": factories.candidate().id,
        "posts": factories.post().id,
    }
    return manage_urls(app, items, target.id)


def test_every_manage_route_is_covered(urls):
    paths = {(method, url.split("/")[2]) for method, url in urls}
    # The guard tests below walk this list; check it really holds every section.
    for section in (*KINDS, "members", "group"):
        assert ("GET", section) in paths and ("POST", section) in paths
    assert ("GET", "") in paths  # the dashboard
    assert len(urls) >= 40


def test_visitors_are_sent_to_log_in_from_every_manage_route(client, urls):
    for method, url in urls:
        if method == "GET":
            response = client.get(url)
        else:
            response = post_form(client, url, {"status": "cancelled"}, page="/login")
        assert response.status_code == 302, (method, url)
        assert "/login?next=" in response.headers["Location"], (method, url)


def test_members_get_a_403_on_every_manage_route(client, member, urls):
    log_in(client, member)
    for method, url in urls:
        if method == "GET":
            response = client.get(url)
        else:
            response = post_form(client, url, {"status": "cancelled"}, page="/")
        assert response.status_code == 403, (method, url)
    assert db.session.scalar(select(func.count()).select_from(Event)) == 1
    assert db.session.scalars(select(Event)).one().status == "scheduled"


def test_suspended_organiser_is_logged_out_of_manage(client, organiser):
    log_in(client, organiser)
    organiser.status = "suspended"
    db.session.commit()

    response = client.get("/manage/")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_organiser_and_admin_reach_the_dashboard(client, organiser):
    log_in(client, organiser)
    assert client.get("/manage/").status_code == 200


def test_post_without_csrf_token_is_a_400_and_writes_nothing(client, organiser):
    log_in(client, organiser)
    csrf_token(client, "/manage/events/new")  # a real session with a token, just not sent
    before = db.session.scalar(select(func.count()).select_from(Event))

    response = client.post(
        "/manage/events/new",
        data={"title": "Sneaky", "kind": "other", "starts_at": "2031-01-01T10:00"},
    )

    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Event)) == before


def test_post_with_a_wrong_csrf_token_is_a_400(client, organiser, group):
    log_in(client, organiser)
    response = client.post(
        "/manage/group", data={"csrf_token": "forged", "name": "Taken over", "timezone": "UTC"}
    )
    assert response.status_code == 400
    db.session.refresh(group)
    assert group.name != "Taken over"
