"""RSVPs across twinned groups: what both sides share, the words on the wire and the states.
A member of this group answering a twin's event is ``outgoing_rsvps``' business; members of
a twin answering ours, ``incoming_rsvps``'.

On the wire (signed like follows, sent through the delivery queue, never on the feed: it
is personal data):

- going is a ``Join`` of the Event (as Mobilizon and Pleroma send it), maybe a
  ``TentativeAccept`` and not going a ``Reject`` of it; the activity's id is the RSVP's
  opaque id, minted here from random bytes, and it carries ``partySize`` (1–10),
  ``revision`` (1) and, only when the member chose to share it, ``attendeeName``;
- a change is an ``Update`` whose object restates the RSVP (same id, next revision);
- a cancellation is an ``Undo`` of the RSVP.

The event's group answers ``Accept`` (its places are held) or ``Reject`` with
``refusalReason`` "full" or "closed" (cancelled or over) of the activity it decided on.
Nothing else about the member leaves this node: no e-mail, no member id, no account URL.

Places are taken with the same conditional UPDATE that members' own RSVPs use
(``events.take_places``), so a twin's RSVP and a member racing for the last place cannot
both get it. A change that asks for more places than are left is turned down and the
places held before are kept.
"""

from __future__ import annotations

from typing import Any

from federation.feed import entry_context
from federation.proofs import sign_object

from ...keys import node_keys
from ...models import utcnow
from ..peering import outbound

RESPONSE_TYPES = {"going": "Join", "maybe": "TentativeAccept", "not_going": "Reject"}
TYPE_RESPONSES = {kind: response for response, kind in RESPONSE_TYPES.items()}
MAX_PARTY = 10
NAME_MAX = 80
SHARE_CHOICES = ("name", "count")
REFUSALS = ("full", "closed")

# OutgoingRsvp states
PENDING = "pending"
CONFIRMED = "confirmed"
FULL = "full"
REFUSED = "refused"
CANCELLED = "cancelled"
# RemoteRsvp states
HELD = "held"


def signed(activity: dict[str, Any]) -> dict[str, Any]:
    """Sign an RSVP activity (or an answer to one) with the node's proof key."""
    document = {"@context": entry_context(), **activity}
    return sign_object(document, node_keys().proof, outbound.proof_key_id(), utcnow())
