"""The ActivityStreams documents this group publishes: its actor, its items, its activities.

Each item's id is the address of its page (``{base}/events/7``), which serves this JSON to
ActivityPub clients and HTML to browsers. Only counts ever leave the node, never who.
Events are AS ``Event`` (with the schema.org and iCalendar terms Mobilizon reads), news
posts are ``Note``, campaigns and candidates are the Branchline extension types; every
term beyond ActivityStreams is defined in ``federation.feed.extension_terms()``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

from federation import feed as signed_feed
from federation.proofs import format_created
from federation.rotation import ROTATIONS_MEMBER

from ..key_rotation import RetiredKeys, retired_keys
from ..keys import NodeKeys, node_keys
from ..models import Ballot, Campaign, Candidate, Event, Group, Post, utcnow
from ..text import render_markdown
from .pictures import picture_terms

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
MARKDOWN = "text/markdown"

# Item class -> (path segment of its page, ActivityStreams type).
KINDS: dict[type, tuple[str, str]] = {
    Event: ("events", "Event"),
    Campaign: ("campaigns", "Campaign"),
    Candidate: ("candidates", "Candidate"),
    Post: ("news", "Note"),
    Ballot: ("ballots", "Question"),
}

# What Mobilizon and other calendar software read as an event's state (ical:status).
ICAL_STATUS = {"scheduled": "CONFIRMED", "postponed": "TENTATIVE", "cancelled": "CANCELLED"}


def timestamp(moment: datetime | None) -> str | None:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SSZ``, the way proofs are dated."""
    return None if moment is None else format_created(moment)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def actor_id(group: Group) -> str:
    """Return the group's actor id."""
    return f"{group.base_url}/actor"


def followers_id(group: Group) -> str:
    return f"{group.base_url}/followers"


def object_id(group: Group, item: Any) -> str:
    """Return the id (and page address) of a campaign, event, candidate or post."""
    if isinstance(item, Group):
        return actor_id(item)
    segment, _ = KINDS[type(item)]
    return f"{group.base_url}/{segment}/{item.id}"


def object_type(item: Any) -> str:
    """Return the ActivityStreams type an item is published as."""
    if isinstance(item, Group):
        return "Group"
    return KINDS[type(item)][1]


def is_public(item: Any, now: datetime | None = None) -> bool:
    """Tell whether an item may be federated now (public, and a post already published)."""
    if isinstance(item, Group):
        return True
    if getattr(item, "visibility", "public") != "public":
        return False
    if isinstance(item, Post):
        return item.published_at is not None and item.published_at <= (now or utcnow())
    if isinstance(item, Ballot):
        # A ballot is published with its result: at the close, or a sealed one at its count.
        return item.closed_at is not None and (not item.sealed or item.counted_at is not None)
    return True


def _compact(document: dict[str, Any]) -> dict[str, Any]:
    """Leave out empty fields: absent reads better to other software than null or ''."""
    return {key: value for key, value in document.items() if value not in (None, "", [])}


def _text(source: str | None, group: Group) -> dict[str, Any]:
    if not source:
        return {}
    return {
        "content": str(render_markdown(source, group.base_url)),
        "source": {"content": source, "mediaType": MARKDOWN},
    }


def _addressing(group: Group) -> dict[str, Any]:
    return {
        "attributedTo": actor_id(group),
        "to": [PUBLIC],
        "cc": [followers_id(group)],
    }


def _common(group: Group, item: Any) -> dict[str, Any]:
    found = object_id(group, item)
    return {"id": found, "type": object_type(item), "url": found}


