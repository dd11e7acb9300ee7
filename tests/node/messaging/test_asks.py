"""Asks across the network: the signed ask on the feed, who keeps it, and the counts back."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from sqlalchemy import select

from node.extensions import db
from node.models import AskReply, Delivery, FeedEntry, Follower, InboundAsk, Peer
from node.services.asks import published, received, replies
from node.services.peering import peers
from tests.node.federation_support import (  # noqa: F401
    OUR_ACTOR,
    FakePeer,
    body_of,
    follow_peer,
    remote,
)

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.\w")

# Calder Valley (Hebden Bridge) and places near and far from it.
HEBDEN = (53.7419, -2.0110)
HALIFAX = (53.7248, -1.8658)  # about 10 km east
LEEDS = (53.8008, -1.5491)  # about 31 km east-north-east
LONDON = (51.5072, -0.1276)


def _ask_object(peer: FakePeer, slug: str = "1", *, reach: str = "area", **extra) -> dict:
    document = {
        "id": f"{peer.base}/asks/{slug}",
        "type": "Ask",
        "attributedTo": peer.actor,
        "name": "Canvass in Calder Valley on Saturday",
        "content": "<p>Meet at the station.</p>",
        "source": {"content": "Meet at the **station**.", "mediaType": "text/markdown"},
        "askWhen": "Saturday 10:00",
        "askWhere": "Hebden Bridge station",
        "askReach": reach,
        "published": "2030-01-01T10:00:00Z",
    }
    if reach == "area":
        document["location"] = {
            "type": "Place",
            "name": "Calder Valley",
            "latitude": HEBDEN[0],
            "longitude": HEBDEN[1],
            "radius": 30,
            "units": "km",
        }
    document.update(extra)
    return document


def _push(client, peer: FakePeer, activity: dict):
    body = body_of(activity)
    return client.post("/inbox", data=body, headers=peer.signed_headers(body))


def _place_group(group, where: tuple[float, float] | None) -> None:
    group.latitude, group.longitude = where if where else (None, None)
    db.session.commit()


def _queued() -> list[InboundAsk]:
    return list(db.session.scalars(select(InboundAsk).order_by(InboundAsk.id)))


# The ask as published ------------------------------------------------------------------


def _publish(organiser, **fields) -> published.OutboundAsk:
    data = {
        "subject": "Canvass in Calder Valley on Saturday",
        "body": "Meet at the **station**.",
        "when": "Saturday 10:00",
        "where": "Hebden Bridge station",
        "reach": "area",
        "postcode": None,
        "latitude": HEBDEN[0],
        "longitude": HEBDEN[1],
        "radius_km": 30.0,
        "area_name": "Calder Valley",
        "respond_by": datetime(2031, 5, 1, 18, 0, tzinfo=UTC),
        **fields,
    }
    return published.publish(data, by=organiser)


def test_ask_goes_on_the_feed_as_a_signed_offer_with_nothing_personal(app, group, organiser):
    ask = _publish(organiser)

    (entry,) = db.session.scalars(select(FeedEntry).where(FeedEntry.activity_type == "Offer"))
    document = json.loads(entry.body)
    assert document["id"] == ask.offer_activity_id and document["proof"]["proofValue"]
    obj = document["object"]
    assert obj["type"] == "Ask" and obj["id"] == ask.object_id
    assert obj["name"] == "Canvass in Calder Valley on Saturday"
    assert obj["source"]["content"] == "Meet at the **station**."
    assert "<strong>station</strong>" in obj["content"]
    assert (obj["askWhen"], obj["askWhere"], obj["askReach"]) == (
        "Saturday 10:00",
        "Hebden Bridge station",
        "area",
    )
    assert obj["location"]["radius"] == 30.0 and obj["location"]["units"] == "km"
    assert obj["respondBy"] == "2031-05-01T18:00:00Z"
    terms = document["@context"][-1]
    assert {"Ask", "askReach", "respondBy", "AskOutcome", "reachedCount"} <= set(terms)
    # Who wrote it stays on the node: no name, no address, no member id.
    assert organiser.email not in entry.body and organiser.display_name not in entry.body
    assert "organiser" not in entry.body


def test_ask_to_all_followers_has_no_area(app, group, organiser):
    ask = _publish(organiser, reach="followers", latitude=None, longitude=None, radius_km=None)

    obj = json.loads(db.session.scalar(select(FeedEntry.body)))["object"]
    assert obj["askReach"] == "followers" and "location" not in obj
    assert ask.all_followers


# Receiving: who keeps an ask -----------------------------------------------------------


def test_ask_is_kept_by_a_group_inside_its_area(client, group, remote):  # noqa: F811
    _place_group(group, HALIFAX)
    peer = FakePeer(2)
    follow_peer(peer, remote)

    answer = _push(client, peer, peer.entry("Offer", _ask_object(peer)))

    assert answer.status_code == 202, answer.get_json()
    (ask,) = _queued()
    assert ask.subject == "Canvass in Calder Valley on Saturday" and ask.state == "new"
    assert ask.body == "Meet at the **station**." and ask.when_text == "Saturday 10:00"
    assert 5 < ask.distance_km < 15 and ask.radius_km == 30
    assert received.asker_name(ask) == "Group 2"


def test_ask_is_not_kept_by_a_group_outside_its_area(client, group, remote):  # noqa: F811
    _place_group(group, LONDON)
    peer = FakePeer(2)
    follow_peer(peer, remote)

    answer = _push(client, peer, peer.entry("Offer", _ask_object(peer)))

    assert answer.status_code == 202
    assert _queued() == []


def test_ask_is_not_kept_by_a_group_with_no_location(client, group, remote):  # noqa: F811
    _place_group(group, None)
    peer = FakePeer(2)
    follow_peer(peer, remote)

    _push(client, peer, peer.entry("Offer", _ask_object(peer)))

    assert _queued() == []


def test_ask_to_all_followers_is_kept_wherever_the_group_is(client, group, remote):  # noqa: F811
    _place_group(group, LONDON)
    peer = FakePeer(2)
    follow_peer(peer, remote)

    _push(client, peer, peer.entry("Offer", _ask_object(peer, reach="followers")))

    (ask,) = _queued()
    assert ask.all_followers and ask.distance_km is None


def test_ask_from_a_group_not_followed_is_not_kept(client, group, remote):  # noqa: F811
    _place_group(group, HALIFAX)
    peer = FakePeer(2)
    peer.serve(remote)

    answer = _push(client, peer, peer.entry("Offer", _ask_object(peer)))

    assert answer.status_code == 202
    assert _queued() == []


def test_ask_whose_object_lives_elsewhere_is_not_kept(client, group, remote):  # noqa: F811
    _place_group(group, HALIFAX)
    peer = FakePeer(2)
    follow_peer(peer, remote)
    forged = _ask_object(peer, id="http://127.0.0.9/asks/1")

    _push(client, peer, peer.entry("Offer", forged))

    assert _queued() == []


def test_same_ask_pulled_again_is_kept_once(client, group, remote):  # noqa: F811
    _place_group(group, HALIFAX)
    peer = FakePeer(2)
    follow_peer(peer, remote)
    entry = peer.entry("Offer", _ask_object(peer))

    _push(client, peer, entry)
    _push(client, peer, entry)

    assert len(_queued()) == 1


# Deciding, and the answer back ---------------------------------------------------------


def _received(client, group, remote, reach="area"):  # noqa: F811
    _place_group(group, HALIFAX)
    peer = FakePeer(2)
    follow_peer(peer, remote)
    _push(client, peer, peer.entry("Offer", _ask_object(peer, reach=reach)))
    (ask,) = _queued()
    return peer, ask


def _answers_to(peer: FakePeer) -> list[dict]:
    rows = db.session.scalars(
        select(Delivery.body).where(Delivery.inbox == f"{peer.base}/inbox").order_by(Delivery.id)
    )
    return [json.loads(body) for body in rows if body]


def test_pass_on_makes_an_attributed_draft_for_all_members(client, group, remote, organiser):  # noqa: F811
    peer, ask = _received(client, group, remote)

    announcement = received.pass_on(ask, by=organiser)

    assert (announcement.kind, announcement.audience, announcement.status) == (
        "network_ask",
        "members",
        "draft",
    )
    assert announcement.origin == f"ask:{ask.id}"
    assert announcement.subject == ask.subject
    assert announcement.body.startswith("**Asked by Group 2**")
    assert "Meet at the **station**." in announcement.body
    assert ask.state == "passed_on" and ask.announcement_id == announcement.id


def test_answer_waits_until_the_announcement_is_sent_then_carries_only_a_count(
    client,
    group,
    remote,  # noqa: F811
    organiser,
):  # noqa: F811
    peer, ask = _received(client, group, remote)
    announcement = received.pass_on(ask, by=organiser)

    assert replies.send_due() == 0  # a draft: nothing to report yet
    announcement.status, announcement.recipients = "sent", 42
    announcement.sent_at = datetime(2031, 4, 30, 9, 0, tzinfo=UTC)
    db.session.commit()
    assert replies.send_due() == 1
    assert replies.send_due() == 0  # once only

    (accept,) = _answers_to(peer)
    assert accept["type"] == "Accept" and accept["actor"] == OUR_ACTOR
    assert accept["object"]["id"] == ask.offer_activity_id
    assert accept["result"] == {"type": "AskOutcome", "reachedCount": 42}
    assert accept["proof"]["proofValue"]
    text = json.dumps(accept)
    assert EMAIL.search(text) is None
    assert organiser.display_name not in text and "station" not in text


def test_decline_answers_with_a_reject(client, group, remote, organiser):  # noqa: F811
    peer, ask = _received(client, group, remote)

    received.decline(ask, by=organiser)
    replies.send_due()

    (reject,) = _answers_to(peer)
    assert reject["type"] == "Reject" and reject["object"]["id"] == ask.offer_activity_id


# The asker's inbox: answers ------------------------------------------------------------


def _follower(peer: FakePeer, remote) -> Peer:  # noqa: F811
    peer.serve(remote)
    stored = peers.refresh(peer.actor)
    db.session.add(Follower(peer_id=stored.id, state="accepted", follow_activity_id="x"))
    db.session.commit()
    return stored


def _answer(peer: FakePeer, ask, kind: str = "Accept", members: object = 12, **changes) -> dict:
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{peer.base}/activities/answer-{kind}",
        "type": kind,
        "actor": peer.actor,
        "object": {"id": ask.offer_activity_id, "type": "Offer", "actor": OUR_ACTOR},
        "result": {"type": "AskOutcome", "reachedCount": members},
    }
    activity.update(changes)
    return activity


def _replies() -> list[AskReply]:
    return list(db.session.scalars(select(AskReply)))


def test_follower_s_answer_is_kept_as_a_count(client, group, organiser, remote):  # noqa: F811
    ask = _publish(organiser)
    peer = FakePeer(2)
    _follower(peer, remote)

    answer = _push(client, peer, _answer(peer, ask))

    assert answer.status_code == 202, answer.get_json()
    summary = published.sent_one(ask.id)
    assert (summary.groups_passed_on, summary.members_reached, summary.groups_declined) == (
        1,
        12,
        0,
    )
    assert summary.replies[0].group == "Group 2"


def test_latest_answer_per_group_counts(client, group, organiser, remote):  # noqa: F811
    ask = _publish(organiser)
    peer = FakePeer(2)
    _follower(peer, remote)

    _push(client, peer, _answer(peer, ask, "Reject", 0))
    _push(client, peer, _answer(peer, ask, "Accept", 7))

    (reply,) = _replies()
    assert (reply.outcome, reply.members) == ("passed_on", 7)


def test_unsigned_answer_is_refused(client, group, organiser, remote):  # noqa: F811
    ask = _publish(organiser)
    peer = FakePeer(2)
    _follower(peer, remote)
    body = body_of(_answer(peer, ask))

    answer = client.post("/inbox", data=body, headers={"Content-Type": "application/activity+json"})

    assert answer.status_code in (400, 401)
    assert _replies() == []


def test_answer_whose_id_is_on_another_server_is_refused(client, group, organiser, remote):  # noqa: F811
    ask = _publish(organiser)
    peer = FakePeer(2)
    _follower(peer, remote)

    answer = _push(client, peer, _answer(peer, ask, id="http://127.0.0.9/activities/1"))

    assert answer.status_code == 403
    assert _replies() == []


def test_answer_about_someone_else_s_ask_is_refused(client, group, organiser, remote):  # noqa: F811
    ask = _publish(organiser)
    peer = FakePeer(2)
    _follower(peer, remote)
    other = {"id": "http://127.0.0.7/outbox/3", "type": "Offer", "actor": "http://127.0.0.7/actor"}

    answer = _push(client, peer, _answer(peer, ask, object=other))

    assert answer.status_code == 403
    assert _replies() == []


def test_answer_about_an_offer_of_ours_that_is_no_ask_is_refused(client, group, organiser, remote):  # noqa: F811
    ask = _publish(organiser)
    peer = FakePeer(2)
    _follower(peer, remote)
    made_up = {"id": "http://localhost/outbox/999", "type": "Offer", "actor": OUR_ACTOR}

    answer = _push(client, peer, _answer(peer, ask, object=made_up))

    assert answer.status_code == 403
    assert _replies() == []


def test_answer_from_a_group_that_does_not_follow_us_is_refused(client, group, organiser, remote):  # noqa: F811
    ask = _publish(organiser)
    peer = FakePeer(2)
    peer.serve(remote)

    answer = _push(client, peer, _answer(peer, ask))

    assert answer.status_code == 403
    assert _replies() == []


def test_answer_with_a_count_that_is_no_count_is_refused(client, group, organiser, remote):  # noqa: F811
    ask = _publish(organiser)
    peer = FakePeer(2)
    _follower(peer, remote)

    for members in (-1, "12", True, 10**9):
        answer = _push(
            client, peer, _answer(peer, ask, members=members, id=f"{peer.base}/a/{members}")
        )
        assert answer.status_code == 400, members

    assert _replies() == []
