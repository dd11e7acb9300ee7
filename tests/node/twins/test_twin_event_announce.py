"""An organiser announces a twinned group's event to their own members: a draft, prefilled."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import Announcement, OutboundMail, RemoteObject
from tests.conftest import log_in, post_form
from tests.node.federation_support import FakePeer, remote  # noqa: F401
from tests.node.pages_support import text_of
from tests.node.twinning_support import publish_event, twin_with


@pytest.fixture
def twin(client, group, remote):  # noqa: F811
    peer = FakePeer(2)
    twin_with(client, peer, remote)
    publish_event(
        client,
        peer,
        "canvass",
        title="Canvass in *Hull*",
        location={"type": "Place", "name": "Hull station"},
        timezone="Europe/London",
    )
    return peer


def _row() -> RemoteObject:
    return db.session.scalar(select(RemoteObject).where(RemoteObject.object_type == "Event"))


def _announce(client, row):
    page = f"/twins/events/{row.id}"
    return post_form(client, f"/twins/events/{row.id}/announce", page=page)


def test_an_organiser_gets_a_prefilled_draft_and_nothing_is_sent(client, organiser, twin):
    log_in(client, organiser)
    row = _row()
    assert "Announce to our members" in text_of(client.get(f"/twins/events/{row.id}"))

    answer = _announce(client, row)

    draft = db.session.scalar(select(Announcement))
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/manage/messages/{draft.id}")
    assert (draft.status, draft.kind, draft.audience) == ("draft", "announcement", "members")
    assert draft.origin == f"twin-event:{row.object_id}"
    assert draft.created_by_id == organiser.id
    assert draft.subject == "Group 2: Canvass in *Hull*"
    assert "\\*Hull\\*" in draft.body  # the title as typed, not Markdown
    assert "Thu 01 May 2031, 19:00 (Europe/London time)" in draft.body
    assert "Hull station" in draft.body and f"<{twin.base}/events/canvass>" in draft.body
    assert db.session.scalar(select(func.count()).select_from(OutboundMail)) == 0


def test_a_second_click_opens_the_same_draft(client, organiser, twin):
    log_in(client, organiser)
    first = _announce(client, _row()).headers["Location"]
    assert _announce(client, _row()).headers["Location"] == first
    assert db.session.scalar(select(func.count()).select_from(Announcement)) == 1


def test_members_see_no_button_and_may_not_announce(client, member, twin):
    log_in(client, member)
    row = _row()
    assert "Announce to our members" not in text_of(client.get(f"/twins/events/{row.id}"))
    assert _announce(client, row).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Announcement)) == 0


def test_without_the_csrf_token_nothing_is_made(client, organiser, twin):
    log_in(client, organiser)
    answer = client.post(f"/twins/events/{_row().id}/announce")
    assert answer.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Announcement)) == 0


def test_an_event_that_is_not_a_twins_is_a_404(client, organiser, twin):
    log_in(client, organiser)
    answer = post_form(client, "/twins/events/99999/announce", page="/account")
    assert answer.status_code == 404
