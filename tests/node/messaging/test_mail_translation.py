"""Mail speaks the node's language: subjects, bodies, greeting, footer and the kinds' labels.

A small Welsh catalogue is compiled for these tests; a real message is then queued in a
request (an invitation, a waiting-list place), and by a worker pass (a reminder, composed in
an app context with no request), and read back from the outbox table or the SMTP server.
The kinds' labels and the Manage messages form (audiences, field labels) are read in Welsh too.
(The English of one whole message is pinned word for word in
organising/test_event_waitlist.py.)
"""

from __future__ import annotations

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from sqlalchemy import select

from node.extensions import babel, db
from node.models import OutboundMail
from node.services.organising import event_notices, events, waitlist
from node.worker import Worker
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.mail_support import plain, smtp_settings

WELSH = {
    "Your invitation to join %(group)s": "Eich gwahoddiad i ymuno â %(group)s",
    "%(who)s invited you to join %(group)s on Branchline as %(role)s.": (
        "Mae %(who)s wedi eich gwahodd i ymuno â %(group)s ar Branchline fel %(role)s."
    ),
    "an organiser": "trefnydd",
    "Hello %(name)s,": "Helo %(name)s,",
    "You have a place: %(title)s": "Mae gennych le: %(title)s",
    "You are sent this because: %(label)s.": "Anfonir hwn atoch oherwydd: %(label)s.",
    "You are sent this because you get: %(label)s.": (
        "Anfonir hwn atoch oherwydd eich bod yn cael: %(label)s."
    ),
    "Your account: password resets, invitations, confirmations": (
        "Eich cyfrif: ailosod cyfrinair, gwahoddiadau, cadarnhadau"
    ),
    "Changes to events you are going to: cancelled, moved, places, lifts": (
        "Newidiadau i ddigwyddiadau rydych yn mynd iddynt"
    ),
    "Reminders the day before events and shifts you signed up for": (
        "Nodiadau atgoffa y diwrnod cynt"
    ),
    "Reminder: %(title)s": "Nodyn atgoffa: %(title)s",
    "A reminder from %(group)s: you said you are going to": (
        "Nodyn atgoffa gan %(group)s: dywedoch eich bod yn mynd i"
    ),
    "Stop these with one click: %(link)s": "Atal y rhain gydag un clic: %(link)s",
    "Stop these with one click": "Atal y rhain gydag un clic",
    "Members going to an event": "Aelodau sy'n mynd i ddigwyddiad",
    "Send to": "Anfon at",
}
# Welsh has six forms of a count (zero, one, two, few, many, other).
WELSH_PLURALS = {
    ("%(num)d person going", "%(num)d people going"): (
        "%(num)d o bobl yn mynd",
        "%(num)d person yn mynd",
        "%(num)d berson yn mynd",
        "%(num)d pherson yn mynd",
        "%(num)d pherson yn mynd",
        "%(num)d o bobl yn mynd",
    ),
}


@pytest.fixture
def app_config(app_config, tmp_path, mailbox):
    welsh = Catalog(locale="cy")
    for english, translated in WELSH.items():
        welsh.add(english, translated)
    for english, translated in WELSH_PLURALS.items():
        welsh.add(english, translated)
    folder = tmp_path / "translations" / "cy" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "messages.mo", "wb") as out:
        write_mo(out, welsh)
    return {
        **smtp_settings(app_config, mailbox),
        "BABEL_DEFAULT_LOCALE": "cy",
        "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path / "translations"),
    }


@pytest.fixture(autouse=True)
def fresh_translations(app):
    # Flask-Babel caches a language's catalogue on the one Babel object every app in this
    # process shares: start and end with none, so no other test reads this catalogue.
    babel.domain_instance.cache.clear()
    yield
    babel.domain_instance.cache.clear()


def _mail_to(address: str) -> OutboundMail:
    db.session.expire_all()
    return db.session.scalars(select(OutboundMail).where(OutboundMail.to_address == address)).one()


