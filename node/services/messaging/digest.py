"""The weekly digest: one mail per member per week with next week's events, the ballots open
to them and the news of the last week; nothing when there is nothing to say.

Weeks are counted from a fixed Monday, 07:00 UTC (`period`), so the key of a member's
digest ("digest:<member id>:<week number>") is the same whichever worker, on whichever
day, makes it: a member gets at most one per week. The digest goes to members who turned
it on, and to those who chose "in the digest" for a notice and never turned it off
(``preferences.allowed_many`` decides, as it does again when the message is sent).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask_babel import gettext
from sqlalchemy import select

from ...extensions import db
from ...models import Ballot, Event, Post
from ...models.types import utcnow
from ..groups import current_group
from . import notices, outbox, preferences
from .links import external_url
from .notices import Person

WEEK = timedelta(days=7)
EPOCH = datetime(2024, 1, 1, 7, 0, tzinfo=UTC)  # a Monday morning


def period(now: datetime) -> int:
    """Return the number of the digest week ``now`` falls in."""
    return (now - EPOCH) // WEEK


def period_start(number: int) -> datetime:
    """Return when digest week ``number`` begins."""
    return EPOCH + number * WEEK


def key(member_id: int, number: int) -> str:
    """Return the once-only key of a member's digest for week ``number``."""
    return f"digest:{member_id}:{number}"


def events_ahead(now: datetime) -> list[Event]:
    """Return the events of the next seven days, soonest first."""
    return list(
        db.session.scalars(
            select(Event)
            .where(Event.starts_at > now, Event.starts_at <= now + WEEK)
            .where(Event.status != "cancelled")
            .order_by(Event.starts_at, Event.id)
        )
    )


def news_since(now: datetime) -> list[Post]:
    """Return the news published in the week before ``now``."""
    return list(
        db.session.scalars(
            select(Post)
            .where(Post.published_at > now - WEEK, Post.published_at <= now)
            .order_by(Post.published_at, Post.id)
        )
    )


def body(events: list[Event], ballots: list[Ballot], posts: list[Post]) -> str:
    """Write a digest's Markdown: a section for each of events, ballots and news that has any."""
    parts = [gettext("This week at %(group)s.", group=notices.group_name())]
    if events:
        parts.append("## " + gettext("Events in the next seven days"))
        parts += [notices.event_lines(event) for event in events]
    if ballots:
        parts.append("## " + gettext("Ballots open to you"))
        parts += [notices.ballot_lines(ballot) for ballot in ballots]
    if posts:
        parts.append("## " + gettext("News"))
        parts += [
            f"[{' '.join(post.title.split())}]({external_url('pages.post', item_id=post.id)})"
            for post in posts
        ]
    return "\n\n".join(parts)


def send_due(now: datetime | None = None) -> int:
    """Queue this week's digest to each member who wants one and has none yet; return how many."""
    now = now or utcnow()
    if current_group() is None:
        return 0
    notices.forget_old(now)  # here, because this runs every few minutes, not every pass
    number = period(now)
    everyone = notices.members()
    wanted = preferences.allowed_many((m.email, "digest", m.id) for m in everyone)
    readers = [m for m in everyone if (m.email, "digest", m.id) in wanted]
    finished = notices.done(key(m.id, number) for m in readers)
    readers = [m for m in readers if key(m.id, number) not in finished]
    if not readers:
        return 0
    events = events_ahead(now)
    posts = news_since(now)
    open_now = notices.open_ballots(now)
    # Members who may vote in the same ballots get the same digest: compose it once.
    groups: dict[tuple[int, ...], list[Person]] = {}
    for member in readers:
        mine = tuple(b.id for b in open_now if member.joined_at <= b.freeze_at)
        groups.setdefault(mine, []).append(member)
    by_id = {b.id: b for b in open_now}
    subject = gettext("This week at %(group)s", group=notices.group_name())
    queued = 0
    for ballot_ids, members in groups.items():
        ballots = [by_id[i] for i in ballot_ids]
        if not (events or ballots or posts):
            continue  # nothing to say: no mail, and no mark, so a later pass may still send
        message = outbox.compose(subject, body(events, ballots, posts))
        for member in members:
            queued += notices.once(
                key(member.id, number),
                now,
                lambda member=member, message=message: outbox.queue_many(
                    [notices.recipient(member)], "digest", message, source=f"digest:{number}"
                ),
            )
    return queued
