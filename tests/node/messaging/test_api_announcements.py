"""The announcements API: draft, get with counts, change, count, send or schedule, cancel."""

from __future__ import annotations

import pytest

from node.extensions import db
from node.models import Rsvp
from node.services import mail
from node.services.messaging import preferences
from tests import factories
from tests.node.mail_support import smtp_settings


@pytest.fixture
def app_config(app_config, mailbox):
    return smtp_settings(app_config, mailbox)


@pytest.fixture
def announcer(organiser):
    return factories.token(organiser, "announce")


def test_a_token_without_the_announce_scope_is_refused(api, organiser, member):
    assert api.get("/announcements", factories.token(organiser, "write")).status_code == 403
    assert api.get("/announcements", factories.token(member)).status_code == 403


def test_bad_fields_are_a_400_naming_each(api, announcer):
    answer = api.post(
        "/announcements",
        announcer,
        json={"subject": "", "audience": "everyone", "colour": "red"},
    )
    assert answer.status_code == 400
    assert {"subject", "body", "audience", "colour"} <= set(answer.get_json()["fields"])
    answer = api.post(
        "/announcements",
        announcer,
        json={"subject": "S", "body": "B", "audience": "event_going", "audience_ref": 999},
    )
    assert answer.status_code == 400 and set(answer.get_json()["fields"]) == {"audience_ref"}
    assert api.get("/announcements", announcer).get_json()["total"] == 0


def test_draft_count_send_and_follow_an_announcement(api, announcer, organiser, mailbox):
    event = factories.event(title="Saturday stall")
    going, off = factories.member(), factories.member()
    for person in (going, off):
        db.session.add(Rsvp(event_id=event.id, member_id=person.id, response="going"))
    preferences.set_choice(off, "announcement", "off")
    db.session.commit()

    made = api.post(
        "/announcements",
        announcer,
        json={
            "subject": "Bring leaflets",
            "body": "**10:00** at the market",
            "audience": "event_going",
            "audience_ref": event.id,
        },
    )
    assert made.status_code == 201
    found = made.get_json()
    assert found["status"] == "draft" and found["reach"] == 1
    assert "Saturday stall" in found["audience_description"]
    assert made.headers["Location"].endswith(f"/api/v1/announcements/{found['id']}")
    one = f"/announcements/{found['id']}"

    changed = api.patch(one, announcer, json={"subject": "Bring more leaflets"})
    assert changed.status_code == 200 and changed.get_json()["subject"] == "Bring more leaflets"
    assert api.get(f"{one}/reach", announcer).get_json() == {"reach": 1}

    sent = api.post(f"{one}/send", announcer, json={})
    assert sent.status_code == 200
    assert sent.get_json()["status"] == "sent" and sent.get_json()["recipients"] == 1
    mail.send_due(limit=10)
    assert [to for _, to, _ in mailbox.received] == [[going.email]]
    got = api.get(one, announcer).get_json()
    assert got["counts"]["sent"] == 1 and got["reach"] is None
    assert api.post(f"{one}/cancel", announcer).status_code == 409
    assert api.patch(one, announcer, json={"subject": "Too late"}).status_code == 409
    listed = api.get("/announcements", announcer).get_json()
    assert listed["total"] == 1 and listed["items"][0]["counts"]["sent"] == 1


def test_schedule_needs_an_offset_and_a_future_time_then_cancel(api, announcer):
    one = "/announcements/{}".format(
        api.post("/announcements", announcer, json={"subject": "S", "body": "B"}).get_json()["id"]
    )
    naive = api.post(f"{one}/send", announcer, json={"send_at": "2031-01-01T10:00:00"})
    assert naive.status_code == 400 and "send_at" in naive.get_json()["fields"]
    past = api.post(f"{one}/send", announcer, json={"send_at": "2001-01-01T10:00:00Z"})
    assert past.status_code == 400 and "send_at" in past.get_json()["fields"]
    later = factories.soon(2).isoformat()
    scheduled = api.post(f"{one}/send", announcer, json={"send_at": later})
    assert scheduled.status_code == 200 and scheduled.get_json()["status"] == "scheduled"
    cancelled = api.post(f"{one}/cancel", announcer)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"


def test_a_required_announcement_needs_rules_require(api, announcer, member):
    made = api.post(
        "/announcements", announcer, json={"subject": "AGM", "body": "B", "kind": "required"}
    ).get_json()
    refused = api.post(f"/announcements/{made['id']}/send", announcer, json={})
    assert refused.status_code == 400 and set(refused.get_json()["fields"]) == {"rules_require"}
    sent = api.post(f"/announcements/{made['id']}/send", announcer, json={"rules_require": True})
    assert sent.status_code == 200 and sent.get_json()["recipients"] == 2
