"""An event's attendance as CSV for its organisers: who answered, who is on shifts, who came.

The file holds names and e-mail addresses, so only organisers get it (the view checks), and
it is made here, on the node, never sent anywhere. Spreadsheet programs run a cell starting
with ``=``, ``+``, ``-`` or ``@`` as a formula: such cells get a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ...extensions import db
from ...models import Event, GuestRsvp, Member, Rsvp, Shift, ShiftSignup

HEADER = ("Name", "E-mail", "Who", "Answer", "Shifts", "Checked in")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """Return ``value`` as text a spreadsheet shows and never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _local(event: Event, at: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return at.astimezone(ZoneInfo(event.timezone)).strftime(pattern) if at else ""


def _shifts_by_member(event: Event) -> dict[int, list[str]]:
    rows = db.session.execute(
        select(ShiftSignup.member_id, ShiftSignup.state, Shift)
        .join(Shift, Shift.id == ShiftSignup.shift_id)
        .where(Shift.event_id == event.id)
        .order_by(Shift.starts_at, Shift.id)
    )
    found: dict[int, list[str]] = {}
    for member_id, state, shift in rows:
        when = f"{_local(event, shift.starts_at)}-{_local(event, shift.ends_at, '%H:%M')}"
        line = f"{shift.label or 'Shift'} {when}"
        found.setdefault(member_id, []).append(line if state == "going" else f"{line} ({state})")
    return found


def rows(event: Event) -> list[tuple[str, ...]]:
    """List one row per member who answered or is on a shift, then one per guest."""
    shifts = _shifts_by_member(event)
    answered = db.session.execute(
        select(Member, Rsvp)
        .join(Rsvp, Rsvp.member_id == Member.id)
        .where(Rsvp.event_id == event.id)
        .order_by(Rsvp.response, Member.display_name, Member.id)
    ).all()
    found = []
    for member, rsvp in answered:
        found.append(
            (
                member.display_name,
                member.email,
                "member",
                rsvp.response.replace("_", " "),
                "; ".join(shifts.pop(member.id, [])),
                _local(event, rsvp.checked_in_at),
            )
        )
    if shifts:  # on a shift without answering the RSVP
        members = db.session.scalars(
            select(Member).where(Member.id.in_(shifts)).order_by(Member.display_name, Member.id)
        )
        for member in members:
            line = "; ".join(shifts[member.id])
            found.append((member.display_name, member.email, "member", "", line, ""))
    guests = db.session.scalars(
        select(GuestRsvp)
        .where(GuestRsvp.event_id == event.id)
        .order_by(GuestRsvp.state, GuestRsvp.name, GuestRsvp.id)
    )
    for guest in guests:
        answer = "walk-in" if guest.walk_in else guest.state
        who = "guest"
        found.append(
            (guest.name, guest.email or "", who, answer, "", _local(event, guest.checked_in_at))
        )
    return found


def as_csv(event: Event) -> str:
    """Return the event's attendance as CSV text, every cell guarded against formulas."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows(event):
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()
