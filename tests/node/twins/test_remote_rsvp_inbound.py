"""Members of a twinned group answering our events (this node is B).

The twin is a FakePeer that sends Join / TentativeAccept / Reject / Update / Undo, signed;
places come out of the same atomic counter our own members' RSVPs use.
"""

from __future__ import annotations

import json
import threading
from itertools import count

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import Event, Peer, ReceivedActivity, RemoteRsvp
from node.services.organising import events
from node.services.peering import inbox
from node.services.twins import twinning
from tests import factories
from tests.conftest import log_in
from tests.node.federation_support import OUR_INBOX, FakePeer, remote  # noqa: F401
from tests.node.pages_support import text_of
from tests.node.twinning_support import OUR_BASE, sent_to, twin_with

_serial = count(1)


@pytest.fixture
def twin(client, group, remote):  # noqa: F811
    peer = FakePeer(2)
    twin_with(client, peer, remote, follow=False)
    return peer


def _event_url(event: Event) -> str:
    return f"{OUR_BASE}/events/{event.id}"


def rsvp(peer: FakePeer, event: Event, kind: str = "Join", **fields) -> dict:
    """An RSVP from ``peer`` to ``event``: its id is the RSVP's opaque id."""
    activity = peer.activity(kind, _event_url(event))
    activity["id"] = f"{peer.base}/rsvps/{next(_serial)}"
    activity["partySize"] = fields.pop("partySize", 1)
    activity.update(fields)
    return activity


def update(peer: FakePeer, statement: dict, revision: int, **changes) -> dict:
    restated = {k: v for k, v in statement.items() if k != "@context"}
    restated.update(changes, revision=revision)
    activity = peer.activity("Update", restated)
    activity["id"] = f"{statement['id']}/{revision}"
    return activity


def undo(peer: FakePeer, statement: dict) -> dict:
    activity = peer.activity("Undo", {k: statement[k] for k in ("id", "type", "actor", "object")})
    activity["id"] = f"{statement['id']}/undo"
    return activity


def _going(event: Event) -> int:
    db.session.expire_all()
    return db.session.get(Event, event.id).going_count


def _answers(peer: FakePeer) -> list[tuple[str, str, str | None]]:
    """(type, answered id, reason) of each answer queued for ``peer``."""
    return [
        (body["type"], body["object"]["id"], body.get("refusalReason"))
        for body in sent_to(peer)
        if body["type"] in ("Accept", "Reject") and body["object"].get("type") != "Offer"
    ]


def _stored() -> list[RemoteRsvp]:
    db.session.expire_all()
    return list(db.session.scalars(select(RemoteRsvp).order_by(RemoteRsvp.id)))


def test_a_twin_s_join_takes_its_places_and_is_accepted(client, organiser, twin):
    event = factories.event(capacity=5)
    join = rsvp(twin, event, partySize=3, attendeeName="Sam")

    assert twin.post(client, join).status_code == 202

    assert _going(event) == 3
    (stored,) = _stored()
    assert (stored.response, stored.party_size, stored.shared_name) == ("going", 3, "Sam")
    assert (stored.places, stored.state, stored.rsvp_id) == (3, "held", join["id"])
    assert _answers(twin) == [("Accept", join["id"], None)]
    log_in(client, organiser)
    page = text_of(client.get(f"/manage/events/{event.id}/attendance"))
    assert "From twinned groups" in page and "Group 2" in page and "Sam" in page
    assert "<strong>3</strong> places taken in all of 5" in page


def test_an_rsvp_sharing_only_the_count_shows_as_a_member_of_the_twin(client, organiser, twin):
    event = factories.event()
    twin.post(client, rsvp(twin, event, "TentativeAccept", partySize=2))
    log_in(client, organiser)
    page = text_of(client.get(f"/manage/events/{event.id}/attendance"))
    assert "A member of Group 2: Maybe, 2 people" in page
    assert _going(event) == 0


def test_when_the_event_is_full_the_twin_is_told_full(client, twin):
    event = factories.event(capacity=2)
    first, second = rsvp(twin, event, partySize=2), rsvp(twin, event, partySize=1)

    twin.post(client, first)
    assert twin.post(client, second).status_code == 202

    assert _going(event) == 2
    assert _answers(twin) == [("Accept", first["id"], None), ("Reject", second["id"], "full")]
    assert [r.state for r in _stored()] == ["held", "refused"]


def test_our_members_and_twins_share_one_capacity(client, twin):
    event = factories.event(capacity=2)
    events.respond(event, factories.member(), "going")

    twin.post(client, rsvp(twin, event, partySize=2))

    assert _going(event) == 1
    assert _answers(twin)[0][2] == "full"
    twin.post(client, rsvp(twin, event, partySize=1))
    assert _going(event) == 2
    with pytest.raises(events.Conflict):
        events.respond(event, factories.member(), "going")


def test_cancellation_frees_the_places(client, twin):
    event = factories.event(capacity=2)
    join = rsvp(twin, event, partySize=2)
    twin.post(client, join)
    assert _going(event) == 2

    assert twin.post(client, undo(twin, join)).status_code == 202

    assert _going(event) == 0
    assert [(r.state, r.places) for r in _stored()] == [("cancelled", 0)]
    later = rsvp(twin, event, partySize=2)
    twin.post(client, later)
    assert _going(event) == 2 and _answers(twin)[-1] == ("Accept", later["id"], None)
    # A replayed Join of the cancelled RSVP takes nothing back.
    replay = dict(join, id=join["id"])
    twin.post(client, update(twin, replay, 5))
    assert _going(event) == 2