def test_an_invitation_sent_from_a_request_is_in_welsh(client, organiser, group):
    log_in(client, organiser)
    response = post_form(
        client,
        "/manage/members/invite",
        {"role": "organiser", "email": "sam@example.org", "display_name": "Sam"},
    )
    assert response.status_code == 200

    sent = _mail_to("sam@example.org")
    assert sent.subject == f"Eich gwahoddiad i ymuno â {group.name}"
    assert sent.body.startswith("Helo Sam,\n\n")
    assert (
        f"Mae {organiser.display_name} wedi eich gwahodd i ymuno â {group.name} ar Branchline "
        "fel trefnydd." in sent.body
    )
    assert "Anfonir hwn atoch oherwydd: Eich cyfrif: ailosod cyfrinair" in sent.body
    assert "<p>Helo Sam,</p>" in sent.html
    assert "invited you" not in sent.body and "Hello" not in sent.body


def test_a_waiting_list_place_given_in_a_request_is_mailed_in_welsh(client, group):
    event = factories.event(title="Drws i ddrws", capacity=1)
    going, waiting = factories.member(), factories.member()
    events.respond(event, going, "going")
    waitlist.join(event, waiting)

    log_in(client, going)
    post_form(
        client, f"/events/{event.id}/rsvp", {"action": "withdraw"}, page=f"/events/{event.id}"
    )

    sent = _mail_to(waiting.email)
    assert sent.subject == "Mae gennych le: Drws i ddrws"
    assert sent.body.startswith(f"Helo {waiting.display_name},\n\n")
    assert "Anfonir hwn atoch oherwydd eich bod yn cael: Newidiadau i ddigwyddiadau" in sent.body
    assert "Atal y rhain gydag un clic: http" in sent.body
    assert "Atal y rhain gydag un clic</a>" in sent.html
    # A message the catalogue lacks stays in English, in the same mail.
    assert "Choose what you get" in sent.body


def test_a_reminder_queued_and_sent_by_a_worker_pass_is_in_welsh(app, group, mailbox):
    event = factories.event(title="Stondin", starts_at=factories.soon(0.5))
    member = factories.member()
    events.respond(event, member, "going")

    report = Worker(app).run_once()  # its own app context, and no request
    assert (report.noticed, report.mailed) == (1, 1)

    # Sent, the outbox row keeps no body: read the message as it arrived.
    [(_, to, message)] = mailbox.received
    assert to == [member.email]
    assert message["Subject"] == "Nodyn atgoffa: Stondin"
    text = plain(message)
    assert f"Nodyn atgoffa gan {group.name}: dywedoch eich bod yn mynd i" in text
    assert "Anfonir hwn atoch oherwydd eich bod yn cael: Nodiadau atgoffa" in text
    assert "A reminder from" not in text


def test_a_count_of_people_takes_the_welsh_form_for_its_number(app, group):
    said = [event_notices.describe(event_notices.Audience(going, 0)) for going in (1, 2, 3, 6, 7)]
    assert said == [
        "1 person yn mynd",
        "2 berson yn mynd",
        "3 pherson yn mynd",
        "6 pherson yn mynd",
        "7 o bobl yn mynd",
    ]


def test_the_preferences_page_shows_the_kinds_in_welsh(client, member):
    log_in(client, member)
    html = client.get("/account/mail").get_data(as_text=True)
    assert "Nodiadau atgoffa y diwrnod cynt" in html
    assert "Reminders the day before" not in html


def test_the_manage_messages_form_names_audiences_and_fields_in_welsh(client, organiser):
    log_in(client, organiser)
    html = client.get("/manage/messages/new").get_data(as_text=True)
    assert "Aelodau sy&#39;n mynd i ddigwyddiad" in html
    assert "Anfon at" in html and "Members going to an event" not in html
