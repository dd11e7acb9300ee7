"""The "what next" checklist an admin sees on the Manage dashboard after setup.

Each step is ticked from what the database holds, not from which pages were visited, so a
step done through the API or the command line is ticked too. The list shows until every
step is done or an admin puts it away.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import func, select

from ..extensions import db
from ..models import Event, Following, Group, Invite, Member, Twinning, utcnow


class Step(NamedTuple):
    """One thing to do next: its words, where to do it (an endpoint) and whether it is done."""

    key: str
    title: str
    hint: str
    endpoint: str
    done: bool
    args: dict[str, str] | None = None  # the endpoint's arguments, if it takes any


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def steps(group: Group) -> list[Step]:
    """Return the checklist's steps for ``group``, each ticked when the database shows it done."""
    profile_done = bool(group.summary.strip())
    # Invited: an invitation sent, or anyone other than the first admin is a member.
    invited = _count(Invite) > 0 or _count(Member) > 1
    linked = _count(Following) > 0 or _count(Twinning) > 0
    return [
        Step(
            "profile",
            "Fill in the group's profile",
            "Say who you are and where, so visitors know they have found the right group.",
            "manage.group_profile",
            profile_done,
        ),
        Step(
            "event",
            "Plan your first event",
            "A meeting, a stall or a canvass: members and visitors can say they are coming.",
            "manage.new_item",
            _count(Event) > 0,
            {"kind": "events"},
        ),
        Step(
            "invite",
            "Invite members",
            "Send invitations by e-mail, share a link, or import a list.",
            "manage.invite",
            invited,
        ),
        Step(
            "network",
            "Follow or twin another group",
            "See what nearby groups publish, or twin with a marginal seat to help each other.",
            "network.following",
            linked,
        ),
    ]


def pending(group: Group) -> list[Step] | None:
    """Return the steps while the dashboard shows them: until put away or every step is done."""
    if group.checklist_dismissed_at is not None:
        return None
    found = steps(group)
    return None if all(step.done for step in found) else found


def dismiss(group: Group) -> None:
    """Put the checklist away for every admin of the group."""
    group.checklist_dismissed_at = utcnow()
    db.session.commit()
