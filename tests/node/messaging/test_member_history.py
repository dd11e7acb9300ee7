"""A member's own mail: the messages they were sent on their account page, in their data
export, and gone with their choices and their address's record when they leave."""

from __future__ import annotations

from sqlalchemy import func, select

from node.extensions import db
from node.models import Announcement, MailAddress, MailPreference, OutboundMail
from node.services import mail
from node.services.messaging import outbox, preferences
from node.services.messaging.outbox import Recipient
from tests import factories
from tests.conftest import log_in, post_form


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _mail_for(person, *, other=None) -> Announcement:
    """Queue an announcement, a change notice and (turned off meanwhile) a reminder."""
    told = Announcement(subject="Stall on Saturday", body="Meet at **10**.", status="sent")
    db.session.add(told)
    db.session.flush()
    recipient = Recipient(person.email, person.display_name, person.id)
    everyone = [recipient] + ([Recipient(other.email, "", other.id)] if other else [])
    outbox.queue_many(
        everyone,
        "announcement",
        outbox.compose(told.subject, told.body),
        source=f"announcement:{told.id}",
    )
    outbox.queue(recipient, "reminder", "Tomorrow: stall", "Come.")
    db.session.commit()
    preferences.save(person, {"reminder": "off"})  # after queueing: the worker skips it
    mail.send_due()
    outbox.queue(recipient, "event_changes", "Cancelled: march", "It is off.")
    db.session.commit()
    return told


def test_the_account_page_lists_the_messages_sent_with_kind_and_state(client, member):
    _mail_for(member)
    log_in(client, member)
    page = client.get("/account").get_data(as_text=True)
    assert "Messages sent to you" in page
    for text in ("Stall on Saturday", "Tomorrow: stall", "Cancelled: march"):
        assert text in page
    assert "Waiting to be sent" in page and "Not sent: you turned it off" in page
    assert "Announcements from the group" in page  # the kind's label
    assert 'href="/account/mail"' in page and 'href="/account/messages"' in page
    assert "Meet at <strong>10</strong>." in page  # an announcement's text is kept

    full = client.get("/account/messages").get_data(as_text=True)
    assert full.index("Cancelled: march") < full.index("Stall on Saturday")  # newest first
    assert "Sent" in full


def test_a_member_sees_only_their_own_messages(client, member):
    other = factories.member(email="other@example.org")
    _mail_for(other, other=member)
    log_in(client, member)
    page = client.get("/account/messages").get_data(as_text=True)
    assert "Stall on Saturday" in page
    assert "Tomorrow: stall" not in page and "Cancelled: march" not in page


def test_the_export_holds_the_members_choices_and_messages(client, member):
    _mail_for(member)
    log_in(client, member)
    document = client.get("/account/data.json").get_json()
    choices = {row["kind"]: row["choice"] for row in document["mail_choices"]}
    assert choices["reminder"] == "off" and choices["news"] == "off"
    assert sorted((row["subject"], row["status"]) for row in document["mail"]) == [
        ("Cancelled: march", "queued"),
        ("Stall on Saturday", "logged"),
        ("Tomorrow: stall", "skipped"),
    ]
    assert document["mail_address"] is None  # no bounces, nothing stopped


def test_leaving_deletes_the_members_choices_messages_and_address_record(client, member):
    other = factories.member(email="other@example.org")
    _mail_for(member, other=other)
    preferences.save(other, {"news": "digest"})
    preferences.stop_all(member.email.upper())
    preferences.stop_all(other.email)
    db.session.commit()
    mine, theirs = member.id, other.id

    log_in(client, member)
    assert "what you chose to be sent" in client.get("/account/leave").get_data(as_text=True)
    assert post_form(client, "/account/leave", {"password": factories.PASSWORD}).status_code == 302

    db.session.expire_all()
    assert _count(MailPreference, MailPreference.member_id == mine) == 0
    assert _count(OutboundMail, OutboundMail.member_id == mine) == 0
    assert _count(MailAddress, MailAddress.address == member.email.lower()) == 0
    # The other member's are theirs, and stay.
    assert _count(MailPreference, MailPreference.member_id == theirs) == 1
    assert _count(OutboundMail, OutboundMail.member_id == theirs) == 1
    assert _count(MailAddress, MailAddress.address == "other@example.org") == 1
