"""Recovering this group's feed from a node that holds it: a follower, twin or aggregator.

Every entry the group published is signed with its own key and chained by hash, and is
held verbatim by its followers. After a restore from an old backup, ``recover_from`` asks
one of them for the entries after this node's head (``/held/entries``, signed as this
group), verifies each against the group's own proof key and the chain from the local head,
appends them unchanged (same seq, same proof) and brings back the public content they
carry (``content``). Then the restore mark is cleared and the next entry takes the seq
after the followers' head: no fork.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select, update

from federation import feed as signed_feed
from federation.errors import FetchError, ResponseTooLarge
from federation.keys import PublicKey, ed25519_public_key_from_multikey
from federation.rotation import KeyContinuity

from ...extensions import db
from ...key_rotation import retired_keys
from ...keys import node_keys
from ...models import FeedEntry, Follower, Peer, SiteState
from ...models.types import utcnow
from .. import feed
from ..errors import Conflict, Invalid
from ..groups import current_group
from ..peering import outbound
from ..peering.remote_objects import moment
from . import content, guard

PAGE_SIZE = 100
MAX_PAGES = 10_000  # a bound on a source that keeps answering "next"
PRIVATE_DATA_NOTE = (
    "Members, RSVPs, ballots' votes and other private data are never on the feed: "
    "they come back only from a backup (`branchline restore`)."
)


@dataclass
class Recovery:
    """What a recovery found and did."""

    source: str
    local_head: int
    source_head: int = 0
    appended: int = 0
    restored: dict[str, int] = field(default_factory=dict)
    head: int = 0


def _base(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid.on("from", "Give the address of a follower, twin or aggregator (https://…).")
    return f"{parts.scheme}://{parts.netloc}"


def _own_continuity(actor: str) -> tuple[Callable[[str], PublicKey | None], KeyContinuity]:
    """Say which of this group's own keys may sign the entry after the local head.

    The lookup knows the current key and every archived one (a feed recovered across a
    rotation was signed by several), and ``KeyContinuity`` allows each only where the feed's
    rotation entries put it; an archived key declared compromised signs nothing after its cut.
    """
    current = node_keys()
    keys: dict[str, PublicKey] = {f"{actor}#{current.proof_fragment}": current.proof.public_key()}
    revoked = {}
    for retired in retired_keys():
        method = f"{actor}#{retired.proof_fragment}"
        keys[method] = ed25519_public_key_from_multikey(retired.proof_multikey)
        if retired.compromised_since is not None:
            revoked[method] = retired.compromised_since
    held = db.session.scalar(
        select(FeedEntry.body)
        .where(FeedEntry.redacted.is_(False))
        .order_by(FeedEntry.seq.desc())
        .limit(1)
    )
    if held is None:
        return keys.get, KeyContinuity(actor, keys.get, revoked=revoked)
    return keys.get, KeyContinuity.after(actor, keys.get, json.loads(held), revoked=revoked)


def _fetch_page(url: str) -> dict[str, Any]:
    try:
        fetched = outbound.fetch(url)
    except ResponseTooLarge:
        raise
    except FetchError as error:
        raise Invalid.on("from", f"Could not fetch {url}: {error}") from None
    if fetched.status != 200:
        raise Invalid.on("from", f"{url} answered {fetched.status}.")
    return fetched.document


def recover_from(source: str, *, page_size: int = PAGE_SIZE) -> Recovery:
    """Fetch this group's entries after its head from ``source``, verify them, append them
    verbatim with their content, and clear the restore mark; commit each page."""
    report = _recover(source, page_size)
    guard.release(f"recovered from {report.source}: feed head {report.head}")
    return report


def follower_sources() -> list[str]:
    """Return the servers of this group's accepted followers, each once."""
    actors = db.session.scalars(
        select(Peer.actor_id)
        .join(Follower, Follower.peer_id == Peer.id)
        .where(Follower.state == feed.ACCEPTED)
    )
    return sorted({_base(actor) for actor in actors})


def recover_from_followers(*, page_size: int = PAGE_SIZE) -> list[tuple[str, Recovery | str]]:
    """Recover from every follower's server that answers, in turn, and clear the restore
    mark if at least one did; return each source with its report or why it did not answer.

    Each only adds what the ones before lacked, so the feed ends at the longest head any
    follower holds. A follower that is not a Branchline node (or is down) is skipped; an
    entry that does not verify, or a fork, stops everything with publishing still held.
    """
    results: list[tuple[str, Recovery | str]] = []
    for source in follower_sources():
        try:
            results.append((source, _recover(source, page_size)))
        except Invalid as unanswered:
            db.session.rollback()
            results.append((source, explain_invalid(unanswered)))
    answered = [found for _source, found in results if isinstance(found, Recovery)]
    if not answered:
        raise Conflict("No follower served this group's entries back: publishing stays held.")
    head = max(found.head for found in answered)
    guard.release(f"recovered from {len(answered)} follower(s): feed head {head}")
    return results


def explain_invalid(error: Invalid) -> str:
    """Say in one line why a source did not answer."""
    return "; ".join(message for messages in error.fields.values() for message in messages) or (
        error.message
    )


