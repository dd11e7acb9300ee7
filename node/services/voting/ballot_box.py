"""The ballot box of a sealed ballot: sealed papers and trackers in, opened papers out.

A member's paper is sealed to the ballot's public key (``sealing.seal``, padded to one
length) and stored on their own ``BallotVoter`` row with its tracker, the hash of the
sealed bytes. That row says who cast which sealed paper, which is harmless: nobody can
read it without ``tellers_needed`` tellers' shares, and the node never stores the key.
So the order rows are written in (SQLite pages and WAL, PostgreSQL ``xmin`` and ``ctid``)
pairs each voter only with an unreadable paper.

The count (``count_sealed``, given the key rebuilt in memory by ``ballot_tellers``)
opens every paper, shuffles the opened papers with the operating system's random
numbers, and writes them in that order to ``BallotOpened`` with nothing that points back
at a voter: members can recount them, and the hashes of the tracker list and of the
opened papers go into the signed result. After the challenge period ``erase_due`` empties
the sealed papers, so from then on not even k tellers together can link a member to a
choice; the trackers and the opened papers stay.

This module imports no other ballot service (``ballots`` and ``ballot_tellers`` use it).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import exists, func, insert, select
from sqlalchemy import update as sql_update

from federation.jcs import canonicalize

from ...extensions import db
from ...models import Ballot, BallotOpened, BallotVoter, Candidate, Member, utcnow
from .. import feed
from ..errors import Conflict, Forbidden, NotFound
from ..organising.records import Page
from . import ballot_count, sealing

_ADD_SEALED = insert(BallotVoter.__table__)


def put_paper(
    ballot: Ballot, voter: str, member_id: int, choices: list[int], *, change: bool
) -> str:
    """Seal checked ``choices`` and store them on the voter's row; return the tracker.

    A new paper is one INSERT, so the voter row's key refuses a second one however many
    arrive at once; ``change`` replaces the paper on the member's own row instead. Nothing
    is committed here (the caller checks the ballot is still open first).
    """
    sealed = sealing.seal(bytes.fromhex(ballot.public_key or ""), choices)
    tracker = sealing.tracker(sealed)
    if change:
        changed = db.session.execute(
            sql_update(BallotVoter)
            .where(
                BallotVoter.ballot_id == ballot.id,
                BallotVoter.voter == voter,
                BallotVoter.member_id == member_id,
            )
            .values(sealed_paper=sealed, tracker=tracker)
        )
        if changed.rowcount != 1:
            db.session.rollback()
            raise Conflict(gettext("You have already voted in this ballot, and that vote stands."))
    else:
        row = {
            "ballot_id": ballot.id,
            "voter": voter,
            "member_id": member_id,
            "sealed_paper": sealed,
            "tracker": tracker,
        }
        db.session.execute(_ADD_SEALED, row)
    return tracker


def _require_sealed(ballot: Ballot) -> None:
    if not ballot.sealed:
        raise NotFound(
            gettext("This ballot has no ballot box: it was set up before papers were sealed.")
        )


def trackers(
    ballot: Ballot, page: int = 1, per_page: int = 100, tracker: str | None = None
) -> Page[str]:
    """Return a page of the ballot box's trackers, in tracker order; or find one tracker."""
    _require_sealed(ballot)
    where = [BallotVoter.ballot_id == ballot.id, BallotVoter.tracker.is_not(None)]
    if tracker is not None:
        wanted = tracker.strip().lower()
        found = db.session.scalar(
            select(BallotVoter.tracker).where(*where, BallotVoter.tracker == wanted)
        )
        if found is None:
            raise NotFound(gettext("No paper in this ballot box has that tracker."))
        return Page(items=[found], page=1, per_page=per_page, total=1)
    total = db.session.scalar(select(func.count()).select_from(BallotVoter).where(*where))
    # Sorted by tracker, never by when it was cast: the listing says nothing of the order.
    items = db.session.scalars(
        select(BallotVoter.tracker)
        .where(*where)
        .order_by(BallotVoter.tracker)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(items=list(items), page=page, per_page=per_page, total=total or 0)


def opened_papers(ballot: Ballot, page: int = 1, per_page: int = 100) -> Page[dict[str, Any]]:
    """Return a page of a counted ballot's opened papers, in the count's shuffled order."""
    _require_sealed(ballot)
    if ballot.counted_at is None:
        raise Forbidden(gettext("The opened papers are published when the tellers have counted."))
    where = [BallotOpened.ballot_id == ballot.id]
    total = db.session.scalar(select(func.count()).select_from(BallotOpened).where(*where))
    rows = db.session.execute(
        select(BallotOpened.position, BallotOpened.choices, BallotOpened.spoilt)
        .where(*where)
        .order_by(BallotOpened.position)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    items = [
        {"position": position, "choices": json.loads(choices), "spoilt": spoilt}
        for position, choices, spoilt in rows
    ]
    return Page(items=items, page=page, per_page=per_page, total=total or 0)


def tracker_list_hash(found: list[str]) -> str:
    """Hash the ballot box: its trackers sorted, one per line."""
    return hashlib.sha256("".join(f"{t}\n" for t in sorted(found)).encode()).hexdigest()


def opened_list_hash(opened: list[dict[str, Any]]) -> str:
    """Hash the opened papers as published: RFC 8785 JSON of the list, in shuffled order."""
    return hashlib.sha256(canonicalize(opened)).hexdigest()


def roll(ballot: Ballot) -> int:
    """Count who could vote: everyone who voted, and the active members on the roll who did not."""
    voted = db.session.scalar(
        select(func.count()).select_from(BallotVoter).where(BallotVoter.ballot_id == ballot.id)
    )
    has_voted_row = exists().where(
        BallotVoter.ballot_id == ballot.id, BallotVoter.member_id == Member.id
    )
    did_not_vote = db.session.scalar(
        select(func.count())
        .select_from(Member)
        .where(Member.joined_at <= ballot.freeze_at, Member.status == "active", ~has_voted_row)
    )
    return (voted or 0) + (did_not_vote or 0)


def count_sealed(ballot: Ballot, private_key: bytes | None) -> Ballot:
    """Open, shuffle, publish and count a closed sealed ballot's papers, without committing.

    ``private_key`` is the ballot key rebuilt in memory (None only for a ballot nobody could
    vote in, its key never dealt); it is used here and never stored.
    """
    if ballot.closed_at is None or ballot.counted_at is not None:
        raise Conflict(gettext("Only a closed ballot not yet counted can be counted."))
    rows = db.session.execute(
        select(BallotVoter.sealed_paper, BallotVoter.tracker).where(
            BallotVoter.ballot_id == ballot.id, BallotVoter.sealed_paper.is_not(None)
        )
    ).all()
    if rows and private_key is None:
        raise Conflict(gettext("This ballot's papers need its key to be opened."))
    box = sealing.opener(private_key) if private_key is not None else None
    del private_key  # the box holds what it needs; drop our reference at once
    opened = [sealing.open_paper(box, sealed) for sealed, _ in rows] if box else []
    del box
    # A cryptographic random permutation: the published order owes nothing to the order
    # the papers were cast or stored in.
    secrets.SystemRandom().shuffle(opened)
    options, papers, published = len(ballot.options), [], []
    for position, choices in enumerate(opened):
        spoilt = choices is None or bool(
            ballot_count.problem(ballot.kind, options, ballot.seats, choices)
        )
        published.append({"position": position, "choices": choices or [], "spoilt": spoilt})
        if not spoilt:
            papers.append(choices)
    if published:
        db.session.execute(
            insert(BallotOpened.__table__),
            [{**p, "ballot_id": ballot.id, "choices": json.dumps(p["choices"])} for p in published],
        )
    counted = ballot_count.count(ballot.kind, options, ballot.seats, papers)
    now = utcnow()
    # Turnout is the papers cast, spoilt ones too: a member who spoils a paper has voted.
    voters = len(rows)
    ballot.counted_at = now
    ballot.voters_count = voters
    ballot.sealed_count = voters
    ballot.spoilt_count = voters - len(papers)
    ballot.eligible_count = max(roll(ballot), voters)
    ballot.quorum_met = ballot.quorum is None or voters >= ballot.quorum
    ballot.outcome = counted.outcome if ballot.quorum_met else "no_quorum"
    ballot.result = json.dumps(counted.as_json())
    ballot.tracker_list_hash = tracker_list_hash([t for _, t in rows])
    ballot.opened_list_hash = opened_list_hash(published)
    feed.record(ballot, "update")
    settle_endorsement(ballot)
    return ballot


def settle_endorsement(ballot: Ballot) -> None:
    """Set an endorsement ballot's candidate from its outcome, on the feed, without committing."""
    if ballot.candidate_id is None:
        return
    candidate = db.session.get(Candidate, ballot.candidate_id)
    if candidate is None:
        return
    if ballot.outcome == "passed":
        candidate.endorsement = "endorsed"
    elif candidate.endorsement == "proposed":
        candidate.endorsement = "none"  # the proposal was put to the members and fell
    else:
        return
    feed.record(candidate, "update")


def challenge_days() -> float:
    """Return how long after the count the sealed papers are kept (for a challenge)."""
    return float(current_app.config.get("BALLOT_CHALLENGE_DAYS", 7))


def erase_due(now: datetime | None = None) -> int:
    """Erase the sealed papers of ballots counted longer ago than the challenge period."""
    now = now or utcnow()
    due = db.session.scalars(
        select(Ballot.id).where(
            Ballot.sealed.is_(True),
            Ballot.counted_at.is_not(None),
            Ballot.counted_at <= now - timedelta(days=challenge_days()),
            Ballot.papers_erased_at.is_(None),
        )
    ).all()
    for ballot_id in due:
        db.session.execute(
            sql_update(BallotVoter)
            .where(BallotVoter.ballot_id == ballot_id)
            .values(sealed_paper=None)
        )
        db.session.execute(
            sql_update(Ballot).where(Ballot.id == ballot_id).values(papers_erased_at=now)
        )
    db.session.commit()
    if due:
        scrub_files()
    return len(due)


def scrub_files() -> None:
    """Leave no copy of erased ballot data in SQLite's files (call after the commit)."""
    # secure_delete (set on every connection) zeroes the erased bytes in the database file;
    # the WAL still holds older copies of those pages until it is checkpointed and cut off.
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