def event_document(group: Group, event: Event, campaign: Campaign | None = None) -> dict[str, Any]:
    """Return an event as an ActivityStreams Event; ``campaign`` only when it is public."""
    document = _common(group, event)
    document["name"] = event.title
    document.update(_text(event.description, group))
    document.update(picture_terms(group.base_url, event))
    document.update(
        {
            "startTime": timestamp(event.starts_at),
            "endTime": timestamp(event.ends_at),
            "timezone": event.timezone,
            "location": _locations(event),
            "kind": event.kind,
            "status": event.status,
            "ical:status": ICAL_STATUS.get(event.status, "CONFIRMED"),
            "maximumAttendeeCapacity": event.capacity,
            "goingCount": event.going_count,
            "attendedCount": event.attended_count,  # recorded after the event: a number only
            "accessibility": event.accessibility,
        }
    )
    if event.capacity is not None:
        document["remainingAttendeeCapacity"] = max(0, event.capacity - event.going_count)
    if campaign is not None and is_public(campaign):
        document["campaign"] = object_id(group, campaign)
    document.update(_dates(event.created_at, event.updated_at))
    document.update(_addressing(group))
    return _compact(document)


def _locations(event: Event) -> dict[str, Any] | list[dict[str, Any]] | None:
    places = []
    if event.place_name or event.address or event.latitude is not None:
        places.append(
            _compact(
                {
                    "type": "Place",
                    "name": event.place_name or event.address,
                    "address": event.address,
                    "latitude": event.latitude,
                    "longitude": event.longitude,
                }
            )
        )
    if event.online_url:
        places.append({"type": "Place", "name": "Online", "url": event.online_url})
    if not places:
        return None
    return places[0] if len(places) == 1 else places


def _dates(created: datetime | None, updated: datetime | None) -> dict[str, Any]:
    return {"published": timestamp(created), "updated": timestamp(updated)}


def campaign_document(group: Group, campaign: Campaign) -> dict[str, Any]:
    """Return a campaign as the Branchline ``Campaign`` type."""
    document = _common(group, campaign)
    document.update(
        {
            "name": campaign.title,
            "summary": (
                str(render_markdown(campaign.summary, group.base_url)) if campaign.summary else None
            ),
            **_text(campaign.body, group),
            **picture_terms(group.base_url, campaign),
            "kind": campaign.kind,
            "status": campaign.status,
            "startDate": _day(campaign.starts_on),
            "endDate": _day(campaign.ends_on),
            **_dates(campaign.created_at, campaign.updated_at),
            **_addressing(group),
        }
    )
    return _compact(document)


def candidate_document(
    group: Group, candidate: Candidate, endorsed_by: Ballot | None = None
) -> dict[str, Any]:
    """Return a candidate as the Branchline ``Candidate`` type.

    ``endorsed_by`` is the (public, closed) ballot that decided the endorsement, if any.
    """
    document = _common(group, candidate)
    if endorsed_by is not None and is_public(endorsed_by):
        document["endorsementBallot"] = object_id(group, endorsed_by)
    document.update(
        {
            "name": candidate.name,
            **_text(candidate.statement, group),
            "office": candidate.office,
            "area": candidate.area,
            "stage": candidate.stage,
            "endorsement": candidate.endorsement,
            "contestDate": _day(candidate.contest_date),
            "electionResult": candidate.result,
            **_dates(candidate.created_at, candidate.updated_at),
            **_addressing(group),
        }
    )
    return _compact(document)


def post_document(group: Group, post: Post) -> dict[str, Any]:
    """Return a news post as an ActivityStreams Note (its title as ``name``)."""
    document = _common(group, post)
    document.update(
        {
            "name": post.title,
            **_text(post.body, group),
            **picture_terms(group.base_url, post),
            "published": timestamp(post.published_at),
            "updated": timestamp(post.updated_at),
            **_addressing(group),
        }
    )
    if "content" not in document:
        document["content"] = ""  # Mastodon drops a Note without content
    return {key: value for key, value in document.items() if value is not None}


