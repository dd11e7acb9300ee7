"""Announcements: an organiser's message to an audience, drafted, tested, scheduled, expanded.

A draft may be changed, counted, previewed and sent to its author as a test. Sending it
schedules it (for now or later); `expand` then turns it into one queued message per
recipient. The claim is a conditional UPDATE (``scheduled`` to ``sent`` only while it is
still ``scheduled``) and the messages and the count are written in the same commit, so a
crash leaves nothing or everything, and two workers (or a worker and the request that said
"send now") never both expand it.

Kinds: ``announcement`` (members' choices apply), ``required`` (the group's rules require
it: members' choices do not apply, so the organiser must say so each time it is sent), and
``network_ask`` for an ask passed on from the network (``origin`` ``ask:<id>``). Guests are
sent the message as kind ``guest`` (their "stop all mail" holds), never as ``required``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy import update as sql_update

from ...extensions import db
from ...models import Announcement, Member, OutboundMail
from ...models.types import utcnow
from ..errors import Conflict, Invalid, NotFound
from ..organising.records import Page, paginate
from . import audiences, kinds, outbox, preferences
from .outbox import Composed, Recipient

DRAFT = "draft"
SCHEDULED = "scheduled"
SENT = "sent"
CANCELLED = "cancelled"
STATUSES = (DRAFT, SCHEDULED, SENT, CANCELLED)

ANNOUNCEMENT = "announcement"
REQUIRED = "required"
NETWORK_ASK = "network_ask"
# What an organiser may choose; network_ask follows from an ask's origin.
ORGANISER_KINDS = (ANNOUNCEMENT, REQUIRED)

SUBJECT_MAX = 200
BODY_MAX = 50_000
ORIGIN_MAX = 500
# Schedule at least this far ahead, or "send now".
LATER_MINIMUM = timedelta(minutes=1)
# How far ahead a message may be scheduled.
LATER_MAXIMUM = timedelta(days=366)
# Mail counted in the history by its status, in this order.
COUNTED = ("queued", "sending", "sent", "logged", "failed", "skipped")


def source_of(announcement_id: int) -> str:
    """Return the source its messages carry, which the history groups by."""
    return f"announcement:{announcement_id}"


# --- drafting -----------------------------------------------------------------------------


def draft(author: Member | None, **fields: Any) -> Announcement:
    """Check and store a new draft announcement (the fields `stage` takes), and commit it."""
    found = stage(author, **fields)
    db.session.commit()
    return found


def stage(
    author: Member | None,
    *,
    subject: str,
    body: str,
    kind: str = ANNOUNCEMENT,
    audience: str = audiences.MEMBERS,
    audience_ref: int | None = None,
    origin: str = "",
) -> Announcement:
    """Check a new draft and add it to the caller's unit of work (flushed, not committed)."""
    values = _checked(
        subject=subject,
        body=body,
        kind=kind,
        audience=audience,
        audience_ref=audience_ref,
        origin=origin,
    )
    now = utcnow()
    found = Announcement(
        **values,
        status=DRAFT,
        created_by_id=author.id if author is not None else None,
        created_at=now,
        updated_at=now,
    )
    db.session.add(found)
    db.session.flush()
    return found


def update(announcement: Announcement, **changes: Any) -> Announcement:
    """Change a draft's subject, body, kind or audience, and commit."""
    _must_be_draft(announcement)
    unknown = set(changes) - {"subject", "body", "kind", "audience", "audience_ref"}
    if unknown:
        raise Invalid.on(sorted(unknown)[0], gettext("This cannot be changed."))
    merged = {
        name: changes.get(name, getattr(announcement, name))
        for name in ("subject", "body", "kind", "audience", "audience_ref")
    }
    if "audience" in changes and changes["audience"] == audiences.MEMBERS:
        merged["audience_ref"] = None
    values = _checked(**merged, origin=announcement.origin)
    for name, value in values.items():
        setattr(announcement, name, value)
    announcement.updated_at = utcnow()
    db.session.commit()
    return announcement


