"""Votes: one member, one vote; secret papers with receipts.

On a sealed ballot a vote is one row: the member's ``BallotVoter`` row carrying their paper
sealed to the ballot's key and its tracker, which is their receipt (no secret code: a change
needs only their own log-in); ``ballot_box`` seals and keeps it.

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
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload, with_expression

from schemas.wording import N_

from ...extensions import db
from ...keys import ballot_key
from ...models import Ballot, BallotOption, BallotPaper, BallotVoter, Member, utcnow
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..organising.records import Page
from . import ballot_box, ballot_count, ballot_tellers
from .ballots import may_see, state

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
    if ballot is None or not may_see(ballot, viewer):
        raise NotFound(gettext("No such ballot."))
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


def papers(
    ballot: Ballot, receipt: str | None = None, page: int = 1, per_page: int = 100
) -> Page[dict[str, Any]]:
    """Return a page of the closed ballot's papers, by receipt, for members to check.

    A sealed ballot's papers are the opened ones, in the count's shuffled order.
    """
    if ballot.sealed:
        return ballot_box.opened_papers(ballot, page, per_page)
    if ballot.closed_at is None:
        raise Forbidden(gettext("The papers are published when the ballot closes."))
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


# --- voting --------------------------------------------------------------------------------


ALREADY_VOTED = N_("You have already voted in this ballot.")
CANNOT_CHANGE = N_("You have already voted in this ballot, and votes can't be changed.")
NOT_YOUR_CODE = N_("That is not the receipt code you were given for this ballot.")


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


def check_may_vote(ballot: Ballot, member: Member, choices: list[int]) -> None:
    """Refuse (Invalid, Conflict or Forbidden) what ``cast`` would refuse, writing nothing."""
    _check_choices(ballot, choices)
    _check_open(ballot, member)
    if not ballot.allow_change and has_voted(ballot, member):
        raise Conflict(gettext(CANNOT_CHANGE))


def _check_open(ballot: Ballot, member: Member) -> None:
    where = state(ballot, utcnow())
    if where == "scheduled":
        raise Conflict(gettext("This ballot is not open yet."))
    if where == "waiting_for_tellers":
        raise Conflict(gettext(ballot_tellers.NOT_DEALT))
    if where != "open":
        raise Conflict(gettext("This ballot has closed."))
    reason = ineligibility(ballot, member)
    if reason:
        raise Forbidden(reason)


def cast(
    ballot: Ballot, member: Member, choices: list[int], receipt_code: str | None = None
) -> Receipt:
    """Record ``member``'s vote, or change it (with their receipt code) where that's allowed."""
    choices = _check_choices(ballot, choices)
    _check_open(ballot, member)
    voter = voter_hash(ballot.id, member.email)
    if ballot.sealed:
        return _cast_sealed(ballot, member, voter, choices, receipt_code)
    # Without changes allowed, the voter row's key alone refuses a second vote.
    if ballot.allow_change or receipt_code:
        record = db.session.get(BallotVoter, (ballot.id, voter))
        if record is not None:
            return _change(ballot, member, record, choices, receipt_code)
    if receipt_code:
        raise Forbidden(gettext(NOT_YOUR_CODE))
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
        raise Conflict(gettext(ALREADY_VOTED if ballot.allow_change else CANNOT_CHANGE)) from None
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
            "receipt_code", gettext("This ballot is sealed: a change needs only your own log-in.")
        )
    change = False
    if ballot.allow_change:
        record = db.session.get(BallotVoter, (ballot.id, voter))
        if record is not None:
            if record.member_id != member.id:
                # Cast under an earlier membership with this address: it stands.
                raise Conflict(
                    gettext(
                        (
                            "%(already_voted)s That vote was cast before you last "
                            "joined, and stands."
                        ),
                        already_voted=gettext(ALREADY_VOTED),
                    )
                )
            change = True
    try:
        # One row: who voted, and their paper sealed so that nobody here can read it.
        found = ballot_box.put_paper(ballot, voter, member.id, choices, change=change)
    except IntegrityError:
        # This address has voted already, or their other vote got in first: the voter key.
        db.session.rollback()
        raise Conflict(gettext(ALREADY_VOTED if ballot.allow_change else CANNOT_CHANGE)) from None
    _still_open(ballot)
    db.session.commit()
    return Receipt(found, None, changed=change, tracker=found)


def _change(
    ballot: Ballot, member: Member, record: BallotVoter, choices: list[int], code: str | None
) -> Receipt:
    if not ballot.allow_change:
        raise Conflict(gettext(CANNOT_CHANGE))
    if record.member_id != member.id:
        # Cast under an earlier membership with this address: joining again restores nothing.
        raise Conflict(
            gettext(
                ("%(already_voted)s That vote was cast before you last joined, and stands."),
                already_voted=gettext(ALREADY_VOTED),
            )
        )
    if not code:
        raise Conflict(
            gettext(
                "You have already voted. To change your vote, give the receipt code you were given."
            )
        )
    receipt, _, secret = _normal_code(code).partition("-")
    paper = db.session.get(BallotPaper, (ballot.id, receipt))
    if paper is None:
        raise Forbidden(gettext(NOT_YOUR_CODE))
    tag = _owner_tag(ballot.id, paper.receipt, record.voter, member.id, secret)
    if not hmac.compare_digest(paper.owner_tag, tag):
        raise Forbidden(gettext(NOT_YOUR_CODE))
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
        raise Forbidden(gettext(NOT_YOUR_CODE))
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
        raise Conflict(gettext("This ballot has closed."))
