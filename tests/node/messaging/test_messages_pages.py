"""The organisers' message pages: write, preview, test, confirm with the count, send, cancel."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models import Announcement, OutboundMail, Rsvp
from node.services import mail
from node.services.messaging import preferences
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.mail_support import smtp_settings


@pytest.fixture
def app_config(app_config, mailbox):
    return smtp_settings(app_config, mailbox)


def _write(client, **fields):
    data = {"subject": "Stall on Saturday", "body": "**Be there** at 10.", "audience": "members"}
    data.update(fields)
    return post_form(client, "/manage/messages/new", data)


def _only() -> Announcement:
    return db.session.scalars(select(Announcement)).one()


def test_members_get_403_on_every_message_page(app, client, member):
    log_in(client, member)
    assert client.get("/manage/messages/").status_code == 403
    assert client.get("/manage/messages/new").status_code == 403
    response = post_form(client, "/manage/messages/new", {"subject": "x"}, page="/account")
    assert response.status_code == 403


def test_a_form_without_its_csrf_token_is_refused(app, client, organiser):
    log_in(client, organiser)
    response = client.post("/manage/messages/new", data={"subject": "x", "body": "y"})
    assert response.status_code == 400
    assert db.session.scalar(select(Announcement.id)) is None


def test_bad_fields_are_a_400_naming_each_and_nothing_is_written(app, client, organiser):
    log_in(client, organiser)
    response = _write(client, subject="", body="", audience="event_going", audience_ref="x")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="f-subject-error"' in page and 'id="f-body-error"' in page
    assert 'id="f-audience_ref-error"' in page
    response = _write(client, audience="event_going", audience_ref="9999")
    assert response.status_code == 400 and 'id="f-audience_ref-error"' in response.get_data(
        as_text=True
    )
    assert db.session.scalar(select(Announcement.id)) is None


def test_organiser_writes_previews_confirms_and_sends_to_people_going(
    app, client, organiser, mailbox
):
    event = factories.event(title="Saturday stall")
    going, off = factories.member(), factories.member()
    factories.member()  # a member not going: not sent it
    for person in (going, off):
        db.session.add(Rsvp(event_id=event.id, member_id=person.id, response="going"))
    preferences.set_choice(off, "announcement", "off")
    db.session.commit()
    log_in(client, organiser)

    new = client.get(f"/manage/messages/new?audience=event_going&ref={event.id}")
    assert new.status_code == 200 and f'value="{event.id}"' in new.get_data(as_text=True)
    response = _write(client, audience="event_going", audience_ref=str(event.id))
    assert response.status_code == 302
    found = _only()
    assert response.headers["Location"].endswith(f"/manage/messages/{found.id}")

    page = client.get(f"/manage/messages/{found.id}").get_data(as_text=True)
    assert "<strong>Be there</strong>" in page and "Saturday stall" in page
    assert re.search(r'id="reach">1<', page)
    confirm = client.get(f"/manage/messages/{found.id}/confirm").get_data(as_text=True)
    assert "This will go to <strong>1</strong> person" in confirm

    sent = post_form(
        client,
        f"/manage/messages/{found.id}/send",
        {"when": "now"},
        page=f"/manage/messages/{found.id}/confirm",
    )
    assert sent.status_code == 302
    db.session.refresh(found)
    assert found.status == "sent" and found.recipients == 1
    mail.send_due(limit=10)
    assert [to for _, to, _ in mailbox.received] == [[going.email]]
    history = client.get("/manage/messages/").get_data(as_text=True)
    assert "Stall on Saturday" in history and "Saturday stall" in history


def test_a_test_send_reaches_only_the_organiser(app, client, organiser, member, mailbox):
    log_in(client, organiser)
    _write(client)
    found = _only()
    response = post_form(
        client, f"/manage/messages/{found.id}/test", page=f"/manage/messages/{found.id}"
    )
    assert response.status_code == 302
    mail.send_due(limit=10)
    [(_, to, message)] = mailbox.received
    assert to == [organiser.email] and message["Subject"] == "[Test] Stall on Saturday"


def test_a_required_message_needs_the_box_ticked(app, client, organiser, member):
    log_in(client, organiser)
    _write(client, kind="required")
    found = _only()
    confirm = f"/manage/messages/{found.id}/confirm"
    refused = post_form(client, f"/manage/messages/{found.id}/send", {"when": "now"}, page=confirm)
    assert refused.status_code == 400
    assert 'id="f-rules_require-error"' in refused.get_data(as_text=True)
    db.session.refresh(found)
    assert found.status == "draft"
    done = post_form(
        client,
        f"/manage/messages/{found.id}/send",
        {"when": "now", "rules_require": "1"},
        page=confirm,
    )
    assert done.status_code == 302
    db.session.refresh(found)
    assert found.status == "sent"


def test_schedule_for_later_in_the_groups_zone_then_cancel(app, client, organiser, member):
    log_in(client, organiser)
    _write(client)
    found = _only()
    confirm = f"/manage/messages/{found.id}/confirm"
    bad = post_form(
        client,
        f"/manage/messages/{found.id}/send",
        {"when": "later", "send_at": "soon"},
        page=confirm,
    )
    assert bad.status_code == 400 and 'id="f-send_at-error"' in bad.get_data(as_text=True)
    later = factories.soon(3).astimezone().strftime("%Y-%m-%dT%H:%M")
    done = post_form(
        client,
        f"/manage/messages/{found.id}/send",
        {"when": "later", "send_at": later},
        page=confirm,
    )
    assert done.status_code == 302
    db.session.refresh(found)
    assert found.status == "scheduled"
    page = client.get(f"/manage/messages/{found.id}").get_data(as_text=True)
    assert "Goes at" in page and "Cancel" in page
    post_form(client, f"/manage/messages/{found.id}/cancel", page=f"/manage/messages/{found.id}")
    db.session.refresh(found)
    assert found.status == "cancelled"
    assert db.session.scalar(select(OutboundMail.id)) is None


def test_the_event_and_ballot_pages_link_to_a_prefilled_message(app, client, organiser):
    event = factories.event()
    ballot = factories.ballot()
    log_in(client, organiser)
    attendance = client.get(f"/manage/events/{event.id}/attendance").get_data(as_text=True)
    assert f"/manage/messages/new?audience=event_going&amp;ref={event.id}" in attendance
    assert f"audience=event_waitlist&amp;ref={event.id}" in attendance
    ballot_page = client.get(f"/ballots/{ballot.id}").get_data(as_text=True)
    assert f"audience=ballot_not_voted&amp;ref={ballot.id}" in ballot_page
    assert "/manage/messages/new" in client.get("/manage/").get_data(as_text=True)
