"""Blocking and unblocking: what a new block changes beyond the list itself.

A block (blocks.py keeps the list) cuts every tie with the peers it covers, now and from
then on:

- deliveries still waiting for them are cancelled (state ``cancelled``); the feed queues
  none for them from then on (feed.py asks the block list);
- their follows of this group are removed, with a Reject so they stop expecting entries;
  our follows of them are removed, with an Undo; new follows either way are refused (the
  inbox answers 403, ``follows.follow`` refuses);
- a twinning with them ends (the Undo goes on our feed and to them), a proposal is declined;
- on an aggregator their listing is removed: their entries leave the combined feed, the
  directory and the national pages, and an aggregator source is no longer pulled.

The goodbyes (Reject, Undo) are queued after the cancellation, so they are the last things
sent. With ``notify=False`` a hostile server is told nothing: each goodbye is stored already
cancelled, never committed waiting, so no worker (another thread or process) can claim and
send it first. A blocked peer that keeps pushing gets 403 and is not polled (nothing follows
it).
Unblocking removes the row only: follows and twinnings are not made again by themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

from flask_babel import gettext
from sqlalchemy import event, select, update

from ...extensions import db
from ...models import Block, Delivery, Follower, Following, Member, Peer, Twinning
from ..aggregator import directory
from ..aggregator.listings import REMOVED, listing_of
from ..errors import Invalid, ServiceError
from ..groups import base_url as our_base_url
from ..role import is_aggregator
from ..twins import twinning
from . import blocks, follows
from .deliveries import PENDING

CANCELLED = "cancelled"  # Delivery.state of one a block stopped


@dataclass
class Severed:
    """What blocks cut: peers covered, deliveries cancelled, follows and twins ended."""

    blocks: list[Block]
    peers: list[str] = field(default_factory=list)
    deliveries_cancelled: int = 0
    followers_removed: int = 0
    follows_removed: int = 0
    twinnings_ended: int = 0
    listings_removed: int = 0

    @property
    def block(self) -> Block:
        """Return the (first) block this report is about."""
        return self.blocks[0]

    def summary(self) -> str:
        """Say in one line what the block cut."""
        return (
            f"{len(self.peers)} known peer(s); {self.deliveries_cancelled} deliveries "
            f"cancelled, {self.followers_removed} follower(s) and {self.follows_removed} "
            f"follow(s) removed, {self.twinnings_ended} twinning(s) ended, "
            f"{self.listings_removed} directory listing(s) removed"
        )


def block(
    text: str,
    *,
    public_comment: str = "",
    private_comment: str = "",
    by: Member | None = None,
    by_name: str = "",
    reject_media: bool = False,
    reject_reports: bool = False,
    obfuscate: bool = False,
    notify: bool = True,
) -> Severed:
    """Block an actor URL or a domain (with its subdomains) and cut every tie with it.

    With ``notify`` the peers are told (Reject, Undo); without, nothing more is sent to them.
    """
    row = _new_block(
        text,
        public_comment=public_comment,
        private_comment=private_comment,
        by=by,
        by_name=by_name,
        reject_media=reject_media,
        reject_reports=reject_reports,
        obfuscate=obfuscate,
    )
    return _sever([row], notify)


def _new_block(text: str, **fields) -> Block:
    """Add a block row (not committed), refusing one that would cover this node itself."""
    try:
        _kind, target = blocks.target_of(text)
    except blocks.NotATarget as error:
        raise Invalid.on("target", str(error)) from None
    ours = our_base_url()
    if ours and blocks.BlockList(frozenset([target])).covers(f"{ours.rstrip('/')}/actor"):
        raise Invalid.on("target", gettext("That would block this node itself."))
    return blocks.new_block(text, **fields)


def _sever(rows: list[Block], notify: bool) -> Severed:
    """Commit new blocks with their cancellations, then cut the ties of the peers covered.

    One pass over the known peers and the waiting deliveries for all of ``rows``: an import
    of thousands of domains costs one pass, not one each.
    """
    covering = blocks.BlockList(frozenset(row.target for row in rows))
    report = Severed(rows)
    covered = [
        peer
        for peer in db.session.scalars(select(Peer).order_by(Peer.id))
        if covering.covers(peer.actor_id) or covering.covers(peer.inbox)
    ]
    report.peers = [peer.actor_id for peer in covered]
    peer_ids = {peer.id for peer in covered}
    report.deliveries_cancelled = _cancel_deliveries(covering, peer_ids)
    db.session.commit()  # the block and the cancellations land together
    with nullcontext() if notify else _stored_cancelled(covering, peer_ids, report):
        for peer in covered:
            _cut(peer, report, _covering(rows, peer))
    return report


@contextmanager
def _stored_cancelled(
    covering: blocks.BlockList, peer_ids: set[int], report: Severed
) -> Iterator[None]:
    """Store every delivery queued meanwhile to a covered peer as cancelled, not waiting.

    Each tie cut commits on its own (an Undo, a Reject, a twinning's end): a goodbye that
    was committed waiting and cancelled afterwards could be claimed and sent in between.
    """
    session = db.session()

    def cancel(flushing, _context, _instances) -> None:
        for row in flushing.new:
            if not isinstance(row, Delivery) or row.state != PENDING:
                continue
            if row.peer_id in peer_ids or covering.covers(row.inbox):
                row.state, row.last_error = CANCELLED, "cancelled: blocked"
                report.deliveries_cancelled += 1

    event.listen(session, "before_flush", cancel)
    try:
        yield
    finally:
        event.remove(session, "before_flush", cancel)


def _covering(rows: list[Block], peer: Peer) -> Block:
    for row in rows:
        one = blocks.BlockList(frozenset([row.target]))
        if one.covers(peer.actor_id) or one.covers(peer.inbox):
            return row
    return rows[0]


def _cancel_deliveries(covering: blocks.BlockList, peer_ids: set[int]) -> int:
    waiting = db.session.execute(
        select(Delivery.id, Delivery.inbox, Delivery.peer_id).where(Delivery.state == PENDING)
    ).all()
    ids = [id_ for id_, inbox, peer_id in waiting if peer_id in peer_ids or covering.covers(inbox)]
    for start in range(0, len(ids), 500):
        # Only rows still waiting: one a worker has claimed meanwhile finishes its send.
        db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids[start : start + 500]), Delivery.state == PENDING)
            .values(state=CANCELLED, last_error="cancelled: blocked")
            .execution_options(synchronize_session=False)
        )
    return len(ids)


def _cut(peer: Peer, report: Severed, row: Block) -> None:
    """End the directory listing, the twinning and the follows both ways with ``peer``."""
    if is_aggregator():
        listing = listing_of(peer)
        if listing is not None and listing.state != REMOVED:
            reason = f"Blocked. {row.public_comment}".strip()[: directory.MAX_REASON]
            directory.remove(listing, reason)  # unfollows, rejects, withdraws its entries
            report.listings_removed += 1
    twin = db.session.scalar(select(Twinning).where(Twinning.peer_id == peer.id))
    if twin is not None:
        try:
            if twin.state == twinning.INCOMING:
                twinning.decline(twin)
                report.twinnings_ended += 1
            elif twin.state in (twinning.PROPOSED, twinning.ACTIVE):
                twinning.end(twin)
                report.twinnings_ended += 1
        except ServiceError:
            db.session.rollback()
    following = db.session.scalar(select(Following).where(Following.peer_id == peer.id))
    if following is not None:
        follows.unfollow(following)  # commits
        report.follows_removed += 1
    follower = db.session.scalar(select(Follower).where(Follower.peer_id == peer.id))
    if follower is not None:
        follows.reject(follower)  # commits
        report.followers_removed += 1
    db.session.commit()


def unblock(row: Block) -> None:
    """Remove a block; follows and twinnings it ended are not made again by themselves."""
    db.session.delete(row)
    db.session.commit()


# The CSV file -------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What importing a block-list file did, row by row."""

    added: list[Block] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped: list[tuple[int, str, str]] = field(default_factory=list)  # row, domain, why
    severed: Severed | None = None

    def summary(self) -> str:
        """Say in one line what the import did."""
        return (
            f"{len(self.added)} blocked, {len(self.already)} blocked already, "
            f"{len(self.skipped)} skipped"
        )


def import_csv(
    text: str,
    *,
    silence_as_block: bool = False,
    by: Member | None = None,
    by_name: str = "",
    notify: bool = True,
) -> ImportReport:
    """Block every domain a Mastodon domain-block file suspends (``silence`` too if asked).

    ``noop`` rows are skipped, and so are ``silence`` rows unless ``silence_as_block``:
    Branchline has no half-way "limited" state, and blocking is the stronger choice an
    admin should make knowingly. A bad row is reported and skipped; the rest are blocked
    together, in one transaction, then their ties cut in one pass.
    """
    report = ImportReport()
    known = set(db.session.scalars(select(Block.target)))
    for row in blocks.read_csv(text):
        if row.problem:
            report.skipped.append((row.row, row.domain, row.problem))
            continue
        if row.severity == "noop" or (row.severity == "silence" and not silence_as_block):
            report.skipped.append((row.row, row.domain, f"severity {row.severity}"))
            continue
        try:
            _kind, target = blocks.target_of(row.domain)
        except blocks.NotATarget as error:
            report.skipped.append((row.row, row.domain, str(error)))
            continue
        if target in known:
            report.already.append(target)
            continue
        try:
            # Refused before anything is added, so the rows added so far stay good.
            added = _new_block(
                row.domain,
                public_comment=row.public_comment,
                by=by,
                by_name=by_name,
                reject_media=row.reject_media,
                reject_reports=row.reject_reports,
                obfuscate=row.obfuscate,
                known=known,
            )
        except ServiceError as error:
            why = " ".join(t for ts in error.fields.values() for t in ts) or error.message
            report.skipped.append((row.row, row.domain, why))
            continue
        report.added.append(added)
    if report.added:
        report.severed = _sever(report.added, notify)
    return report


def export_csv(*, actors: bool = False) -> str:
    """Write the block list as Mastodon's domain-block CSV (with ``actors``, actor URLs too)."""
    return blocks.write_csv(blocks.listing(), actors=actors)
