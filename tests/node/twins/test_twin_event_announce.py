"""A twin's event announced to this group's own members: a draft for the organisers to send."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models import Announcement, RemoteObject
from tests.conftest import log_in, post_form
from tests.node.federation_support import FakePeer, remote  # noqa: F401
from tests.node.twinning_support import publish_event, twin_with


@pytest.fixture
def twin(client, group, remote):  # noqa: F811
    peer = FakePeer(2)
    twin_with(client, peer, remote)
    publish_event(
        client,
        peer,
        "canvass",
        title="Canvass in Hull",
        startTime="2031-05-01T09:00:00Z",
        timezone="Europe/London",
    )
    return peer


def _row() -> RemoteObject:
    return db.session.scalar(select(RemoteObject).where(RemoteObject.object_type == "Event"))


def test_organiser_announces_a_twin_s_event_as_a_draft(client, organiser, twin):
    log_in(client, organiser)
    row = _row()
    page = client.get(f"/twins/events/{row.id}").get_data(as_text=True)
    assert "Announce to our members" in page

    answer = post_form(
        client, f"/manage/twins/events/{row.id}/announce", page=f"/twins/events/{row.id}"
    )

    announcement = db.session.scalar(select(Announcement))
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/manage/messages/{announcement.id}"
    assert (announcement.status, announcement.audience) == ("draft", "members")
    assert announcement.origin == f"twin-event:{row.object_id}"
    assert announcement.subject == "Canvass in Hull"
    assert "**Group 2**" in announcement.body and "10:00" in announcement.body  # BST
    assert f"/twins/events/{row.id}" in announcement.body


def test_member_cannot_announce(client, member, twin):
    log_in(client, member)
    row = _row()

    assert "Announce to our members" not in client.get(f"/twins/events/{row.id}").get_data(
        as_text=True
    )
    answer = post_form(client, f"/manage/twins/events/{row.id}/announce", page="/account")

    assert answer.status_code == 403
    assert db.session.scalar(select(Announcement)) is None
