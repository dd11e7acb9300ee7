"""Notices members opt into: a new event, a news post, a ballot opening, a ballot closing.

The worker calls `send_due` each pass. Each notice is queued once: its key ("new_event:40",
"news:12", "new_ballot:7", "ballot_closing:7") goes into ``mail_notice`` in the same commit
as its messages (`once`), so a second worker, or a worker restarted half way, finds the key
taken and skips it. Nothing published before the node first ran this step (the
``started`` row), nor older than NOTICE_WINDOW_HOURS, is announced: a first deploy, or a
worker back after a long stop, does not flood members with old news.

Every notice goes only to members whose choice for its kind is ``single`` (the kinds
default to off: members opt in); the outbox checks that. A ballot's notices go to the
members who may vote in it; the closing one only to those who have not voted (the node
knows who voted, never how, and the message says nothing about anybody else).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Ballot, BallotVoter, Event, MailNotice, Member, Post
from ...models.types import utcnow
from ..groups import current_group
from ..voting import ballots, votes
from . import outbox
from .links import external_url
from .outbox import Recipient

STARTED = "started"
CLOSING_NOTICE = timedelta(hours=24)
# Marks older than this are of notices nothing could bring back: their items are past the
# window, their events started, their digest weeks over.
KEEP_MARKS = timedelta(days=35)


def once(key: str, now: datetime, queue: Callable[[], int]) -> int:
    """Mark ``key`` done and run ``queue`` in one commit; 0 if it was already done."""
    try:
        db.session.add(MailNotice(key=key[:120], created_at=now))
        db.session.flush()  # a clash shows here, before any message is made
        queued = queue()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # another worker got there first, or did so earlier
        return 0
    except Exception:
        db.session.rollback()
        raise
    return queued


def done(keys: Iterable[str]) -> set[str]:
    """Return those of ``keys`` already marked done."""
    wanted = list(keys)
    if not wanted:
        return set()
    return set(db.session.scalars(select(MailNotice.key).where(MailNotice.key.in_(wanted))))


def forget_old(now: datetime) -> int:
    """Delete the marks of notices too old to matter (never the start's); return how many."""
    keep = max(KEEP_MARKS, 2 * _window())  # never forget what the window could still see
    gone = db.session.execute(
        delete(MailNotice).where(MailNotice.created_at < now - keep, MailNotice.key != STARTED)
    ).rowcount
    db.session.commit()
    return gone


def started_at(now: datetime) -> datetime:
    """Return when the node began sending notices, marking it now if it never did."""
    found = db.session.scalar(select(MailNotice.created_at).where(MailNotice.key == STARTED))
    if found is not None:
        return found
    once(STARTED, now, lambda: 0)
    return db.session.scalar(select(MailNotice.created_at).where(MailNotice.key == STARTED))


def since(now: datetime) -> datetime:
    """Return the earliest publication a notice may be about."""
    return max(started_at(now), now - _window())


def _window() -> timedelta:
    return timedelta(hours=float(current_app.config.get("NOTICE_WINDOW_HOURS", 48)))


def when(starts_at: datetime, zone: str) -> str:
    """Show a start time in the event's zone, saying which zone."""
    return outbox.when(starts_at, zone)


@dataclass(frozen=True)
class Person:
    """What a notice needs of a member, read once (commits between notices expire rows)."""

    id: int
    email: str
    display_name: str
    joined_at: datetime


def members() -> list[Person]:
    """List the active members, who are the ones notices may go to."""
    rows = db.session.execute(
        select(Member.id, Member.email, Member.display_name, Member.joined_at)
        .where(Member.status == "active")
        .order_by(Member.id)
    )
    return [Person(*row) for row in rows]


def recipient(member: Person) -> Recipient:
    """Return the recipient a member is."""
    return Recipient(member.email, member.display_name, member.id)


def group_name() -> str:
    """Return the group's name for subjects and openings."""
    group = current_group()
    return " ".join(group.name.split()) if group is not None else gettext("the group")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def event_lines(event: Event) -> str:
    """Describe an event in two or three lines of Markdown."""
    where = _one_line(", ".join(part for part in (event.place_name, event.address) if part))
    link = external_url("pages.event", item_id=event.id)
    return (
        f"**{_one_line(event.title)}**  \n"
        + gettext("When: %(when)s", when=when(event.starts_at, event.timezone))
        + "  \n"
        + (gettext("Where: %(where)s", where=where) + "  \n" if where else "")
        + gettext("[The event's page](%(link)s)", link=link)
    )


# --- what is new -----------------------------------------------------------------------------


def new_events(start: datetime, now: datetime) -> list[tuple[str, Event]]:
    """Return (key, event) for each event made since ``start`` that is still to come.

    A recurring event is announced once, by its first date made: the dates the worker
    adds as the weeks pass are not news.
    """
    rows = db.session.scalars(
        select(Event)
        .where(
            Event.created_at >= start,
            Event.created_at <= now,
            Event.starts_at > now,
            Event.status != "cancelled",
        )
        .order_by(Event.starts_at, Event.id)
    )
    found: dict[str, Event] = {}
    for event in rows:
        key = f"new_event:series:{event.series_id}" if event.series_id else f"new_event:{event.id}"
        found.setdefault(key, event)
    return list(found.items())


def new_posts(start: datetime, now: datetime) -> list[Post]:
    """Return the posts published since ``start`` (a scheduled one counts from its time)."""
    return list(
        db.session.scalars(
            select(Post)
            .where(Post.published_at >= start, Post.published_at <= now)
            .order_by(Post.published_at, Post.id)
        )
    )


def open_ballots(now: datetime) -> list[Ballot]:
    """Return the ballots members can vote in now."""
    rows = db.session.scalars(
        select(Ballot)
        .where(Ballot.opens_at <= now, Ballot.closes_at > now, Ballot.closed_at.is_(None))
        .order_by(Ballot.closes_at, Ballot.id)
    )
    return [ballot for ballot in rows if ballots.state(ballot, now) == "open"]


def eligible(ballot: Ballot, among: list[Person]) -> list[Person]:
    """Return those of ``among`` (active members) who may vote in ``ballot``."""
    # votes.ineligibility's rule: active, and joined by the freeze date.
    return [m for m in among if m.joined_at <= ballot.freeze_at]


def not_voted(ballot: Ballot, among: list[Person]) -> list[Person]:
    """Return those of ``among`` who have not voted in ``ballot`` (now or as a past member)."""
    rows = db.session.execute(
        select(BallotVoter.voter, BallotVoter.member_id).where(BallotVoter.ballot_id == ballot.id)
    ).all()
    hashes = {row.voter for row in rows}
    ids = {row.member_id for row in rows if row.member_id is not None}
    return [
        m for m in among if m.id not in ids and votes.voter_hash(ballot.id, m.email) not in hashes
    ]


# --- the messages ----------------------------------------------------------------------------


def _event_notice(event: Event, to: list[Person]) -> int:
    opening = (
        gettext("%(group)s has a new event (members only):", group=group_name())
        if event.visibility == "members"
        else gettext("%(group)s has a new event (open to all):", group=group_name())
    )
    message = outbox.compose(
        gettext("New event: %(title)s", title=_one_line(event.title)),
        f"{opening}\n\n{event_lines(event)}",
    )
    return outbox.queue_many(
        [recipient(m) for m in to], "new_event", message, source=f"new_event:{event.id}"
    )


def _news_notice(post: Post, to: list[Person]) -> int:
    link = external_url("pages.post", item_id=post.id)
    message = outbox.compose(
        gettext("News: %(title)s", title=_one_line(post.title)),
        gettext("%(group)s has posted news:", group=group_name())
        + f"\n\n**{_one_line(post.title)}**\n\n"
        + gettext("[Read it](%(link)s)", link=link),
    )
    return outbox.queue_many([recipient(m) for m in to], "news", message, source=f"news:{post.id}")


def ballot_lines(ballot: Ballot) -> str:
    """Describe a ballot in Markdown: its question, its close and the link to vote."""
    zone = current_group().timezone if current_group() is not None else "Europe/London"
    link = external_url("ballots.ballot", ballot_id=ballot.id)
    return (
        f"**{_one_line(ballot.question)}**  \n"
        + gettext("Voting closes: %(when)s", when=when(ballot.closes_at, zone))
        + "  \n"
        + gettext("[Vote](%(link)s)", link=link)
    )


def _ballot_notice(ballot: Ballot, to: list[Person]) -> int:
    message = outbox.compose(
        gettext("Ballot open: %(question)s", question=_one_line(ballot.question)),
        gettext("A ballot of %(group)s is open, and you may vote in it:", group=group_name())
        + f"\n\n{ballot_lines(ballot)}",
    )
    return outbox.queue_many(
        [recipient(m) for m in to], "new_ballot", message, source=f"new_ballot:{ballot.id}"
    )


def _closing_notice(ballot: Ballot, to: list[Person]) -> int:
    message = outbox.compose(
        gettext(
            "Closing soon, and you have not voted: %(question)s",
            question=_one_line(ballot.question),
        ),
        gettext(
            "A ballot of %(group)s closes within a day and you have not voted in it yet:",
            group=group_name(),
        )
        + f"\n\n{ballot_lines(ballot)}",
    )
    return outbox.queue_many(
        [recipient(m) for m in to], "ballot_closing", message, source=f"ballot_closing:{ballot.id}"
    )


def send_due(now: datetime | None = None) -> int:
    """Queue every notice that is due and not yet queued; return how many messages."""
    now = now or utcnow()
    if current_group() is None:
        return 0
    start = since(now)
    events = new_events(start, now)
    posts = new_posts(start, now)
    open_now = open_ballots(now)
    opened = [b for b in open_now if b.opens_at >= start]
    closing = [b for b in open_now if start <= b.closes_at - CLOSING_NOTICE <= now]
    work: list[tuple[str, Callable[[list[Person]], int]]] = []
    work += [(key, lambda to, e=event: _event_notice(e, to)) for key, event in events]
    work += [(f"news:{p.id}", lambda to, p=p: _news_notice(p, to)) for p in posts]
    work += [
        (f"new_ballot:{b.id}", lambda to, b=b: _ballot_notice(b, eligible(b, to))) for b in opened
    ]
    work += [
        (
            f"ballot_closing:{b.id}",
            lambda to, b=b: _closing_notice(b, not_voted(b, eligible(b, to))),
        )
        for b in closing
    ]
    finished = done(key for key, _ in work)
    todo = [(key, make) for key, make in work if key not in finished]
    if not todo:
        return 0
    everyone = members()
    queued = 0
    for key, make in todo:
        queued += once(key, now, lambda make=make: make(everyone))
    return queued