def problems(**values: Any) -> dict[str, list[str]]:
    """Return what is wrong with a draft's fields, by field, without storing anything."""
    values.setdefault("origin", "")
    try:
        _checked(**values)
    except Invalid as refusal:
        return refusal.fields
    return {}


def _checked(
    *,
    subject: str,
    body: str,
    kind: str,
    audience: str,
    audience_ref: int | None,
    origin: str,
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    subject = " ".join((subject or "").split())
    body = (body or "").strip()
    origin = (origin or "").strip()
    if not subject:
        errors["subject"] = [gettext("Give the message a subject.")]
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = [f"Keep the subject to {SUBJECT_MAX} characters."]
    if not body:
        errors["body"] = [gettext("Write the message.")]
    elif len(body) > BODY_MAX:
        errors["body"] = [f"Keep the message to {BODY_MAX} characters."]
    if len(origin) > ORIGIN_MAX:
        errors["origin"] = [f"Keep the origin to {ORIGIN_MAX} characters."]
    from_ask = origin.startswith("ask:")
    if kind == ANNOUNCEMENT and from_ask:
        kind = NETWORK_ASK  # members choose separately whether they want the network's asks
    if kind not in ORGANISER_KINDS and not (kind == NETWORK_ASK and from_ask):
        errors["kind"] = [f"Choose one of: {', '.join(ORGANISER_KINDS)}."]
    if audience == audiences.MEMBERS:
        audience_ref = None
    try:
        found = audiences.resolve(audience, audience_ref)
    except Invalid as refusal:
        errors.update(refusal.fields)
        found = None
    if found is not None and found.guests and kind == REQUIRED:
        errors["kind"] = [
            gettext("Guests are not bound by the group's rules: send it as an announcement.")
        ]
    if errors:
        raise Invalid(gettext("Some fields are not valid."), errors)
    return {
        "subject": subject,
        "body": body,
        "kind": kind,
        "audience": audience,
        "audience_ref": audience_ref,
        "origin": origin,
    }


def _must_be_draft(announcement: Announcement) -> None:
    if announcement.status != DRAFT:
        raise Conflict(
            gettext(
                "This message is %(status)s: only a draft can be changed.",
                status=announcement.status,
            )
        )


# --- reading ------------------------------------------------------------------------------


def get(announcement_id: int) -> Announcement:
    """Return the announcement, or raise NotFound."""
    found = db.session.get(Announcement, announcement_id)
    if found is None:
        raise NotFound(gettext("There is no such message."))
    return found


def listing(limit: int = 200) -> list[Announcement]:
    """Return the latest announcements, newest first."""
    return list(
        db.session.scalars(
            select(Announcement).order_by(Announcement.id.desc()).limit(max(1, limit))
        )
    )


def page(number: int = 1, per_page: int = 20) -> Page:
    """Return one page of announcements, newest first."""
    return paginate(select(Announcement).order_by(Announcement.id.desc()), number, per_page)


def describe(announcement: Announcement) -> str:
    """Name its audience for organisers, e.g. 'Members going to an event: Saturday stall'."""
    try:
        return audiences.resolve(announcement.audience, announcement.audience_ref).description
    except Invalid:
        # A ballot closed or an event deleted since: still say what it was meant for.
        label = gettext(audiences.LABELS.get(announcement.audience, announcement.audience))
        if announcement.audience_ref:
            return gettext("%(audience)s (%(ref)s)", audience=label, ref=announcement.audience_ref)
        return label


def mail_kind(announcement: Announcement) -> str:
    """Return the kind its messages carry: ``guest`` for guests, else its own."""
    if announcement.audience == audiences.EVENT_GUESTS:
        return "guest"
    return announcement.kind


def reach(announcement: Announcement, *, now: datetime | None = None) -> int:
    """Count how many it would reach now, after members' choices and stopped addresses."""
    return len(_allowed(announcement, now=now))


def _allowed(announcement: Announcement, *, now: datetime | None = None) -> list[Recipient]:
    kind = mail_kind(announcement)
    unique: dict[str, Recipient] = {}
    for person in audiences.recipients(announcement.audience, announcement.audience_ref, now=now):
        if person.address:
            unique.setdefault(person.address.strip().lower(), person)
    allowed = preferences.allowed_many((r.address, kind, r.member_id) for r in unique.values())
    return [r for r in unique.values() if (r.address, kind, r.member_id) in allowed]


def preview(announcement: Announcement) -> Composed:
    """Render it as its recipients will read it (before the greeting and the footer)."""
    return outbox.compose(announcement.subject, announcement.body)


def counts(announcement_ids: list[int]) -> dict[int, dict[str, int]]:
    """Count each announcement's messages by status: queued, sending, sent, failed, skipped."""
    sources = {source_of(i): i for i in announcement_ids}
    result = {i: dict.fromkeys(COUNTED, 0) for i in announcement_ids}
    if not sources:
        return result
    rows = db.session.execute(
        select(OutboundMail.source, OutboundMail.status, func.count())
        .where(OutboundMail.source.in_(sources))
        .group_by(OutboundMail.source, OutboundMail.status)
    )
    for source, status, number in rows:
        result[sources[source]][status] = number
    return result


def automatic_summary(*, now: datetime | None = None, days: int = 30) -> list[dict[str, Any]]:
    """Count the automatic mail (not announcements) of the last ``days`` days by kind and status."""
    since = (now or utcnow()) - timedelta(days=days)
    rows = db.session.execute(
        select(OutboundMail.kind, OutboundMail.status, func.count())
        .where(
            OutboundMail.created_at >= since,
            ~OutboundMail.source.like("announcement:%"),
            ~OutboundMail.source.like("announcement-test:%"),
        )
        .group_by(OutboundMail.kind, OutboundMail.status)
    )
    by_kind: dict[str, dict[str, Any]] = {}
    for kind, status, number in rows:
        entry = by_kind.setdefault(
            kind,
            {"kind": kind, "label": _label(kind), "total": 0, **dict.fromkeys(COUNTED, 0)},
        )
        entry[status] = entry.get(status, 0) + number
        entry["total"] += number
    return sorted(by_kind.values(), key=lambda entry: entry["kind"])


def _label(kind: str) -> str:
    found = kinds.KINDS.get(kind)
    return gettext(found.label) if found else kind


# --- sending ------------------------------------------------------------------------------


def test_send(announcement: Announcement, author: Member) -> None:
    """Queue the message to ``author`` alone, subject marked as a test; it always arrives."""
    # As an account message, which no choice turns off: the author asked for it.
    outbox.queue(
        Recipient(author.email, author.display_name, author.id),
        "account",
        gettext("[Test] %(subject)s", subject=announcement.subject),
        announcement.body,
        source=f"announcement-test:{announcement.id}",
    )
    db.session.commit()


def schedule(
    announcement: Announcement,
    *,
    send_at: datetime | None = None,
    rules_require: bool = False,
    now: datetime | None = None,
) -> Announcement:
    """Send a draft now (``send_at`` None) or at ``send_at``; commit.

    "Now" is expanded here, in the request, so the organiser sees how many it went to; if
    that fails the worker expands it on its next pass.
    """
    _must_be_draft(announcement)
    now = now or utcnow()
    if announcement.kind == REQUIRED and not rules_require:
        raise Invalid.on(
            "rules_require",
            gettext(
                "Tick the box to confirm the group's rules require this "
                "message: it goes to members who turned announcements off."
            ),
        )
    # The audience may have gone since the draft (a ballot closed, an event deleted).
    audiences.resolve(announcement.audience, announcement.audience_ref, now=now)
    if send_at is not None:
        if send_at.tzinfo is None:
            raise Invalid.on("send_at", gettext("Give the time with its time zone."))
        send_at = send_at.astimezone(UTC)
        if send_at < now + LATER_MINIMUM:
            raise Invalid.on("send_at", gettext("Choose a time in the future, or send it now."))
        if send_at > now + LATER_MAXIMUM:
            raise Invalid.on("send_at", gettext("Choose a time within a year."))
    claimed = db.session.execute(
        sql_update(Announcement)
        .where(Announcement.id == announcement.id, Announcement.status == DRAFT)
        .values(status=SCHEDULED, send_at=send_at or now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise Conflict(gettext("This message has already been sent or scheduled."))
    db.session.commit()
    if send_at is None:
        expand(announcement.id, now=now)
    db.session.refresh(announcement)
    return announcement


def cancel(announcement: Announcement, *, now: datetime | None = None) -> Announcement:
    """Withdraw a scheduled message (or a draft) before it is sent; commit."""
    withdrawn = db.session.execute(
        sql_update(Announcement)
        .where(Announcement.id == announcement.id, Announcement.status.in_((DRAFT, SCHEDULED)))
        .values(status=CANCELLED, updated_at=now or utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if withdrawn != 1:
        db.session.rollback()
        db.session.refresh(announcement)
        raise Conflict(
            gettext(
                "This message is %(status)s: it can no longer be cancelled.",
                status=announcement.status,
            )
        )
    db.session.commit()
    db.session.refresh(announcement)
    return announcement


def expand(announcement_id: int, *, now: datetime | None = None) -> int | None:
    """Queue a due scheduled announcement to its audience in one commit; None if not ours.

    Return how many messages were queued, or None when it was not (or no longer) due and
    scheduled: someone else expanded or cancelled it.
    """
    now = now or utcnow()
    try:
        claimed = db.session.execute(
            sql_update(Announcement)
            .where(
                Announcement.id == announcement_id,
                Announcement.status == SCHEDULED,
                Announcement.send_at <= now,
            )
            .values(status=SENT, sent_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            db.session.rollback()
            return None
        announcement = db.session.get(Announcement, announcement_id, populate_existing=True)
        message = outbox.compose(announcement.subject, announcement.body)
        queued = outbox.queue_many(
            audiences.recipients(announcement.audience, announcement.audience_ref, now=now),
            mail_kind(announcement),
            message,
            source=source_of(announcement_id),
        )
        announcement.recipients = queued
        db.session.commit()  # the claim, every message and the count: all or nothing
        return queued
    except BaseException:
        db.session.rollback()
        raise


def expand_due(*, now: datetime | None = None, limit: int = 20) -> int:
    """Expand the scheduled announcements whose time has come; return how many."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            select(Announcement.id)
            .where(Announcement.status == SCHEDULED, Announcement.send_at <= now)
            .order_by(Announcement.send_at, Announcement.id)
            .limit(limit)
        )
    )
    db.session.rollback()  # end the read before the claims
    expanded = 0
    for announcement_id in due:
        if expand(announcement_id, now=now) is not None:
            expanded += 1
    return expanded


@dataclass(frozen=True)
class Line:
    """One announcement as the history shows it, with its messages' counts."""

    announcement: Announcement
    audience: str
    counts: dict[str, int]

    @property
    def waiting(self) -> int:
        """Count the messages not yet tried to the end: queued or being sent."""
        return self.counts.get("queued", 0) + self.counts.get("sending", 0)

    @property
    def delivered(self) -> int:
        """Count the messages handed to the mail server (or logged, without one)."""
        return self.counts.get("sent", 0) + self.counts.get("logged", 0)


def history(limit: int = 200) -> list[Line]:
    """Return the latest announcements with how their messages fared."""
    found = listing(limit)
    numbers = counts([a.id for a in found])
    return [Line(a, describe(a), numbers[a.id]) for a in found]
