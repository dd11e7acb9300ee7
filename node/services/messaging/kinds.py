"""The kinds of message a node sends, and what a member may choose for each.

Every queued message names its kind. A member chooses per kind: ``single`` (each message
as it comes), ``digest`` (only in the weekly digest; offered for the notices a digest
gathers) or ``off``. Two kinds cannot be turned off, because the member asked for the
message itself or the group's rules require it: ``account`` (password resets, invitations,
confirmations of an address) and ``required`` (notices the group's rules oblige it to give,
such as the notice of a general meeting: organisers must choose it on purpose, and say so).
Guests, who have no account, can only stop all mail from the node.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.wording import N_

SINGLE = "single"
DIGEST = "digest"
OFF = "off"
CHOICES = (SINGLE, DIGEST, OFF)


@dataclass(frozen=True)
class Kind:
    name: str
    # Shown on the preferences and unsubscribe pages and in every message's footer: marked
    # with N_ here and translated where shown (gettext, or the templates' translate filter).
    label: str
    default: str = SINGLE
    digestible: bool = False  # may be gathered into the weekly digest instead
    required: bool = False  # cannot be turned off

    @property
    def choices(self) -> tuple[str, ...]:
        if self.required:
            return (SINGLE,)
        return CHOICES if self.digestible else (SINGLE, OFF)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "account",
            N_("Your account: password resets, invitations, confirmations"),
            required=True,
        ),
        Kind(
            "required",
            N_("Notices the group's rules require, such as a general meeting's"),
            required=True,
        ),
        Kind("announcement", N_("Announcements from the group's organisers")),
        Kind("network_ask", N_("Asks from the wider network that organisers pass on")),
        Kind(
            "event_changes",
            N_("Changes to events you are going to: cancelled, moved, places, lifts"),
        ),
        Kind("reminder", N_("Reminders the day before events and shifts you signed up for")),
        Kind("new_event", N_("New events"), default=OFF, digestible=True),
        Kind("new_ballot", N_("New ballots open to you"), default=OFF, digestible=True),
        Kind(
            "ballot_closing",
            N_("A ballot you have not voted in, 24 hours before it closes"),
            default=OFF,
        ),
        Kind("news", N_("News posts"), default=OFF, digestible=True),
        Kind(
            "digest",
            N_("The weekly digest: next week's events, open ballots and news"),
            default=OFF,
        ),
        # What a guest is sent about the event they answered: confirmations, changes,
        # reminders. A guest stops it (and all else) with "stop all mail".
        Kind("guest", N_("Messages about an event you answered as a guest")),
    )
}

# The kinds a member sees on their preferences page, in this order.
MEMBER_KINDS = tuple(name for name in KINDS if name != "guest")


def get(name: str) -> Kind:
    """Return the kind called ``name``; a KeyError names a kind nobody defined."""
    return KINDS[name]