def question_document(group: Group, ballot: Ballot) -> dict[str, Any]:
    """Return a closed ballot's result as an ActivityStreams Question with its counts.

    Each option carries its votes as ``replies.totalItems`` (the shape Mastodon reads
    polls in; first preferences for a ranked ballot); ``votersCount`` is Mastodon's term.
    Only numbers leave the node: never who voted, never a paper.
    """
    result = json.loads(ballot.result or "{}")
    votes = result.get("votes") or [0] * len(ballot.options)
    options = [
        {
            "type": "Note",
            "name": option.label,
            "replies": {"type": "Collection", "totalItems": votes[option.position]},
        }
        for option in ballot.options
    ]
    winners = result.get("winners") or []
    document = _common(group, ballot)
    document.update(
        {
            "name": ballot.question,
            **_text(ballot.description, group),
            "anyOf" if ballot.kind in ("choose_many", "ranked") else "oneOf": options,
            "startTime": timestamp(ballot.opens_at),
            "endTime": timestamp(ballot.closes_at),
            "closed": timestamp(ballot.closed_at),
            "votersCount": ballot.voters_count or 0,
            "ballotResult": _compact(
                {
                    "kind": ballot.kind,
                    "seats": ballot.seats if ballot.kind in ("choose_many", "ranked") else None,
                    "eligibleCount": ballot.eligible_count or 0,
                    "abstentions": result.get("abstentions", 0),
                    "quorum": ballot.quorum,
                    "quorumMet": bool(ballot.quorum_met),
                    "outcome": ballot.outcome,
                    "chosen": [ballot.options[p].label for p in winners]
                    if ballot.quorum_met
                    else [],
                    "endorses": object_id(group, ballot.candidate)
                    if ballot.candidate is not None and is_public(ballot.candidate)
                    else None,
                }
            ),
            **_dates(ballot.created_at, ballot.updated_at),
            **_addressing(group),
        }
    )
    if ballot.sealed:
        document.update(_sealed_terms(ballot))
    return _compact(document)


def _sealed_terms(ballot: Ballot) -> dict[str, Any]:
    """Return what a sealed ballot's result adds: its tellers, k, and hashes to hold it to."""
    names = "".join(f"{t.display_name}\n" for t in ballot.tellers)
    return {
        "tellersCount": len(ballot.tellers),
        "tellersNeeded": ballot.tellers_needed,
        "tellersHash": hashlib.sha256(names.encode()).hexdigest(),
        "sealedCount": ballot.sealed_count or 0,
        "spoiltCount": ballot.spoilt_count or 0,
        "trackerListHash": ballot.tracker_list_hash,
        "openedPapersHash": ballot.opened_list_hash,
    }


def object_document(
    group: Group, item: Any, campaign: Campaign | None = None, endorsed_by: Ballot | None = None
) -> dict[str, Any]:
    """Return the document for any publishable item (the actor for the group)."""
    if isinstance(item, Event):
        return event_document(group, item, campaign)
    if isinstance(item, Campaign):
        return campaign_document(group, item)
    if isinstance(item, Candidate):
        return candidate_document(group, item, endorsed_by)
    if isinstance(item, Ballot):
        return question_document(group, item)
    if isinstance(item, Post):
        return post_document(group, item)
    if isinstance(item, Group):
        return actor_object(item)
    raise TypeError(f"{type(item).__name__} is not published")


def tombstone(group: Group, item: Any, deleted: datetime) -> dict[str, Any]:
    """Return what stands in for a deleted (or no longer public) item."""
    return {
        "id": object_id(group, item),
        "type": "Tombstone",
        "formerType": object_type(item),
        "deleted": timestamp(deleted),
    }


def activity(group: Group, kind: str, obj: dict[str, Any], published: datetime) -> dict[str, Any]:
    """Wrap ``obj`` in a public activity by the group; the feed adds id, seq and proof."""
    return {
        "type": kind,
        "actor": actor_id(group),
        "published": timestamp(published),
        "to": [PUBLIC],
        "cc": [followers_id(group)],
        "object": obj,
    }


# --- the actor ------------------------------------------------------------------------------


def actor_context() -> list[Any]:
    """Return the actor's ``@context``: the key vocabularies Fedify needs, then our terms."""
    return [
        signed_feed.ACTIVITYSTREAMS_CONTEXT,
        SECURITY_CONTEXT,
        signed_feed.DATA_INTEGRITY_CONTEXT,
        DID_CONTEXT,
        MULTIKEY_CONTEXT,
        {
            **signed_feed.extension_terms(),
            "as": "https://www.w3.org/ns/activitystreams#",
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        },
    ]


