"""Build test data through the services, so tests see what real use would store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from node.extensions import db
from node.models import Ballot, Campaign, Candidate, Event, Group, Member, Post, Shift
from node.services.membership import passwords, tokens
from node.services.voting import ballot_tellers, ballots

PASSWORD = "correct horse battery"
_HASH: list[str] = []
_serial = count(1)


def _password_hash() -> str:
    if not _HASH:  # Argon2 is slow on purpose: hash the shared test password once
        _HASH.append(passwords.hash_password(PASSWORD))
    return _HASH[0]


def group(**fields) -> Group:
    values = {
        "name": "Leeds North Momentum",
        "handle": "leedsnorth",
        "base_url": "http://localhost",
        "summary": "Organising in Leeds North East.",
        "area": "Leeds",
        "seat_name": "Leeds North East",
        "timezone": "Europe/London",
    }
    values.update(fields)
    found = Group(**values)
    db.session.add(found)
    db.session.commit()
    return found


def member(role: str = "member", email: str | None = None, **fields) -> Member:
    n = next(_serial)
    values = {
        "email": email or f"person{n}@example.org",
        "display_name": fields.pop("display_name", f"Person {n}"),
        "role": role,
        "status": "active",
        "password_hash": _password_hash(),
    }
    values.update(fields)
    found = Member(**values)
    db.session.add(found)
    db.session.commit()
    return found


def token(who: Member, *scopes: str) -> str:
    return tokens.create_personal(who, scopes or None)


def soon(days: float = 7) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)


def campaign(**fields) -> Campaign:
    values = {
        "title": f"Campaign {next(_serial)}",
        "kind": "community",
        "status": "active",
        "visibility": "public",
        "summary": "Save the library",
    }
    values.update(fields)
    found = Campaign(**values)
    db.session.add(found)
    db.session.commit()
    return found


def event(**fields) -> Event:
    values = {
        "title": f"Event {next(_serial)}",
        "kind": "canvass",
        "starts_at": soon(),
        "status": "scheduled",
        "visibility": "public",
        "timezone": "Europe/London",
        "going_count": 0,
    }
    values.update(fields)
    found = Event(**values)
    db.session.add(found)
    db.session.commit()
    return found


def shift(event_id: int | None = None, **fields) -> Shift:
    """A two-hour shift at the start of its event (a new event unless one is given)."""
    found_event = db.session.get(Event, event_id) if event_id else event()
    values = {
        "event_id": found_event.id,
        "label": f"Shift {next(_serial)}",
        "starts_at": found_event.starts_at,
        "ends_at": found_event.starts_at + timedelta(hours=2),
        "capacity": None,
        "going_count": 0,
    }
    values.update(fields)
    found = Shift(**values)
    db.session.add(found)
    db.session.commit()
    return found


def candidate(**fields) -> Candidate:
    values = {
        "name": f"Candidate {next(_serial)}",
        "office": "council_ward",
        "stage": "selected",
        "endorsement": "endorsed",
        "visibility": "public",
    }
    values.update(fields)
    found = Candidate(**values)
    db.session.add(found)
    db.session.commit()
    return found


def post(**fields) -> Post:
    values = {
        "title": f"News {next(_serial)}",
        "body": "Hello",
        "visibility": "public",
        "published_at": datetime.now(UTC) - timedelta(hours=1),
    }
    values.update(fields)
    found = Post(**values)
    db.session.add(found)
    db.session.commit()
    return found


def ballot(*, sealed: bool = False, tellers: list[Member] | None = None, **fields) -> Ballot:
    """An open yes/no ballot that any member who joined before now may vote in.

    Its freeze date comes after its opening, which the service refuses today (the roll is
    fixed before voting starts): it is written past the service, as a ballot set up before
    that rule would be, so a test can add voters after setting the ballot up.

    By default it is a legacy (unsealed) ballot, as ballots made before sealing are. With
    ``sealed=True`` it is sealed and dealt: ``tellers`` (three new members unless given,
    ``tellers_needed`` defaulting to 2 of 3) have taken and kept their codes, which are in
    ``ballot.teller_codes`` by member id.
    """
    now = datetime.now(UTC)
    values = {
        "question": f"Motion {next(_serial)}",
        "kind": "yes_no",
        "options": [],
        "seats": 1,
        "opens_at": now - timedelta(minutes=5),
        "closes_at": now + timedelta(days=3),
        "freeze_at": now,
        "allow_change": False,
        "visibility": "public",
    }
    values.update(fields)
    freeze = values["freeze_at"]
    late = freeze is not None and freeze > values["opens_at"]
    if sealed:
        tellers = tellers if tellers is not None else [member() for _ in range(3)]
        values["tellers"] = [t.id for t in tellers]
    created = ballots.create({**values, "freeze_at": values["opens_at"] if late else freeze}, None)
    if late:
        created.freeze_at = freeze
        db.session.commit()
    if not sealed:
        created.sealed = False  # as a ballot set up before sealing (the service seals all)
        db.session.commit()
        return created
    created.teller_codes = {}
    for teller in tellers:
        code = ballot_tellers.take_code(created, teller)
        ballot_tellers.confirm_code(created, teller, code)
        created.teller_codes[teller.id] = code
    return created
