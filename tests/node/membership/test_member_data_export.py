"""The download's exact shape: every section in order, each row's fields in order, and how
each value is written (times as ISO 8601, what an offer or a request leaves null)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from node.extensions import db
from node.models import (
    ApiClient,
    Invite,
    LoginFailure,
    MailAddress,
    OutboundMail,
    OutgoingRsvp,
    PasswordReset,
    Peer,
    RemoteObject,
    Twinning,
)
from node.services.messaging import preferences
from node.services.organising import carpools, events, shifts
from node.services.voting import votes
from tests import factories
from tests.conftest import log_in

START = datetime(2031, 5, 10, 9, tzinfo=UTC)
WHEN = datetime(2030, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)
AT = "2030-01-02T03:04:05.678900+00:00"

SECTIONS = {
    "rsvps": ["event_id", "event_title", "response", "answered_at", "changed_at"],
    "shift_signups": [
        "event_id",
        "event_title",
        "shift",
        "starts_at",
        "ends_at",
        "state",
        "signed_up_at",
    ],
    "carpools": [
        "event_id",
        "event_title",
        "kind",
        "from_place",
        "seats",
        "note",
        "riders_matched",
        "driver_matched",
        "created_at",
        "matched_at",
    ],
    "ballots_voted_in": ["ballot_id", "question", "voted"],
    "ballots_created": ["ballot_id", "question", "created_at"],
    "api_tokens": [
        "name",
        "scopes",
        "issued_to_client",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ],
    "oauth_clients": ["name", "client_id", "scopes", "created_at", "revoked_at"],
    "invitations_created": ["email", "role", "created_at", "expires_at", "used_at"],
    "invitations_for_you": ["email", "role", "created_at", "expires_at", "used_at"],
    "password_resets": ["requested_at", "expires_at", "used_at"],
    "twin_event_rsvps": [
        "event",
        "event_title",
        "group",
        "response",
        "party_size",
        "name_shared",
        "state",
        "answered_at",
        "changed_at",
    ],
    "twinnings": [
        "group",
        "state",
        "proposed_by_you",
        "answered_by_you",
        "proposed_at",
        "answered_at",
    ],
    "mail_choices": ["kind", "label", "choice"],
    "mail": ["subject", "kind", "status", "queued_at", "sent_at"],
}
MAIL_ADDRESS = [
    "bounces",
    "total_bounces",
    "last_bounce_at",
    "last_error",
    "suppressed_at",
    "stopped_at",
]


def _answer(person, twin, event: str, **fields) -> OutgoingRsvp:
    """The member's answer to a twinned group's event, given on WHEN."""
    ids = {"rsvp_id": event + "#rsvp", "activity_id": event + "#answer"}
    return OutgoingRsvp(
        member_id=person.id,
        peer_id=twin.id,
        event_object_id=event,
        created_at=WHEN,
        updated_at=WHEN,
        **ids,
        **fields,
    )


def _twinning(twin, direction: str, **fields) -> Twinning:
    """A twinning with ``twin`` proposed on WHEN."""
    ids = {
        "relationship_id": twin.actor_id + "#twins",
        "offer_activity_id": twin.actor_id + "#offer",
    }
    return Twinning(peer_id=twin.id, direction=direction, proposed_at=WHEN, **ids, **fields)


def _member_with_everything():
    """A member with a row in every section of the export."""
    person = factories.member(display_name="Chris Leaving", email="chris@example.org")
    driver = factories.member(email="dana@example.org")
    rider = factories.member(email="robin@example.org")
    stall = factories.event(title="Saturday stall", starts_at=START, ends_at=START + timedelta(1))
    later = START + timedelta(days=2)
    march = factories.event(title="Marche é", starts_at=later, ends_at=later + timedelta(1))
    events.respond(stall, person, "going")
    shifts.sign_up(factories.shift(stall.id, label="Setting up"), person)
    offer = carpools.offer(stall, person, "Leeds station", 3, "Room for a bike")
    carpools.match(carpools.ask(stall, rider, "Headingley", ""), offer)
    carpools.match(
        carpools.ask(march, person, "Harehills", "A stick"),
        carpools.offer(march, driver, "York", 2, ""),
    )
    ballot = factories.ballot(
        question="Back the bus?", freeze_at=factories.soon(1), closes_at=factories.soon(2)
    )
    ballot.created_by_id = person.id
    votes.cast(ballot, person, [0])
    factories.token(person, "read", "rsvp")
    twin, other_twin = (
        Peer(actor_id="https://twin.example/actor"),
        Peer(actor_id="https://other.example/actor"),
    )
    db.session.add_all([twin, other_twin])
    db.session.flush()
    db.session.add_all(
        [
            ApiClient(
                client_id="cid",
                secret_hash="x" * 64,
                name="App",
                scope="read rsvp",
                member_id=person.id,
                created_at=WHEN,
            ),
            Invite(
                token_hash="a" * 64,
                email="new@example.org",
                role="organiser",
                created_by_id=person.id,
                created_at=WHEN,
                expires_at=WHEN,
            ),
            Invite(
                token_hash="b" * 64,
                email="chris@example.org",
                created_at=WHEN,
                expires_at=WHEN,
                used_at=WHEN,
                used_by_id=person.id,
            ),
            PasswordReset(
                token_hash="c" * 64, member_id=person.id, created_at=WHEN, expires_at=WHEN
            ),
            RemoteObject(
                peer_id=twin.id,
                object_id="https://twin.example/e/1",
                object_type="Event",
                title="Twin do",
                data="{}",
            ),
            _answer(person, twin, "https://twin.example/e/1", response="going", party_size=2),
            _answer(
                person, twin, "https://twin.example/e/2", response="not_going", share_name=False
            ),
            _twinning(twin, "outgoing", state="accepted", proposed_by_id=person.id),
            _twinning(
                other_twin, "incoming", state="proposed", answered_by_id=person.id, answered_at=WHEN
            ),
            OutboundMail(
                to_address="Chris@Example.org",
                subject="Hello",
                body="b",
                message_id="m",
                created_at=WHEN,
            ),
            LoginFailure(account="chris@example.org", address="192.0.2.1", at=WHEN),
            MailAddress(address="chris@example.org", bounces=1, total_bounces=2, last_error="x"),
        ]
    )
    db.session.commit()
    preferences.save(person, {"news": "digest"})
    return person


def test_the_download_keeps_its_sections_and_fields_in_order(client, group):
    log_in(client, _member_with_everything())
    text = client.get("/account/data.json").get_data(as_text=True)
    document = json.loads(text)

    assert text.endswith("}\n") and "Marche é" in text  # indented, UTF-8 as it is
    assert list(document) == [
        "schema_version",
        "generated_at",
        "profile",
        *SECTIONS,
        "mail_address",
        "login_failures",
    ]
    assert document["schema_version"] == 1
    assert list(document["profile"]) == [
        "id",
        "email",
        "display_name",
        "role",
        "status",
        "joined_at",
        "last_login_at",
        "has_password",
    ]
    for section, names in SECTIONS.items():
        assert document[section], section
        assert [list(row) for row in document[section]] == [names] * len(document[section])
    assert list(document["mail_address"]) == MAIL_ADDRESS
    assert document["login_failures"] == {"count": 1, "at": [AT]}


def test_the_download_writes_each_value_as_before(client, group):
    log_in(client, _member_with_everything())
    document = json.loads(client.get("/account/data.json").get_data(as_text=True))

    assert document["profile"]["has_password"] is True
    datetime.fromisoformat(document["generated_at"])
    offer, request = document["carpools"]
    assert (offer["kind"], offer["seats"], offer["riders_matched"]) == ("offer", 3, 1)
    assert (offer["driver_matched"], offer["matched_at"]) == (None, None)
    assert (request["kind"], request["seats"], request["riders_matched"]) == ("request", None, None)
    assert request["driver_matched"] is True and request["matched_at"]
    assert document["shift_signups"][0]["starts_at"] == "2031-05-10T09:00:00+00:00"
    assert [token["scopes"] for token in document["api_tokens"]] == [["read", "rsvp"]]
    assert document["ballots_voted_in"] == [
        {
            "ballot_id": document["ballots_created"][0]["ballot_id"],
            "question": "Back the bus?",
            "voted": True,
        }
    ]
    assert document["oauth_clients"] == [
        {
            "name": "App",
            "client_id": "cid",
            "scopes": ["read", "rsvp"],
            "created_at": AT,
            "revoked_at": None,
        }
    ]
    assert [row["used_at"] for row in document["invitations_for_you"]] == [AT]
    assert document["password_resets"] == [{"requested_at": AT, "expires_at": AT, "used_at": None}]
    assert document["twin_event_rsvps"] == [
        {
            "event": "https://twin.example/e/1",
            "event_title": "Twin do",
            "group": "https://twin.example/actor",
            "response": "going",
            "party_size": 2,
            "name_shared": True,
            "state": "pending",
            "answered_at": AT,
            "changed_at": AT,
        },
        {
            "event": "https://twin.example/e/2",
            "event_title": None,  # an event this node does not hold
            "group": "https://twin.example/actor",
            "response": "not_going",
            "party_size": 1,
            "name_shared": False,
            "state": "pending",
            "answered_at": AT,
            "changed_at": AT,
        },
    ]
    assert [
        (row["group"], row["proposed_by_you"], row["answered_by_you"], row["answered_at"])
        for row in document["twinnings"]
    ] == [
        ("https://twin.example/actor", True, False, None),
        ("https://other.example/actor", False, True, AT),
    ]
    assert {
        "subject": "Hello",
        "kind": "account",
        "status": "queued",
        "queued_at": AT,
        "sent_at": None,
    } in document["mail"]
    choices = {row["kind"]: row["choice"] for row in document["mail_choices"]}
    assert (choices["news"], choices["announcement"], choices["account"]) == (
        "digest",
        "single",
        "single",
    )
    assert document["mail_address"]["total_bounces"] == 2


def test_the_page_shows_the_same_sections_as_the_download(client, group):
    log_in(client, _member_with_everything())
    page = client.get("/account/data").get_data(as_text=True)

    for section in ("profile", *SECTIONS, "mail_address", "login_failures"):
        assert f'id="data-{section}"' in page
    assert "Twin do" in page and "https://other.example/actor" in page


def test_the_page_says_it_in_words_and_in_the_groups_time_zone(client, group):
    group.timezone = "America/New_York"
    db.session.commit()
    log_in(client, _member_with_everything())
    page = client.get("/account/data").get_data(as_text=True)

    assert "You have set a password." in page
    assert "Apps you allowed" in page and "Keys you made for other programs" in page
    # 03:04 UTC on 2 January 2030 is the evening before in New York.
    assert "1 January 2030 at 22:04" in page
    assert "you said <strong>going</strong>" in page
    assert "you offered 3 seats from Leeds station, 1 rider matched" in page
    for raw in ("Has password", "True", "Oauth clients", "2030-01-02T03:04", "<table"):
        assert raw not in page
