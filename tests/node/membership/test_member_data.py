"""A member sees and downloads everything held about them, and can leave the group."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from node.extensions import db
from node.models import (
    ApiToken,
    Ballot,
    BallotPaper,
    BallotVoter,
    Event,
    Member,
    Rsvp,
    Shift,
    ShiftSignup,
)
from node.services.organising import events, shifts
from node.services.voting import ballots, votes
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.pages_support import field_error


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _busy_member():
    """A member with an RSVP, a shift, a vote and a token, beside another member's data."""
    person = factories.member(display_name="Chris Leaving", email="chris@example.org")
    other = factories.member(display_name="Dee Staying", email="dee@example.org")
    event = factories.event(title="Saturday stall", capacity=10)
    events.respond(event, person, "going")
    events.respond(event, other, "going")
    shift = factories.shift(event.id, label="Setting up", capacity=1)
    shifts.sign_up(shift, person)
    shifts.sign_up(shift, other)  # waits behind them
    ballot = factories.ballot(
        question="Back the bus campaign?", freeze_at=factories.soon(1), closes_at=factories.soon(2)
    )
    votes.cast(ballot, person, [0])
    votes.cast(ballot, other, [1])
    secret = factories.token(person, "read")
    return person, other, event, shift, ballot, secret


def test_the_export_holds_the_members_own_data_and_no_one_elses(client, group):
    person, _other, event, _shift, ballot, secret = _busy_member()
    log_in(client, person)
    download = client.get("/account/data.json")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["Cache-Control"] == "no-store"
    document = json.loads(download.get_data(as_text=True))
    assert document["profile"]["email"] == "chris@example.org"
    assert [r["event_title"] for r in document["rsvps"]] == ["Saturday stall"]
    assert [(s["shift"], s["state"]) for s in document["shift_signups"]] == [
        ("Setting up", "going")
    ]
    assert document["ballots_voted_in"] == [
        {"ballot_id": ballot.id, "question": "Back the bus campaign?", "voted": True}
    ]
    text = json.dumps(document)
    assert "dee@example.org" not in text and "Dee Staying" not in text
    assert secret not in text  # tokens are listed, never their secrets
    page = client.get("/account/data").get_data(as_text=True)
    assert "Saturday stall" in page and "Dee Staying" not in page


def test_the_export_cannot_say_how_the_member_voted(client, group):
    person, *_rest, ballot, _secret = _busy_member()
    log_in(client, person)
    document = client.get("/account/data.json").get_json()
    [voted] = document["ballots_voted_in"]
    assert set(voted) == {"ballot_id", "question", "voted"}
    paper = db.session.scalar(select(BallotPaper).where(BallotPaper.ballot_id == ballot.id))
    assert paper.receipt not in json.dumps(document)


def test_the_api_gives_the_same_export_to_the_tokens_member(api, group):
    person, *_rest, secret = _busy_member()
    answer = api.get("/me/data", secret)
    assert answer.status_code == 200
    assert answer.get_json()["profile"]["email"] == "chris@example.org"
    assert api.get("/me/data").status_code == 401


def test_leaving_needs_the_password_and_changes_nothing_without_it(client, group):
    person, *_rest = _busy_member()
    log_in(client, person)
    refused = post_form(client, "/account/leave", {"password": "not my password"})
    assert refused.status_code == 400
    assert field_error(refused.get_data(as_text=True), "password")
    assert db.session.get(Member, person.id) is not None
    assert _count(Rsvp) == 2 and _count(ShiftSignup) == 2 and _count(ApiToken) == 1


def test_the_groups_only_admin_is_told_they_cannot_leave(client, admin):
    log_in(client, admin)
    assert client.get("/account/leave").status_code == 409
    refused = post_form(
        client, "/account/leave", {"password": factories.PASSWORD}, page="/account/leave"
    )
    assert refused.status_code == 409
    assert "only admin" in refused.get_data(as_text=True)
    assert db.session.get(Member, admin.id) is not None


def test_leaving_deletes_the_member_and_keeps_only_counts(client, group):
    person, other, event, shift, ballot, _secret = _busy_member()
    past = factories.event(starts_at=datetime.now(UTC) - timedelta(days=3))
    events.update(past, {})  # a past event they came to keeps their place in its count
    past_row = db.session.get(Event, past.id)
    past_row.going_count = 1
    db.session.add(Rsvp(event_id=past.id, member_id=person.id, response="going"))
    db.session.commit()
    ids = {"person": person.id, "event": event.id, "past": past.id, "shift": shift.id}
    ids |= {"other": other.id, "ballot": ballot.id}
    log_in(client, person)
    left = post_form(client, "/account/leave", {"password": factories.PASSWORD})
    assert left.status_code == 302
    db.session.expire_all()
    assert db.session.get(Member, ids["person"]) is None
    assert db.session.scalar(select(Member).where(Member.email == "chris@example.org")) is None
    assert _count(ApiToken) == 0
    assert db.session.scalar(select(func.count()).where(Rsvp.member_id == ids["person"])) == 0
    assert db.session.get(Event, ids["event"]).going_count == 1  # their place is free again
    assert db.session.get(Event, ids["past"]).going_count == 1  # the past count stands
    # Their shift place went to the member waiting for it.
    assert (
        shifts.signup_of(
            db.session.get(Shift, ids["shift"]), db.session.get(Member, ids["other"])
        ).state
        == "going"
    )
    # Their vote stays as a count: the paper is kept, and that they voted, but not who they are.
    assert (
        db.session.scalar(select(func.count()).where(BallotVoter.member_id == ids["person"])) == 0
    )
    assert db.session.scalar(select(func.count()).where(BallotVoter.member_id.is_(None))) == 1
    ballots.close(db.session.get(Ballot, ids["ballot"]), early=True)
    assert ballots.result(db.session.get(Ballot, ids["ballot"]))["voters_count"] == 2
    # The session is gone with them.
    assert "/login" in client.get("/account").headers["Location"]
