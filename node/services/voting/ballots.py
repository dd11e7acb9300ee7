"""Ballots: one member, one vote; secret papers with receipts; the count at the close.

Every ballot set up now is sealed: its tellers and key are ``ballot_tellers``' business, its
papers, trackers and count ``ballot_box``'s. A sealed vote is one row: the member's
``BallotVoter`` row carrying their paper sealed to the ballot's key and its tracker, which
is their receipt (no secret code: a change needs only their own log-in). The close of a
sealed ballot only ends the voting; the count waits for k tellers' shares.

What follows describes the legacy path, kept for ballots set up before sealing until they
close.

Casting writes two rows in one transaction: that the person voted (``BallotVoter``) and an
anonymous paper keyed by a fresh receipt code (``BallotPaper``). Nothing stored joins the
two.

Who has voted is keyed by a hash of the ballot and the member's e-mail address (HMAC-SHA256
under the node's ballot key, ``keys.ballot_key``; addresses are stripped and lower-cased
first, and members cannot change theirs), so the database refuses a second vote from one
address however many arrive at once. While the voter is a member the row also names them
(their export lists the ballots they voted in; the count knows who did not vote). When they
leave, or an organiser removes them, only the hash stays: whoever joins again with that
address has still voted, and a copy of the database without the key cannot say whose
address a hash is, nor match one ballot's voters with another's.

The member is given the whole receipt code once, ``RECEIPT-SECRET``. The receipt is the
paper's key, published with its choice at the close so the member can check it was counted
as cast. The secret is stored nowhere: the paper keeps an owner tag, an HMAC keyed by the
secret over the ballot, the receipt, the voter hash and the member's id. Where a ballot
allows changes, a change recomputes the tag from the code given *and the logged-in member*
(session or token), so:

- the code alone changes nothing: nobody votes without logging in, and another member who
  learns the code computes a different tag;
- the member who cast the paper changes it only with their code (80 secret bits);
- no column links a paper to a voter row, even for someone holding the node's keys: the tag
  is keyed by the secret, which only the member holds;
- a member who leaves and joins again is a new member id, so their old paper stands as it
  was, and they get no second one.

Nothing here is shown to anyone: the tag adds nothing to what a member could prove to a
coercer by handing over their code (sealed papers and trackers are a later change).

The close (by the worker when the time comes, or an organiser early) is a conditional
update, so it happens once; it counts the papers (``ballot_count``), checks the quorum,
stores the result, settles an endorsement ballot's candidate and puts the result on the
group's feed as an ActivityStreams ``Question`` with its counts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, exists, func, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload, selectinload, with_expression

from schemas import vocab

from ...extensions import db
from ...keys import ballot_key
from ...models import Ballot, BallotOption, BallotPaper, BallotVoter, Candidate, Member, utcnow
from .. import feed
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..groups import current_group
from ..organising.records import Page, can_see_members_only, commit, paginate
from . import ballot_box, ballot_count, ballot_tellers

# Crockford's base 32: no I, L, O or U, so a code read aloud or copied by hand survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIPT_LENGTH = 10  # public: ~50 bits, unguessable among a ballot's papers
SECRET_LENGTH = 16  # private: ~80 bits


@dataclass(frozen=True)
class Receipt:
    """What a member is given for their vote: shown once, never stored whole.

    On a sealed ballot ``receipt`` is the tracker and there is no ``receipt_code``.
    """

    receipt: str
    receipt_code: str | None
    changed: bool = False
    tracker: str | None = None


# --- reading -------------------------------------------------------------------------------


def state(ballot: Ballot, now: datetime | None = None) -> str:
    """Say where a ballot stands: scheduled, open, closing (time is up, not yet counted), closed.

    A sealed ballot is also waiting_for_tellers (its time has come but its key is not dealt)
    or counting (closed, waiting for k tellers' shares).
    """
    if ballot.sealed and ballot.closed_at is not None:
        return "closed" if ballot.counted_at is not None else "counting"
    if ballot.closed_at is not None:
        return "closed"
    now = now or utcnow()
    if now < ballot.opens_at:
        return "scheduled"
    if now < ballot.closes_at:
        return "waiting_for_tellers" if ballot.sealed and ballot.public_key is None else "open"
    return "closing"


def has_result(ballot: Ballot) -> bool:
    """Say whether a ballot's result is known: closed, and for a sealed one counted."""
    return ballot.closed_at is not None and (not ballot.sealed or ballot.counted_at is not None)


_COUNTED = Ballot.closed_at.is_not(None) & (
    Ballot.sealed.is_(False) | Ballot.counted_at.is_not(None)
)


def _may_see(ballot: Ballot, viewer: Member | None) -> bool:
    # Ballots are members' business; the public sees a public ballot's result once counted.
    if can_see_members_only(viewer):
        return True
    return ballot.visibility == "public" and has_result(ballot)


def listing(viewer: Member | None, page: int = 1, per_page: int = 20) -> Page[Ballot]:
    """List the ballots the viewer may see: open and coming first, then the latest closed."""
    query = select(Ballot).options(selectinload(Ballot.options))
    if not can_see_members_only(viewer):
        query = query.where(Ballot.visibility == "public", _COUNTED)
    query = query.order_by(Ballot.closed_at.is_not(None), Ballot.closes_at.desc(), Ballot.id.desc())
    return paginate(query, page, per_page)


def get(ballot_id: int, viewer: Member | None) -> Ballot:
    """Fetch a ballot the viewer may see, as a 404 otherwise (so hidden ones don't leak)."""
    ballot = db.session.scalar(
        select(Ballot).options(selectinload(Ballot.options)).where(Ballot.id == ballot_id)
    )
    if ballot is None or not _may_see(ballot, viewer):
        raise NotFound("No such ballot.")
    return ballot


# The voting path's statements, built once: a vote is the hot path, and building a
# statement costs more than running it.
_OPTION_COUNT = (
    select(func.count())
    .select_from(BallotOption)
    .where(BallotOption.ballot_id == Ballot.id)
    .scalar_subquery()
)
_FOR_VOTING = (
    select(Ballot)
    .options(lazyload(Ballot.options), with_expression(Ballot.option_count, _OPTION_COUNT))
    .where(Ballot.id == bindparam("ballot_id"))
)
_ADD_VOTER = insert(BallotVoter.__table__)
_ADD_PAPER = insert(BallotPaper.__table__)
_STILL_OPEN = (
    select(Ballot.closed_at, Ballot.closes_at)
    .where(Ballot.id == bindparam("ballot_id"))
    .with_for_update(read=True)
)


def for_voting(ballot_id: int, viewer: Member) -> Ballot:
    """Fetch a ballot to vote in, with the number of its options but not the options."""
    ballot = db.session.scalar(_FOR_VOTING, {"ballot_id": ballot_id})
    if ballot is None or not _may_see(ballot, viewer):
        raise NotFound("No such ballot.")
    return ballot


def voter_hash(ballot_id: int, email: str) -> str:
    """Return the keyed hash that records that the holder of ``email`` voted in a ballot."""
    message = f"{ballot_id}:{email.strip().lower()}".encode()
    return hmac.new(ballot_key(), message, hashlib.sha256).hexdigest()


def has_voted(ballot: Ballot, member: Member | None) -> bool:
    """Say whether ``member``'s address has voted in ``ballot``, now or in an earlier membership."""
    if member is None:
        return False
    return db.session.get(BallotVoter, (ballot.id, voter_hash(ballot.id, member.email))) is not None


def ineligibility(ballot: Ballot, member: Member) -> str | None:
    """Say why ``member`` may not vote in ``ballot``, or None when they may."""
    if not member.is_active:
        return "Your membership is suspended, so you can't vote."
    if member.joined_at > ballot.freeze_at:
        return "Only members who joined by the ballot's freeze date can vote in it."
    return None


def result(ballot: Ballot) -> dict[str, Any]:
    """Return the count of a closed ballot; before the close there is none to see."""
    if ballot.closed_at is None:
        raise Forbidden("The result is hidden until the ballot closes.")
    if not has_result(ballot):
        raise Forbidden("The result is hidden until the tellers have counted the papers.")
    found = json.loads(ballot.result or "{}")
    eligible = ballot.eligible_count or 0
    return {
        **found,
        "outcome": ballot.outcome,
        "voters_count": ballot.voters_count or 0,
        "eligible_count": eligible,
        "turnout": round((ballot.voters_count or 0) / eligible, 4) if eligible else 0.0,
        "quorum": ballot.quorum,
        "quorum_met": bool(ballot.quorum_met),
        **(
            {
                "sealed_count": ballot.sealed_count or 0,
                "spoilt_count": ballot.spoilt_count or 0,
                "tracker_list_hash": ballot.tracker_list_hash,
                "opened_papers_hash": ballot.opened_list_hash,
            }
            if ballot.sealed
            else {}
        ),
    }


def papers(
    ballot: Ballot, receipt: str | None = None, page: int = 1, per_page: int = 100
) -> Page[dict[str, Any]]:
    """Return a page of the closed ballot's papers, by receipt, for members to check.

    A sealed ballot's papers are the opened ones, in the count's shuffled order.
    """
    if ballot.sealed:
        return ballot_box.opened_papers(ballot, page, per_page)
    if ballot.closed_at is None:
        raise Forbidden("The papers are published when the ballot closes.")
    where = [BallotPaper.ballot_id == ballot.id]
    if receipt:
        where.append(BallotPaper.receipt == receipt_part(receipt))
    total = db.session.scalar(select(func.count()).select_from(BallotPaper).where(*where))
    rows = db.session.execute(
        select(BallotPaper.receipt, BallotPaper.choices)
        .where(*where)
        .order_by(BallotPaper.receipt)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    items = [{"receipt": code, "choices": json.loads(choices)} for code, choices in rows]
    return Page(items=items, page=page, per_page=per_page, total=total or 0)


def endorsing_ballot(candidate: Candidate) -> Ballot | None:
    """Return the closed ballot that decided a candidate's endorsement, if one did."""
    return db.session.scalar(
        select(Ballot)
        .where(Ballot.candidate_id == candidate.id, _COUNTED)
        .order_by(Ballot.closed_at.desc(), Ballot.id.desc())
        .limit(1)
    )


def endorsed_candidate(ballot: Ballot) -> Candidate | None:
    """Return the candidate a ballot decides the endorsement of, if it decides one."""
    return db.session.get(Candidate, ballot.candidate_id) if ballot.candidate_id else None


# --- setting up ----------------------------------------------------------------------------


def candidate_choices() -> list[tuple[int, str]]:
    """List every candidate as (id, name), by name, for a new ballot to endorse one."""
    rows = db.session.execute(select(Candidate.id, Candidate.name).order_by(Candidate.name))
    return [(cid, name) for cid, name in rows]


def _in_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    group = current_group()
    return value.replace(tzinfo=ZoneInfo(group.timezone if group else "UTC"))


def create(data: dict[str, Any], by: Member | None) -> Ballot:
    """Set up a sealed ballot from validated input (schemas.ballots.BallotIn), with its tellers."""
    data = dict(data)
    tellers = data.pop("tellers", None)
    tellers_needed = data.pop("tellers_needed", None)
    labels = list(vocab.YES_NO_OPTIONS) if data["kind"] == "yes_no" else data.pop("options")
    data.pop("options", None)
    for key in ("opens_at", "closes_at", "freeze_at"):
        data[key] = _in_utc(data.get(key))
    data["freeze_at"] = data.get("freeze_at") or data["opens_at"]
    if data["kind"] not in ("choose_many", "ranked"):
        data["seats"] = 1
    _check_times(data["opens_at"], data["closes_at"], data["freeze_at"], new=True)
    candidate_id = data.get("candidate_id")
    if candidate_id is not None and db.session.get(Candidate, candidate_id) is None:
        raise Invalid.on("candidate_id", "No candidate has that id.")
    ballot = Ballot(**data, sealed=True, created_by_id=by.id if by else None)
    ballot.options = [BallotOption(position=i, label=label) for i, label in enumerate(labels)]
    if tellers:
        ballot_tellers.name_tellers(ballot, tellers, tellers_needed, save=False)
    elif tellers_needed is not None:
        raise Invalid.on("tellers", "Name the tellers as well as how many must count.")
    db.session.add(ballot)
    commit()
    return ballot


FREEZE_AFTER_OPENING = "Must not be after the opening time: the roll is fixed before voting starts."


def _check_times(opens: datetime, closes: datetime, freeze: datetime, *, new: bool) -> None:
    if closes <= opens:
        raise Invalid.on("closes_at", "Must be after the opening time.")
    if freeze > opens:
        # The roll is fixed before voting starts: nobody can join, vote, leave and come back.
        raise Invalid.on("freeze_at", FREEZE_AFTER_OPENING)
    if closes <= utcnow():
        raise Invalid.on("closes_at", "Must be in the future.")


def update(ballot: Ballot, data: dict[str, Any]) -> Ballot:
    """Change a ballot that has not opened yet: once voting starts, the terms are fixed.

    Its tellers (``tellers``, ``tellers_needed``) may change until their key is dealt.
    """
    data = dict(data)
    tellers = data.pop("tellers", None)
    tellers_needed = data.pop("tellers_needed", None)
    if tellers is not None or tellers_needed is not None:
        if tellers is None:
            tellers = [t.member_id for t in ballot.tellers]
        ballot_tellers.name_tellers(ballot, tellers, tellers_needed, save=not data)
        if not data:
            return ballot
    if state(ballot) != "scheduled":
        raise Conflict("This ballot has opened: its terms can no longer change.")
    for key in ("opens_at", "closes_at", "freeze_at"):
        if key in data:
            data[key] = _in_utc(data[key])
    merged = {k: data.get(k, getattr(ballot, k)) for k in ("opens_at", "closes_at", "freeze_at")}
    _check_times(merged["opens_at"], merged["closes_at"], merged["freeze_at"], new=False)
    for key, value in data.items():
        setattr(ballot, key, "" if value is None and key == "description" else value)
    # The conditional update makes "not opened yet" hold at the moment of writing too.
    changed = db.session.execute(
        sql_update(Ballot)
        .where(Ballot.id == ballot.id, Ballot.opens_at > utcnow(), Ballot.closed_at.is_(None))
        .values(updated_at=utcnow())
    )
    if changed.rowcount != 1:
        db.session.rollback()
        raise Conflict("This ballot has opened: its terms can no longer change.")
    commit()
    return ballot


def delete(ballot: Ballot) -> None:
    """Remove a ballot nobody has voted in (a mistake, caught before it mattered)."""
    if db.session.scalar(select(exists().where(BallotVoter.ballot_id == ballot.id))):
        raise Conflict("Members have voted in this ballot, so it can't be deleted.")
    if ballot.closed_at is not None:
        raise Conflict("This ballot is closed; its result stays on record.")
    db.session.delete(ballot)
    commit()


# --- voting --------------------------------------------------------------------------------


ALREADY_VOTED = "You have already voted in this ballot."
CANNOT_CHANGE = "You have already voted in this ballot, and votes can't be changed."
NOT_YOUR_CODE = "That is not the receipt code you were given for this ballot."


def _check_choices(ballot: Ballot, choices: list[int]) -> list[int]:
    options = ballot.option_count if ballot.option_count is not None else len(ballot.options)
    wrong = ballot_count.problem(ballot.kind, options, ballot.seats, choices)
    if wrong:
        raise Invalid.on("choices", wrong)
    return list(choices)


def _new_code() -> tuple[str, str]:
    receipt = "".join(secrets.choice(ALPHABET) for _ in range(RECEIPT_LENGTH))
    secret = "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH))
    return receipt, secret


def _normal_code(code: str) -> str:
    # Forgive case, spaces and look-alike letters in a code typed back in.
    cleaned = code.strip().upper().replace(" ", "").translate(str.maketrans("ILO", "110"))
    return cleaned


def receipt_part(code: str) -> str:
    return _normal_code(code).split("-", 1)[0]


def _owner_tag(ballot_id: int, receipt: str, voter: str, member_id: int, secret: str) -> str:
    # Keyed by the secret, which is stored nowhere, so the tag links paper and voter only
    # for whoever holds the code; bound to the member, so only they can use it.
    message = f"{ballot_id}:{receipt}:{voter}:{member_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def cast(
    ballot: Ballot, member: Member, choices: list[int], receipt_code: str | None = None
) -> Receipt:
    """Record ``member``'s vote, or change it (with their receipt code) where that's allowed."""
    choices = _check_choices(ballot, choices)
    now = utcnow()
    where = state(ballot, now)
    if where == "scheduled":
        raise Conflict("This ballot is not open yet.")
    if where == "waiting_for_tellers":
        raise Conflict(ballot_tellers.NOT_DEALT)
    if where != "open":
        raise Conflict("This ballot has closed.")
    reason = ineligibility(ballot, member)
    if reason:
        raise Forbidden(reason)
    voter = voter_hash(ballot.id, member.email)
    if ballot.sealed:
        return _cast_sealed(ballot, member, voter, choices, receipt_code)
    # Without changes allowed, the voter row's key alone refuses a second vote.
    if ballot.allow_change or receipt_code:
        record = db.session.get(BallotVoter, (ballot.id, voter))
        if record is not None:
            return _change(ballot, member, record, choices, receipt_code)
    if receipt_code:
        raise Forbidden(NOT_YOUR_CODE)
    receipt, secret = _new_code()
    # Core inserts: two rows need no unit of work (nor anything loaded back).
    try:
        # On SQLite the first insert takes the write lock: the close waits for us.
        db.session.execute(
            _ADD_VOTER, {"ballot_id": ballot.id, "voter": voter, "member_id": member.id}
        )
    except IntegrityError:
        # This address has voted already (perhaps as an earlier member), or their other
        # vote got in first: the voter key.
        db.session.rollback()
        raise Conflict(ALREADY_VOTED if ballot.allow_change else CANNOT_CHANGE) from None
    paper = {
        "ballot_id": ballot.id,
        "receipt": receipt,
        "owner_tag": _owner_tag(ballot.id, receipt, voter, member.id, secret),
        "choices": json.dumps(choices),
    }
    db.session.execute(_ADD_PAPER, paper)
    _still_open(ballot)
    db.session.commit()
    return Receipt(receipt, f"{receipt}-{secret}")


def _cast_sealed(
    ballot: Ballot, member: Member, voter: str, choices: list[int], code: str | None
) -> Receipt:
    if code:
        raise Invalid.on(
            "receipt_code", "This ballot is sealed: a change needs only your own log-in."
        )
    change = False
    if ballot.allow_change:
        record = db.session.get(BallotVoter, (ballot.id, voter))
        if record is not None:
            if record.member_id != member.id:
                # Cast under an earlier membership with this address: it stands.
                raise Conflict(
                    f"{ALREADY_VOTED} That vote was cast before you last joined, and stands."
                )
            change = True
    try:
        # One row: who voted, and their paper sealed so that nobody here can read it.
        found = ballot_box.put_paper(ballot, voter, member.id, choices, change=change)
    except IntegrityError:
        # This address has voted already, or their other vote got in first: the voter key.
        db.session.rollback()
        raise Conflict(ALREADY_VOTED if ballot.allow_change else CANNOT_CHANGE) from None
    _still_open(ballot)
    db.session.commit()
    return Receipt(found, None, changed=change, tracker=found)


def _change(
    ballot: Ballot, member: Member, record: BallotVoter, choices: list[int], code: str | None
) -> Receipt:
    if not ballot.allow_change:
        raise Conflict(CANNOT_CHANGE)
    if record.member_id != member.id:
        # Cast under an earlier membership with this address: joining again restores nothing.
        raise Conflict(f"{ALREADY_VOTED} That vote was cast before you last joined, and stands.")
    if not code:
        raise Conflict(
            "You have already voted. To change your vote, give the receipt code you were given."
        )
    receipt, _, secret = _normal_code(code).partition("-")
    paper = db.session.get(BallotPaper, (ballot.id, receipt))
    if paper is None:
        raise Forbidden(NOT_YOUR_CODE)
    tag = _owner_tag(ballot.id, paper.receipt, record.voter, member.id, secret)
    if not hmac.compare_digest(paper.owner_tag, tag):
        raise Forbidden(NOT_YOUR_CODE)
    changed = db.session.execute(
        sql_update(BallotPaper)
        .where(
            BallotPaper.ballot_id == ballot.id,
            BallotPaper.receipt == paper.receipt,
            BallotPaper.owner_tag == tag,
        )
        .values(choices=json.dumps(choices))
    )
    if changed.rowcount != 1:
        db.session.rollback()
        raise Forbidden(NOT_YOUR_CODE)
    _still_open(ballot)
    db.session.commit()
    return Receipt(paper.receipt, f"{paper.receipt}-{secret}", changed=True)


def forget_voter(member: Member) -> None:
    """Keep that ``member`` voted in each ballot, but no longer who they are (they are going)."""
    db.session.execute(
        sql_update(BallotVoter).where(BallotVoter.member_id == member.id).values(member_id=None)
    )


def _still_open(ballot: Ballot) -> None:
    # Read again inside the transaction (FOR SHARE on PostgreSQL, so the close's update
    # waits for this vote or this vote sees the close), and refuse a vote that lost the race.
    closed_at, closes_at = db.session.execute(_STILL_OPEN, {"ballot_id": ballot.id}).one()
    if closed_at is not None or closes_at <= utcnow():
        db.session.rollback()
        raise Conflict("This ballot has closed.")


# --- the close -----------------------------------------------------------------------------


def close(ballot: Ballot, *, early: bool = False) -> Ballot:
    """Count and close a ballot: when its time is up, or before that if ``early``."""
    now = utcnow()
    if ballot.closed_at is not None:
        raise Conflict("This ballot is already closed.")
    if now < ballot.opens_at:
        raise Conflict("This ballot has not opened yet; change or delete it instead.")
    if now < ballot.closes_at and not early:
        raise Conflict("This ballot is still open.")
    claimed = db.session.execute(
        sql_update(Ballot)
        .where(Ballot.id == ballot.id, Ballot.closed_at.is_(None))
        .values(closed_at=now)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        raise Conflict("This ballot is already closed.")
    if now < ballot.closes_at:
        ballot.closes_at = now  # closed early: it was open until now
    if ballot.sealed:
        ballot.closed_at = now
        if ballot.public_key is None:
            # Never dealt, so nobody could vote: there is nothing for tellers to open.
            ballot_box.count_sealed(ballot, None)
        commit()  # otherwise counting: the tellers' shares open the papers
        return ballot
    _count(ballot, now)
    feed.record(ballot, "update")
    ballot_box.settle_endorsement(ballot)
    commit()
    return ballot


def _count(ballot: Ballot, now: datetime) -> None:
    papers_json = db.session.scalars(
        select(BallotPaper.choices).where(BallotPaper.ballot_id == ballot.id)
    )
    counted = ballot_count.count(
        ballot.kind, len(ballot.options), ballot.seats, (json.loads(p) for p in papers_json)
    )
    # Turnout is the papers cast: a member who has since left keeps their vote, as a count.
    voters = db.session.scalar(
        select(func.count()).select_from(BallotPaper).where(BallotPaper.ballot_id == ballot.id)
    )
    eligible = ballot_box.roll(ballot)
    ballot.closed_at = now
    ballot.voters_count = voters
    ballot.eligible_count = max(eligible, voters)
    ballot.quorum_met = ballot.quorum is None or voters >= ballot.quorum
    ballot.outcome = counted.outcome if ballot.quorum_met else "no_quorum"
    ballot.result = json.dumps(counted.as_json())


def close_due(limit: int = 20) -> int:
    """Close ballots whose time is up (the worker calls this); return how many."""
    due = db.session.scalars(
        select(Ballot)
        .options(selectinload(Ballot.options))
        .where(Ballot.closed_at.is_(None), Ballot.closes_at <= utcnow())
        .order_by(Ballot.closes_at, Ballot.id)
        .limit(limit)
    ).all()
    closed = 0
    for ballot in due:
        try:
            close(ballot)
        except Conflict:
            db.session.rollback()  # another worker closed it first
            continue
        closed += 1
    return closed