def test_changes_move_places_and_a_change_beyond_capacity_keeps_what_was_held(client, twin):
    event = factories.event(capacity=4)
    join = rsvp(twin, event, partySize=2, attendeeName="Sam")
    twin.post(client, join)

    twin.post(client, update(twin, join, 2, type="TentativeAccept"))
    assert _going(event) == 0
    twin.post(client, update(twin, join, 3, type="Join", partySize=3))
    assert _going(event) == 3
    too_many = update(twin, join, 4, partySize=5)
    twin.post(client, too_many)

    assert _going(event) == 3
    (stored,) = _stored()
    assert (stored.party_size, stored.places, stored.revision) == (3, 3, 4)
    assert _answers(twin)[-1] == ("Reject", too_many["id"], "full")
    # An older revision arriving late is ignored.
    twin.post(client, update(twin, join, 2, type="Reject"))
    assert _going(event) == 3 and _stored()[0].response == "going"


def test_rsvps_from_a_group_that_is_not_a_twin_are_refused(client, group, remote):  # noqa: F811
    stranger = FakePeer(3)
    stranger.serve(remote)
    event = factories.event(capacity=2)

    assert stranger.post(client, rsvp(stranger, event)).status_code == 403

    assert _going(event) == 0 and _stored() == [] and sent_to(stranger) == []


def test_an_ended_twinning_takes_no_more_rsvps(client, twin):
    event = factories.event()
    peer = db.session.scalar(select(Peer).where(Peer.actor_id == twin.actor))
    twinning.end(twinning.of_peer(peer))
    assert twin.post(client, rsvp(twin, event)).status_code == 403
    assert _going(event) == 0


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"partySize": 0}, "partySize"),
        ({"partySize": 11}, "partySize"),
        ({"partySize": "2"}, "partySize"),
        ({"partySize": True}, "partySize"),
        ({"attendeeName": "x" * 81}, "attendeeName"),
        ({"attendeeName": ""}, "attendeeName"),
        ({"attendeeName": ["Sam"]}, "attendeeName"),
        ({"attendeeName": "Sam\x00"}, "attendeeName"),
        ({"revision": 0}, "revision"),
    ],
)
def test_bad_rsvps_are_a_400_naming_the_field_and_write_nothing(client, twin, fields, named):
    event = factories.event(capacity=5)
    bad = rsvp(twin, event, **fields)

    answer = twin.post(client, bad)

    assert answer.status_code == 400
    assert named in json.dumps(answer.get_json())
    assert _going(event) == 0 and _stored() == [] and _answers(twin) == []
    assert db.session.scalar(select(func.count()).select_from(ReceivedActivity)) == 0


def test_rsvps_for_unknown_or_members_only_events_are_a_404(client, twin):
    hidden = factories.event(visibility="members")
    missing = rsvp(twin, hidden)
    missing["object"] = f"{OUR_BASE}/events/999999"

    assert twin.post(client, rsvp(twin, hidden)).status_code == 404
    assert twin.post(client, missing).status_code == 404
    assert _stored() == []


def test_rsvps_for_a_cancelled_event_are_turned_down_as_closed(client, twin):
    event = factories.event(capacity=5, status="cancelled")
    join = rsvp(twin, event, partySize=2)

    assert twin.post(client, join).status_code == 202

    assert _going(event) == 0
    assert _answers(twin) == [("Reject", join["id"], "closed")]


def test_another_group_cannot_cancel_a_twin_s_rsvp(client, twin, remote):  # noqa: F811
    other = FakePeer(3)
    twin_with(client, other, remote, follow=False)
    event = factories.event(capacity=2)
    join = rsvp(twin, event, partySize=2)
    twin.post(client, join)

    forged = undo(other, join)
    forged["id"] = f"{other.base}/undo/1"

    assert other.post(client, forged).status_code == 403
    assert _going(event) == 2


def test_two_twin_rsvps_racing_for_the_last_place_one_gets_it(app, client, twin, remote):  # noqa: F811
    other = FakePeer(3)
    twin_with(client, other, remote, follow=False)
    event = factories.event(capacity=1)
    racers = [rsvp(twin, event), rsvp(other, event), rsvp(twin, event), rsvp(other, event)]
    requests = []
    for activity in racers:
        peer = twin if activity["actor"] == twin.actor else other
        body = json.dumps(activity).encode()
        requests.append((dict(peer.signed_headers(body), Host="localhost"), body))
    start = threading.Barrier(len(requests))
    statuses: list[int] = []

    def send(headers: dict, body: bytes) -> None:
        with app.app_context():
            start.wait()
            try:
                statuses.append(inbox.receive(OUR_INBOX, headers, body).status)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=send, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [202] * 4
    assert _going(event) == 1
    assert sorted(r.state for r in _stored()) == ["held", "refused", "refused", "refused"]
    answers = _answers(twin) + _answers(other)
    assert sorted(kind for kind, _id, _reason in answers) == ["Accept"] + ["Reject"] * 3
