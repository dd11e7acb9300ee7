"""A member answering a twinned group's event from this group's site (this node is A).

The twin is a FakePeer: it proposes twinning, we accept and follow it, it publishes an
event; our member answers, and we read back what this node queued for the twin.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from federation.proofs import verify_object
from node.extensions import db
from node.models import Delivery, FeedEntry, OutgoingRsvp, RemoteObject
from node.services.twins import outgoing_rsvps
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.federation_support import OUR_ACTOR, FakePeer, follow_peer, remote  # noqa: F401
from tests.node.pages_support import field_error, text_of
from tests.node.twinning_support import publish_event, sent, sent_to, twin_with


@pytest.fixture
def twin(client, group, remote):  # noqa: F811
    """A twinned group with one upcoming event (capacity 10) that we hold."""
    peer = FakePeer(2)
    twin_with(client, peer, remote)
    publish_event(client, peer, "canvass", title="Canvass in Hull", maximumAttendeeCapacity=10)
    return peer


def _event_row() -> RemoteObject:
    return db.session.scalar(select(RemoteObject).where(RemoteObject.object_type == "Event"))


def _answer(client, row: RemoteObject, **form):
    values = {"response": "going", "party_size": "1", "share": "name", **form}
    return post_form(client, f"/twins/events/{row.id}", values)


def _rsvp() -> OutgoingRsvp | None:
    db.session.expire_all()
    return db.session.scalar(select(OutgoingRsvp))


def _rsvps_sent(peer: FakePeer) -> list[dict]:
    kinds = ("Join", "TentativeAccept", "Reject", "Update", "Undo")
    return [body for body in sent_to(peer) if body["type"] in kinds]


def test_member_sees_the_twin_s_events_on_their_page(client, member, twin):
    log_in(client, member)
    page = text_of(client.get("/account"))
    assert "Events of twinned groups" in page and "Canvass in Hull" in page
    assert f'href="/twins/events/{_event_row().id}"' in page
    event_page = text_of(client.get(f"/twins/events/{_event_row().id}"))
    assert "Canvass in Hull" in event_page and "Group 2" in event_page
    assert 'name="party_size"' in event_page


def test_going_sends_a_signed_join_with_only_the_name_and_the_count(
    client,
    member,
    twin,
    node_keys,
):
    log_in(client, member)

    answer = _answer(client, _event_row(), party_size="2")

    assert answer.status_code == 302
    rsvp = _rsvp()
    assert (rsvp.state, rsvp.response, rsvp.party_size) == ("pending", "going", 2)
    (join,) = _rsvps_sent(twin)
    assert join["type"] == "Join" and join["object"] == f"{twin.base}/events/canvass"
    assert join["actor"] == OUR_ACTOR and join["to"] == [twin.actor]
    assert join["partySize"] == 2 and join["revision"] == 1
    assert join["attendeeName"] == member.display_name
    assert join["id"] == rsvp.rsvp_id and join["id"].startswith("http://localhost/rsvps/")
    verify_object(join, lambda _key_id: node_keys.proof.public_key())
    # Not a feed entry: personal data stays out of the public feed.
    assert all(
        json.loads(body)["type"] != "Join" for body in db.session.scalars(select(FeedEntry.body))
    )
    assert "Pending" in text_of(client.get(f"/twins/events/{_event_row().id}"))


def test_sharing_only_the_count_sends_no_name(client, member, twin):
    log_in(client, member)
    _answer(client, _event_row(), share="count", response="maybe")

    (maybe,) = _rsvps_sent(twin)
    assert maybe["type"] == "TentativeAccept" and "attendeeName" not in maybe
    assert member.display_name not in json.dumps(maybe)


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"party_size": "0"}, "party_size"),
        ({"party_size": "11"}, "party_size"),
        ({"party_size": "two"}, "party_size"),
        ({"party_size": ""}, "party_size"),
        ({"response": "yes"}, "response"),
        ({"share": "everything"}, "share"),
    ],
)
def test_bad_answers_are_a_400_on_the_field_and_send_nothing(client, member, twin, form, field):
    before = db.session.scalar(select(func.count()).select_from(Delivery))
    log_in(client, member)

    answer = _answer(client, _event_row(), **form)

    assert answer.status_code == 400
    assert field_error(text_of(answer), field)
    assert _rsvp() is None
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == before


def test_the_twin_s_accept_confirms_and_its_reject_says_full(client, member, twin):
    log_in(client, member)
    row = _event_row()
    _answer(client, row, party_size="3")
    join = _rsvps_sent(twin)[0]

    accept = twin.activity("Accept", {"id": join["id"], "type": "Join"})
    assert twin.post(client, accept).status_code == 202
    assert _rsvp().state == "confirmed"
    assert "Confirmed" in text_of(client.get(f"/twins/events/{row.id}"))

    # Asking for more places than are left: the twin says full, the places held stay.
    _answer(client, row, party_size="6")
    update = _rsvps_sent(twin)[-1]
    assert update["type"] == "Update" and update["object"]["id"] == join["id"]
    assert update["object"]["partySize"] == 6 and update["object"]["revision"] == 2
    full = twin.activity("Reject", {"id": update["id"], "type": "Update"})
    full["refusalReason"] = "full"
    assert twin.post(client, full).status_code == 202
    rsvp = _rsvp()
    assert (rsvp.state, rsvp.party_size, rsvp.refusal) == ("confirmed", 3, "full")
    assert "the event is full, so you keep these places" in text_of(
        client.get(f"/twins/events/{row.id}")
    )


def test_a_first_answer_turned_down_as_full_shows_full(client, member, twin):
    log_in(client, member)
    _answer(client, _event_row(), party_size="2")
    join = _rsvps_sent(twin)[0]
    reject = twin.activity("Reject", {"id": join["id"], "type": "Join"})
    reject["refusalReason"] = "full"

    assert twin.post(client, reject).status_code == 202

    assert _rsvp().state == "full"
    page = text_of(client.get(f"/twins/events/{_event_row().id}"))
    assert "Full" in page and "no places are held for you" in page
    assert "Full" in text_of(client.get("/account"))


def test_a_forged_answer_from_a_third_group_is_refused(client, member, twin, remote):  # noqa: F811
    intruder = FakePeer(3)
    twin_with(client, intruder, remote)
    log_in(client, member)
    _answer(client, _event_row())
    join = _rsvps_sent(twin)[0]

    forged = intruder.activity("Accept", {"id": join["id"], "type": "Join"})
    assert intruder.post(client, forged).status_code == 403

    assert _rsvp().state == "pending"


def test_cancelling_sends_an_undo_of_the_rsvp(client, member, twin):
    log_in(client, member)
    row = _event_row()
    _answer(client, row, party_size="2")
    join = _rsvps_sent(twin)[0]

    answer = post_form(client, f"/twins/events/{row.id}/cancel", page=f"/twins/events/{row.id}")

    assert answer.status_code == 302
    undo = _rsvps_sent(twin)[-1]
    assert undo["type"] == "Undo" and undo["object"]["id"] == join["id"]
    assert undo["object"]["object"] == join["object"] and "attendeeName" not in undo["object"]
    assert _rsvp().state == "cancelled"
    # A late answer to the cancelled RSVP changes nothing; a new answer starts afresh.
    twin.post(client, twin.activity("Accept", {"id": join["id"], "type": "Join"}))
    assert _rsvp().state == "cancelled"
    _answer(client, row)
    again = _rsvps_sent(twin)[-1]
    assert again["type"] == "Join" and again["id"] != join["id"]


def test_events_of_groups_that_are_not_twins_cannot_be_answered(
    client,
    member,
    group,
    remote,  # noqa: F811
):
    peer = FakePeer(2)
    follow_peer(peer, remote)
    publish_event(client, peer, "rally")
    log_in(client, member)

    assert client.get(f"/twins/events/{_event_row().id}").status_code == 404
    assert _answer(client, _event_row()).status_code == 404
    assert _rsvp() is None
    assert "Events of twinned groups" not in text_of(client.get("/account"))


def test_nothing_about_the_member_but_what_they_chose_leaves_this_node(
    client,
    twin,
    remote,  # noqa: F811
):
    """Every body this node sends, for every step, carries no e-mail, member id or account."""
    sam = factories.member(email="sam.private@example.org", display_name="Sam Shared")
    quiet = factories.member(email="quiet.private@example.org", display_name="Quiet Person")
    row = _event_row()
    log_in(client, sam)
    _answer(client, row, party_size="2")
    _answer(client, row, party_size="3", response="maybe")
    post_form(client, f"/twins/events/{row.id}/cancel", page=f"/twins/events/{row.id}")
    post_form(client, "/logout", page="/account")
    log_in(client, quiet)
    _answer(client, row, share="count")
    outgoing_rsvps.send(quiet, row.id, "not_going", 1, "count")

    bodies = [json.dumps(body) for _inbox, body in sent()]
    bodies += list(db.session.scalars(select(FeedEntry.body)))
    assert len(bodies) >= 6
    everything = "\n".join(bodies)
    for person in (sam, quiet):
        assert person.email not in everything
        assert f"/members/{person.id}" not in everything
    assert "/account" not in everything
    assert "Quiet Person" not in everything  # shared only the count
    assert everything.count("Sam Shared") == 2  # the Join and its Update, as Sam chose
    for text in bodies:
        _assert_no_personal_keys(json.loads(text))


def _assert_no_personal_keys(value) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            assert not any(word in key.lower() for word in ("email", "member", "mail")), key
            _assert_no_personal_keys(inner)
    elif isinstance(value, list):
        for inner in value:
            _assert_no_personal_keys(inner)


def test_leaving_withdraws_answers_to_twins_events_with_an_undo_that_names_no_one(
    client, member, twin
):
    log_in(client, member)
    row = _event_row()
    _answer(client, row, share="name")
    join = _rsvps_sent(twin)[0]
    assert join["attendeeName"] == member.display_name
    left = post_form(client, "/account/leave", {"password": factories.PASSWORD})
    assert left.status_code == 302
    db.session.expire_all()
    queued = _rsvps_sent(twin)
    # The Join that carried the member's name is gone from the queue; the Undo names no one.
    assert [body["type"] for body in queued] == ["Undo"]
    undo = queued[0]
    assert undo["object"]["id"] == join["id"]
    assert member.display_name not in json.dumps(undo)
    assert db.session.scalar(select(func.count()).select_from(OutgoingRsvp)) == 0


def test_the_network_page_links_a_twins_event_to_the_members_own_page(client, member, twin):
    log_in(client, member)
    row = _event_row()

    page = text_of(client.get("/network/?kind=events"))
    assert f'<a href="/twins/events/{row.id}">Canvass in Hull</a>' in page
    assert "Say if you are going" in page and "On their site" in page

    assert _answer(client, row).status_code == 302
    page = text_of(client.get("/network/?kind=events"))
    assert "Your answer: <strong>Going</strong> (Pending)" in page