def _recover(source: str, page_size: int) -> Recovery:
    group = current_group()
    if group is None:
        raise Invalid("This node is not set up.")
    actor = f"{group.base_url}/actor"
    base = _base(source)
    local = feed.head()
    report = Recovery(source=base, local_head=local[0] if local else 0)
    lookup, continuity = _own_continuity(actor)
    limit = page_size
    for _ in range(MAX_PAGES):
        query = {"actor": actor, "after": feed.head_seq(), "limit": limit}
        try:
            page = _fetch_page(f"{base}/held/entries?{urlencode(query)}")
        except ResponseTooLarge:
            if limit == 1:
                raise Invalid.on("from", f"{base} served an entry too large to fetch.") from None
            limit = max(1, limit // 2)  # long posts: ask for fewer at a time
            continue
        if _number(page.get("heldSeq")) is None:
            raise Invalid.on("from", f"{base} did not answer with a page of held entries.")
        report.source_head = page["heldSeq"]
        if report.source_head <= report.local_head:
            _check_same_entry(report.source_head, page.get("heldHash"))
            break
        items = page.get("orderedItems")
        if not isinstance(items, list) or not items:
            break
        _append_run(group, actor, items, (lookup, continuity), report)
        if "next" not in page:
            break
    report.head = feed.head_seq()
    if report.head < report.source_head:
        raise Conflict(
            f"{base} holds entries up to seq {report.source_head} but served them only up to "
            f"{report.head}: publishing stays held. Try again, or another follower."
        )
    _check_keys_in_hand(actor, continuity)
    return report


def _check_keys_in_hand(actor: str, continuity: KeyContinuity) -> None:
    """Refuse to release publishing when the feed moved on to keys this node does not hold.

    A backup made before a rotation brings back the old keys; the followers' entries then
    prove the newer key, and anything the old one signed next would be refused by all of
    them (a retired key signs nothing after its rotation).
    """
    holding = f"{actor}#{node_keys().proof_fragment}"
    if continuity.current and continuity.current != holding:
        raise Conflict(
            f"The feed's rotation entries moved the group's signing key to {continuity.current}, "
            f"but this node holds {holding}: the backup is older than that rotation. Publishing "
            "stays held. Restore keys/ from a backup made after the rotation "
            "(`branchline restore SRC --keys-only`) and run recover again."
        )


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_same_entry(seq: int, held_hash: object) -> None:
    """A source that holds no more than we do must hold our entry at its head, not another."""
    if seq == 0:
        return
    mine = feed.entry(seq)
    if mine is None or mine.entry_hash != held_hash:
        raise Conflict(
            f"The source holds a different entry at seq {seq} than this node: the feed has "
            "forked. Publishing stays held; see docs/self-hosting.md."
        )


def _append_run(
    group,
    actor: str,
    items: list[Any],
    keys: tuple[Callable[[str], PublicKey | None], KeyContinuity],
    report: Recovery,
) -> None:
    """Verify a page against the local head and append what holds; commit."""
    start = feed.head()
    checked = signed_feed.verify_run(
        items,
        actor=actor,
        lookup_key=keys[0],
        start_after=start,
        now=utcnow(),
        continuity=keys[1],
    )
    good = len(items) if checked.problem is None else checked.problem.index
    if checked.redacted:
        good = min(good, next(i for i, e in enumerate(items) if signed_feed.is_redacted(e)))
    touched: set[str] = set()
    for entry, entry_hash in zip(items[:good], checked.hashes[:good], strict=True):
        obj = entry.get("object")
        db.session.add(
            FeedEntry(
                seq=entry["seq"],
                activity_id=entry["id"],
                activity_type=str(entry.get("type", ""))[:40],
                object_id=obj.get("id") if isinstance(obj, dict) else obj,
                object_type=_object_type(obj),
                body=signed_feed.serialize_entry(entry).decode(),
                entry_hash=entry_hash,
                created_at=moment(entry.get("published")) or utcnow(),
            )
        )
        changed = content.apply(group, entry)
        if changed is not None:
            touched.add(changed)
            report.restored[changed] = report.restored.get(changed, 0) + 1
        report.appended += 1
    if good:
        head_seq = items[good - 1]["seq"]
        db.session.execute(update(SiteState).where(SiteState.id == 1).values(feed_seq=head_seq))
        db.session.flush()
        content.advance_id_sequences(touched)
    db.session.commit()
    if good < len(items):
        seq = items[good].get("seq") if isinstance(items[good], dict) else None
        if checked.problem is not None:
            why = f"{checked.problem.reason}: {checked.problem.detail}"
        else:
            why = "it is a redacted stub (its content was not kept by the source)"
        raise Conflict(
            f"Entry {seq} from {report.source} does not verify against this group's own key "
            f"and chain ({why}). {report.appended} entries were recovered before it; "
            "publishing stays held."
        )


def _object_type(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    if obj.get("type") == "Tombstone":
        return obj.get("formerType")
    return obj.get("type")


def force_publish(reason: str) -> dict[str, Any] | None:
    """Clear the restore mark without reconciling (the admin accepts a possible fork)."""
    found = guard.pending()
    head = db.session.scalar(select(SiteState.feed_seq).where(SiteState.id == 1))
    guard.release(f"forced by an admin at feed seq {head}: {reason}")
    return found