def _icon(group: Group) -> dict[str, Any] | None:
    if not group.logo_filename:
        return None
    extension = group.logo_filename.rsplit(".", 1)[-1]
    media = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}.get(extension)
    return _compact(
        {
            "type": "Image",
            "mediaType": media,
            "url": f"{group.base_url}/logo?v={group.logo_filename}",
        }
    )


def assertion_methods(
    actor: str, keys: NodeKeys, retired: list[RetiredKeys]
) -> list[dict[str, Any]]:
    """Return the actor's proof keys: the current one, then each retired one, newest first.

    A retired key stays listed so that the entries it signed can still be checked; it
    ``expires`` when it was retired and, if it was compromised, is ``revoked`` from then.
    Only the feed's rotation entries make a key current (federation.rotation).
    """
    methods = [
        {
            "id": f"{actor}#{keys.proof_fragment}",
            "type": "Multikey",
            "controller": actor,
            "publicKeyMultibase": keys.proof_multikey,
        }
    ]
    for old in reversed(retired):
        method = {
            "id": f"{actor}#{old.proof_fragment}",
            "type": "Multikey",
            "controller": actor,
            "publicKeyMultibase": old.proof_multikey,
            "expires": timestamp(old.retired_at),
        }
        if old.compromised_since is not None:
            method["revoked"] = timestamp(old.compromised_since)
        methods.append(method)
    return methods


def actor_object(
    group: Group, keys: NodeKeys | None = None, retired: list[RetiredKeys] | None = None
) -> dict[str, Any]:
    """Return the Group actor without the feed head, as embedded in an Update of the group.

    ``keys`` and ``retired`` default to the node's own (a rotation passes the new ones).
    """
    actor = actor_id(group)
    keys = keys or node_keys()
    retired = retired_keys() if retired is None else retired
    base = group.base_url
    location = None
    if group.latitude is not None and group.longitude is not None:
        location = {
            "type": "Place",
            "name": group.area or group.name,
            "latitude": group.latitude,
            "longitude": group.longitude,
        }
    document = {
        # The actor keeps its own @context when embedded in a feed entry: the entry's context
        # does not define publicKey or assertionMethod, so JSON-LD readers (Fedify) would
        # drop both keys from the Update and keep a group that can sign nothing.
        "@context": actor_context(),
        "id": actor,
        "type": "Group",
        "preferredUsername": group.handle,
        "name": group.name,
        "summary": str(render_markdown(group.summary)) if group.summary else None,
        "icon": _icon(group),
        "url": f"{base}/",
        "inbox": f"{base}/inbox",
        "outbox": f"{base}/outbox",
        "followers": followers_id(group),
        "following": f"{base}/following",
        "endpoints": {"sharedInbox": f"{base}/inbox"},
        "manuallyApprovesFollowers": bool(group.follow_approval),
        "area": group.area,
        "seat": group.seat_name,
        "seatMajority": group.seat_majority,
        "seatMarginality": group.seat_marginality,
        "location": location,
        "published": timestamp(group.created_at),
        "updated": timestamp(group.updated_at),
        "publicKey": {
            "id": f"{actor}#{keys.http_fragment}",
            "owner": actor,
            "publicKeyPem": keys.http_public_pem,
        },
        "assertionMethod": assertion_methods(actor, keys, retired),
    }
    return _compact(document)


def actor_document(
    group: Group,
    head: tuple[int, str] | None,
    *,
    aggregator: bool,
    rotations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return the actor as served at ``/actor``, naming the feed head ``{seq, hash}``.

    An ``aggregator`` node also names its role and its combined feed. ``rotations`` are
    the feed's key-rotation entries, which prove the current keys to a peer that does
    not hold the feed (an entry embeds the actor, so only the served document has them).
    """
    document = actor_object(group)
    if rotations:
        document[ROTATIONS_MEMBER] = rotations
    document["feedHead"] = {"seq": 0} if head is None else {"seq": head[0], "hash": head[1]}
    if aggregator:
        document["nodeRole"] = "aggregator"
        document["aggregateFeed"] = f"{group.base_url}/aggregate/feed"
    return document
