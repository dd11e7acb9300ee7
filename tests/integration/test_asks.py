"""Two real nodes: a region asks, a group in its area passes the ask on, the region sees counts."""

from __future__ import annotations

import html
import json
import re

import pytest

from .support import Api, log_in, post_page_form, query, wait_until

pytestmark = pytest.mark.integration

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.\w")


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_region_s_ask_is_passed_on_by_a_group_and_comes_back_as_a_count(start_node):
    region = start_node("Yorkshire Region", "yorkshire")
    calder = start_node("Calder Valley Momentum", "caldervalley")
    far = start_node("Brighton Momentum", "brighton")
    # Calder Valley sits in Hebden Bridge; Brighton is 340 km away.
    calder_api = Api(calder)
    calder_api._call("PATCH", "/group", json={"latitude": 53.7419, "longitude": -2.0110})
    Api(far)._call("PATCH", "/group", json={"latitude": 50.8225, "longitude": -0.1372})
    calder.cli("member", "add", "jo.bloggs@caldervalley.test", "--name", "Jo Bloggs")
    for follower in (calder, far):
        follower.cli("follow", region.acct)
        wait_until(
            lambda follower=follower: query(
                follower, "SELECT state FROM following WHERE state = 'accepted'"
            ),
            f"the region accepts {follower.name}'s follow",
            explain=lambda follower=follower: follower.output()[-3000:],
        )

    # The region's organiser writes an ask to groups within 30 km of Halifax.
    organiser = log_in(region)
    published = post_page_form(
        organiser,
        region,
        "/manage/asks/new",
        {
            "subject": "Canvass in Calder Valley on Saturday",
            "body": "We need **twenty** more people.",
            "when": "Saturday 10:00",
            "where": "Hebden Bridge station",
            "reach": "area",
            "latitude": "53.7248",
            "longitude": "-1.8658",
            "radius_km": "30",
            "area_name": "Calder Valley",
        },
        page="/manage/asks/new",
    )
    assert published.status_code == 302, published.text[:2000]

    asks = wait_until(
        lambda: query(calder, "SELECT id, subject FROM inbound_ask"),
        "Calder Valley receives the region's ask",
        explain=lambda: calder.output()[-3000:] + region.output()[-3000:],
    )
    ((ask_id, subject),) = asks
    assert subject == "Canvass in Calder Valley on Saturday"

    # Calder Valley's organiser sees it in the queue and passes it on.
    calder_admin = log_in(calder)
    queue = _text(calder_admin.get(f"{calder.url}/manage/asks/", timeout=10).text)
    assert "Canvass in Calder Valley on Saturday" in queue and "Yorkshire Region" in queue
    passed = post_page_form(
        calder_admin,
        calder,
        f"/manage/asks/{ask_id}/pass-on",
        {},
        page=f"/manage/asks/{ask_id}",
    )
    assert passed.status_code == 302
    announcement_id = int(re.fullmatch(r".*/manage/messages/(\d+)", passed.headers["Location"])[1])
    ((kind, origin, status, body),) = query(
        calder, "SELECT kind, origin, status, body FROM announcement WHERE id = ?", announcement_id
    )
    assert (kind, origin, status) == ("network_ask", f"ask:{ask_id}", "draft")
    assert "Asked by Yorkshire Region" in body

    # The organiser sends it now, from the confirmation page: it goes to Calder Valley's
    # two members (Jo and the admin), and Calder's worker answers with that count.
    confirm = _text(
        calder_admin.get(f"{calder.url}/manage/messages/{announcement_id}/confirm", timeout=10).text
    )
    assert "2 people" in confirm, confirm[:2000]
    sent_now = post_page_form(
        calder_admin,
        calder,
        f"/manage/messages/{announcement_id}/send",
        {"when": "now"},
        page=f"/manage/messages/{announcement_id}/confirm",
    )
    assert sent_now.status_code == 302, sent_now.text[:2000]
    assert query(calder, "SELECT status, recipients FROM announcement") == [("sent", 2)]
    wait_until(
        lambda: query(region, "SELECT outcome, members FROM ask_reply"),
        "the region receives Calder Valley's answer",
        explain=lambda: calder.output()[-3000:] + region.output()[-3000:],
    )
    sent = _text(organiser.get(f"{region.url}/manage/asks/sent", timeout=10).text)
    assert "1 group, 2 members" in sent and "0 declined" in sent
    assert "Calder Valley Momentum" in sent

    # What left Calder Valley: a signed Accept with a count, nothing about anyone.
    ((reply,),) = query(
        calder, "SELECT body FROM delivery WHERE body LIKE '%AskOutcome%' ORDER BY id"
    )
    answer = json.loads(reply)
    assert answer["type"] == "Accept" and answer["result"]["reachedCount"] == 2
    assert answer["proof"]["proofValue"]
    assert EMAIL.search(reply) is None
    assert "Jo Bloggs" not in reply and "twenty" not in reply

    # Brighton follows the region too, but is far outside the area: nothing in its queue.
    assert query(far, "SELECT count(*) FROM inbound_ask") == [(0,)]
    assert query(far, "SELECT held_seq FROM peer")[0][0] >= 1  # it did get the entry
