"""Organisers' ask pages and the asks API: the queue, pass on, decline, writing, the counts."""

from __future__ import annotations

import json

from sqlalchemy import select

from node.extensions import db
from node.models import Announcement, AskReply, FeedEntry, OutboundAsk, Peer
from tests.conftest import log_in, post_form
from tests.node.api_support import ApiClient
from tests.node.messaging import ask_support


def test_queue_shows_the_ask_and_pass_on_opens_the_draft(client, organiser):
    ask = ask_support.received_ask()
    log_in(client, organiser)

    queue = client.get("/manage/asks/").get_data(as_text=True)
    assert "Canvass on Saturday" in queue and "Yorkshire Region" in queue
    page = client.get(f"/manage/asks/{ask.id}").get_data(as_text=True)
    assert "<strong>station</strong>" in page and "Saturday 10:00" in page
    assert ask.state == "new"  # reading changes nothing

    answer = post_form(client, f"/manage/asks/{ask.id}/pass-on", page=f"/manage/asks/{ask.id}")

    announcement = db.session.scalar(select(Announcement))
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/manage/messages/{announcement.id}"
    assert announcement.origin == f"ask:{ask.id}" and announcement.created_by_id == organiser.id
    again = post_form(client, f"/manage/asks/{ask.id}/pass-on", page="/manage/asks/")
    assert again.status_code == 302 and db.session.query(Announcement).count() == 1


def test_decline_and_mark_seen(client, organiser):
    ask = ask_support.received_ask()
    log_in(client, organiser)

    post_form(client, f"/manage/asks/{ask.id}/seen", page="/manage/asks/")
    assert db.session.get(type(ask), ask.id).state == "seen"
    answer = post_form(client, f"/manage/asks/{ask.id}/decline", page="/manage/asks/")

    assert answer.status_code == 302
    assert db.session.get(type(ask), ask.id).state == "declined"


def test_post_without_csrf_token_changes_nothing(client, organiser):
    ask = ask_support.received_ask()
    log_in(client, organiser)

    answer = client.post(f"/manage/asks/{ask.id}/decline")

    assert answer.status_code == 400
    assert db.session.get(type(ask), ask.id).state == "new"


def test_member_cannot_see_the_queue(client, member):
    log_in(client, member)

    assert client.get("/manage/asks/").status_code == 403
    assert client.get("/manage/asks/new").status_code == 403


def test_organiser_writes_an_ask_and_sees_the_counts(client, group, organiser):
    log_in(client, organiser)
    form = {
        "subject": "Canvass in Calder Valley",
        "body": "Twenty more, please.",
        "reach": "area",
        "latitude": "53.72",
        "longitude": "-1.86",
        "radius_km": "30",
        "area_name": "Calder Valley",
        "respond_by": "2031-05-01T18:00",
    }

    answer = post_form(client, "/manage/asks/new", form)

    assert answer.status_code == 302 and answer.headers["Location"].endswith("/manage/asks/sent")
    ask = db.session.scalar(select(OutboundAsk))
    assert ask.respond_by.hour == 17  # 18:00 in London in May is 17:00 UTC
    entry = json.loads(db.session.scalar(select(FeedEntry.body)))
    assert entry["type"] == "Offer" and entry["object"]["name"] == "Canvass in Calder Valley"
    for n, (outcome, members) in enumerate((("passed_on", 12), ("passed_on", 30), ("declined", 0))):
        peer = Peer(actor_id=f"http://127.0.0.{n + 2}/actor", name=f"Group {n + 2}")
        db.session.add(peer)
        db.session.flush()
        db.session.add(
            AskReply(
                ask_id=ask.id,
                peer_id=peer.id,
                outcome=outcome,
                members=members,
                activity_id=f"a{n}",
            )
        )
    db.session.commit()

    page = " ".join(client.get("/manage/asks/sent").get_data(as_text=True).split())
    assert "2 groups, 42 members" in page and "1 declined" in page
    assert "Group 2" in page and "Group 4" in page


def test_form_names_the_field_at_fault_and_writes_nothing(client, organiser):
    log_in(client, organiser)

    answer = post_form(
        client,
        "/manage/asks/new",
        {"subject": "S", "reach": "area", "latitude": "53", "longitude": "-1"},
    )

    assert answer.status_code == 400
    assert 'id="f-radius_km-error"' in answer.get_data(as_text=True)
    assert db.session.scalar(select(OutboundAsk)) is None
    assert db.session.scalar(select(FeedEntry)) is None


def test_unknown_postcode_district_is_refused_on_its_field(client, organiser):
    log_in(client, organiser)

    answer = post_form(
        client,
        "/manage/asks/new",
        {"subject": "S", "reach": "area", "postcode": "ZZ99", "radius_km": "5"},
    )

    assert answer.status_code == 400 and 'id="f-postcode-error"' in answer.get_data(as_text=True)
    assert db.session.scalar(select(FeedEntry)) is None


# The API ---------------------------------------------------------------------------------


def test_api_publishes_lists_and_refuses_bad_input(client, organiser_token):
    api = ApiClient(client)

    made = api.call(
        "POST", "/asks/sent", organiser_token, json={"subject": "Phonebank", "reach": "followers"}
    )
    bad = api.call("POST", "/asks/sent", organiser_token, json={"subject": "S", "reach": "area"})
    unknown = api.call("POST", "/asks/sent", organiser_token, json={"subject": "S", "names": ["x"]})

    assert made.status_code == 201, made.get_json()
    assert made.get_json()["reach"] == "followers" and made.get_json()["members_reached"] == 0
    assert bad.status_code == 400 and "radius_km" in bad.get_json()["fields"]
    assert unknown.status_code == 400 and "names" in unknown.get_json()["fields"]
    (listed,) = api.call("GET", "/asks/sent", organiser_token).get_json()["items"]
    assert listed["subject"] == "Phonebank"


def test_api_passes_on_once(client, organiser_token):
    api = ApiClient(client)
    ask = ask_support.received_ask()

    first = api.call("POST", f"/asks/received/{ask.id}/pass-on", organiser_token)
    second = api.call("POST", f"/asks/received/{ask.id}/decline", organiser_token)

    assert first.status_code == 201
    assert (
        first.get_json()["announcement_url"]
        == f"/manage/messages/{first.get_json()['announcement_id']}"
    )
    assert first.get_json()["ask"]["asked_by"] == "Yorkshire Region"
    assert second.status_code == 409
    (listed,) = api.call("GET", "/asks/received", organiser_token).get_json()["items"]
    assert listed["state"] == "passed_on"
