"""The "Still coming?" links of an event's reminder: one-click yes and no that need no log-in.

A link's token is signed with the node's secret key and names who (a member, or a guest's
RSVP), which event and which answer, so nothing is stored per link. Opening it shows a
page naming the event and the answer with one button (a GET changes nothing: mail scanners
open every link); the button's POST records the answer through the RSVP services, so
places and waitlists stay right: "no" frees the place, "yes" takes one back if there is
room. The links work until the event is over.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from ...extensions import db
from ...models import Event, GuestRsvp, Member
from ..organising import events, guests
from .links import external_url

YES = "yes"
NO = "no"
MEMBER = "m"
GUEST = "g"
_SALT = "branchline.still-coming"


@dataclass(frozen=True)
class Answer:
    """What a link says: this member (or guest) is, or is not, still coming to this event."""

    event: Event
    answer: str
    member: Member | None = None
    guest: GuestRsvp | None = None

    @property
    def coming(self) -> bool:
        return self.answer == YES


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def token(who: str, who_id: int, event_id: int, answer: str) -> str:
    """Return the token of the link by which ``who`` answers ``answer`` for the event."""
    if who not in (MEMBER, GUEST) or answer not in (YES, NO):
        raise ValueError("a still-coming link is a member's or a guest's yes or no")
    return _serializer().dumps([who, who_id, event_id, answer])


def urls(who: str, who_id: int, event_id: int) -> tuple[str, str]:
    """Return the absolute yes and no links for one person and event."""
    return tuple(
        external_url("still_coming.page", token=token(who, who_id, event_id, answer))
        for answer in (YES, NO)
    )


def read(value: str) -> Answer | None:
    """Return what a token says, or None if it is not one of ours or names nothing now."""
    if len(value) > 500:
        return None
    try:
        who, who_id, event_id, answer = _serializer().loads(value)
    except (BadSignature, ValueError, TypeError):
        return None
    if answer not in (YES, NO) or not isinstance(who_id, int) or not isinstance(event_id, int):
        return None
    event = db.session.get(Event, event_id)
    if event is None:
        return None
    if who == MEMBER:
        member = db.session.get(Member, who_id)
        return Answer(event, answer, member=member) if member and member.is_active else None
    if who == GUEST:
        guest = db.session.scalar(
            select(GuestRsvp).where(GuestRsvp.id == who_id, GuestRsvp.event_id == event_id)
        )
        return Answer(event, answer, guest=guest) if guest and guest.email else None
    return None


def apply(found: Answer) -> None:
    """Record the answer through the RSVP services, which commit (or refuse with a Conflict)."""
    if found.member is not None:
        events.respond(found.event, found.member, "going" if found.coming else "not_going")
    elif found.coming:
        guests.confirm(found.guest)
    else:
        guests.cancel(found.guest)
