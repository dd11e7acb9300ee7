"""Tellers and the ballot key: named members, each holding a share, k of them count.

An organiser names a sealed ballot's tellers (``name_tellers``). Each teller takes a code
(``take_code``): the private half of an X25519 key pair made for them, shown once; the
node keeps the public half. They type it back (``confirm_code``) to show they kept it.
When the last one has, the node deals in that same transaction: it makes the ballot's
key pair, splits the private key k of n (``sealing.deal``), seals each share to its
teller's key, keeps a commitment to each, and keeps the public key. The private key
exists only in ``_deal``'s memory: it is never written to the database, the instance
folder or a log, and no single teller's code opens anything but their own share.

After the close, tellers give their shares with their codes (``submit_share``): each
opened share is checked against its commitment and kept only until the k-th comes in;
then the key is rebuilt in memory, the papers counted (``ballot_box.count_sealed``) and
every given share emptied in the same transaction. ``count_with_codes`` does the same for
a count held in a room, with the k codes read at once and nothing stored.

Changing the tellers before the deal replaces them all: every teller, kept or new, takes
a fresh code (a code taken for one list is not trusted for another).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

from flask_babel import gettext, ngettext
from sqlalchemy import delete, select
from sqlalchemy import update as sql_update

from schemas.wording import N_

from ...extensions import db
from ...models import Ballot, BallotTeller, Member, utcnow
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..organising.records import commit
from . import ballot_box, sealing

MAX_TELLERS = 9
NOT_DEALT = N_("This ballot cannot open until its tellers have kept their codes.")
NOT_A_TELLER = N_("Only this ballot's tellers can do that.")


def _require_sealed(ballot: Ballot) -> None:
    if not ballot.sealed:
        raise NotFound(
            gettext("This ballot has no tellers: it was set up before papers were sealed.")
        )


def _active(member_ids: Iterable[int]) -> dict[int, Member]:
    ids = list(member_ids)
    if not ids:
        return {}
    query = select(Member).where(Member.id.in_(ids), Member.status == "active")
    return {m.id: m for m in db.session.scalars(query)}


def not_a_member(member_id: int) -> str:
    return gettext("No active member has the id %(value)s.", value=member_id)


def problems(member_ids: Iterable[int]) -> list[str]:
    """Say which of the tellers named are not active members (the database's refusal)."""
    ids = list(member_ids)
    found = _active(ids)
    return [not_a_member(i) for i in ids if i not in found][:1]


def name_tellers(
    ballot: Ballot, member_ids: Iterable[int], k: int | None = None, *, save: bool = True
) -> list[BallotTeller]:
    """Name a sealed ballot's tellers and how many must act together to count (before the deal)."""
    _require_sealed(ballot)
    ids = list(member_ids)
    if not ids:
        raise Invalid.on("tellers", gettext("Name at least one teller."))
    if len(ids) > MAX_TELLERS:
        raise Invalid.on(
            "tellers", gettext("Name at most %(max_tellers)s tellers.", max_tellers=MAX_TELLERS)
        )
    if len(set(ids)) != len(ids):
        raise Invalid.on("tellers", gettext("Name each teller once."))
    found = _active(ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise Invalid.on("tellers", not_a_member(missing[0]))
    k = k if k is not None else (1 if len(ids) == 1 else 2)
    if not 1 <= k <= len(ids):
        raise Invalid.on(
            "tellers_needed",
            ngettext(
                "Must be 1: one teller is named.",
                "Must be between 1 and the %(num)d tellers named.",
                len(ids),
            ),
        )
    if ballot.id is not None:
        _claim_before_deal(ballot)
        db.session.execute(delete(BallotTeller).where(BallotTeller.ballot_id == ballot.id))
        db.session.expire(ballot, ["tellers"])
    tellers = [
        BallotTeller(member_id=i, position=n, display_name=found[i].display_name)
        for n, i in enumerate(ids, start=1)
    ]
    ballot.tellers = tellers
    ballot.tellers_needed = k
    if save:
        commit()
    return tellers


def _claim_before_deal(ballot: Ballot) -> None:
    # A conditional write on the ballot row: it serialises tellers' actions on this ballot
    # (a row lock on PostgreSQL, the write lock on SQLite) and fails once the key is dealt.
    claimed = db.session.execute(
        sql_update(Ballot)
        .where(Ballot.id == ballot.id, Ballot.public_key.is_(None), Ballot.closed_at.is_(None))
        .values(updated_at=utcnow())
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        raise Conflict(gettext("This ballot's key has been dealt: its tellers are fixed."))


def _teller(ballot: Ballot, member: Member) -> BallotTeller:
    _require_sealed(ballot)
    teller = db.session.scalar(
        select(BallotTeller).where(
            BallotTeller.ballot_id == ballot.id, BallotTeller.member_id == member.id
        )
    )
    if teller is None:
        raise Forbidden(gettext(NOT_A_TELLER))
    return teller


def choices() -> list[tuple[int, str]]:
    """List the members who may be named tellers (the active ones) as (id, name), by name."""
    rows = db.session.execute(
        select(Member.id, Member.display_name)
        .where(Member.status == "active")
        .order_by(Member.display_name, Member.id)
    )
    return [(mid, name) for mid, name in rows]


def is_teller(ballot: Ballot, member: Member | None) -> bool:
    """Say whether ``member`` is one of the ballot's tellers."""
    if member is None or not ballot.sealed:
        return False
    return any(t.member_id == member.id for t in ballot.tellers)


def teller_status(ballot: Ballot) -> list[dict[str, Any]]:
    """Say, for each teller in order, whether they have kept their code and given their share."""
    return [
        {
            "position": t.position,
            "name": t.display_name,
            "member_id": t.member_id,
            "kept_code": t.confirmed_at is not None,
            "gave_share": t.submitted_at is not None,
        }
        for t in ballot.tellers
    ]


def tellers_hash(ballot: Ballot) -> str:
    """Hash the tellers' names in position order, one per line (for the signed result)."""
    names = "".join(f"{t.display_name}\n" for t in ballot.tellers)
    return hashlib.sha256(names.encode()).hexdigest()


def key_fingerprint(ballot: Ballot) -> str | None:
    """Return a short fingerprint of the ballot's public key, for people to compare."""
    if not ballot.public_key:
        return None
    digest = hashlib.sha256(bytes.fromhex(ballot.public_key)).hexdigest()[:20]
    return " ".join(digest[i : i + 4] for i in range(0, 20, 4))


def take_code(ballot: Ballot, member: Member) -> str:
    """Make ``member``'s teller key; keep its public half and return the private half as a code."""
    teller = _teller(ballot, member)
    _claim_before_deal(ballot)
    public, code = sealing.make_teller_key()
    teller.teller_key = public.hex()
    teller.confirmed_at = None  # a new code must be shown to be kept, like the first
    commit()
    return code


def confirm_code(ballot: Ballot, member: Member, code: str) -> Ballot:
    """Check a teller kept their code; when the last teller has, deal the ballot's key."""
    teller = _teller(ballot, member)
    private = _read_code(code)
    if teller.teller_key is None:
        raise Conflict(gettext("Take your teller code first."))
    if sealing.teller_public(private).hex() != teller.teller_key:
        raise Invalid.on(
            "code", gettext("That is not the teller code you were given for this ballot.")
        )
    _claim_before_deal(ballot)
    teller.confirmed_at = utcnow()
    db.session.flush()
    db.session.expire(ballot, ["tellers"])
    if all(t.confirmed_at is not None for t in ballot.tellers):
        _deal(ballot)
    commit()
    return ballot


def _deal(ballot: Ballot) -> None:
    tellers = list(ballot.tellers)
    k = ballot.tellers_needed or (1 if len(tellers) == 1 else 2)
    public, private = sealing.make_key()
    shares = sealing.deal(private, k, len(tellers))
    del private  # only the shares, each sealed to its teller, outlive this function
    salt = secrets.token_bytes(16)
    for teller, share in zip(tellers, shares, strict=True):
        teller.sealed_share = sealing.seal_share(bytes.fromhex(teller.teller_key or ""), share)
        teller.commitment = sealing.commitment(salt, share)
    del shares
    ballot.tellers_needed = k
    ballot.key_salt = salt.hex()
    ballot.public_key = public.hex()


def _read_code(code: str, field: str = "code") -> bytes:
    try:
        return sealing.parse_teller_code(code or "")
    except sealing.ShareError as exc:
        raise Invalid.on(field, str(exc)) from None


def _open_share(ballot: Ballot, teller: BallotTeller, private: bytes, field: str) -> sealing.Share:
    try:
        share = sealing.open_share(private, teller.sealed_share or b"")
    except sealing.ShareError:
        raise Invalid.on(field, gettext("That code does not open this teller's share.")) from None
    expected = sealing.commitment(bytes.fromhex(ballot.key_salt or ""), share)
    if share.index != teller.position or not secrets.compare_digest(
        expected, teller.commitment or ""
    ):
        raise Invalid.on(field, gettext("That share is not the one dealt to this teller."))
    return share


def _check_countable(ballot: Ballot) -> None:
    _require_sealed(ballot)
    if ballot.counted_at is not None:
        raise Conflict(gettext("This ballot has been counted."))
    if ballot.closed_at is None:
        raise Conflict(gettext("Shares are given after the ballot closes, not before."))
    if ballot.public_key is None:
        raise Conflict(gettext(NOT_DEALT))


def _claim_count(ballot: Ballot) -> None:
    # Serialises shares given at the same moment, so exactly one of them runs the count.
    claimed = db.session.execute(
        sql_update(Ballot)
        .where(Ballot.id == ballot.id, Ballot.closed_at.is_not(None), Ballot.counted_at.is_(None))
        .values(updated_at=utcnow())
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        raise Conflict(gettext("This ballot has been counted."))


def submit_share(ballot: Ballot, member: Member, code: str) -> Ballot:
    """Take a teller's share with their code after the close; count once k have been given."""
    teller = _teller(ballot, member)
    _check_countable(ballot)
    if teller.submitted_at is not None:
        raise Conflict(gettext("You have already given your share for this ballot."))
    share = _open_share(ballot, teller, _read_code(code), "code")
    _claim_count(ballot)
    given = db.session.execute(
        sql_update(BallotTeller)
        .where(BallotTeller.id == teller.id, BallotTeller.submitted_at.is_(None))
        .values(submitted_share=share.raw, submitted_at=utcnow())
    )
    if given.rowcount != 1:
        db.session.rollback()
        raise Conflict(gettext("You have already given your share for this ballot."))
    db.session.expire(ballot, ["tellers"])
    db.session.expire(teller)
    shares = [
        sealing.share_from_raw(t.submitted_share)
        for t in ballot.tellers
        if t.submitted_share is not None
    ]
    counting = len(shares) >= (ballot.tellers_needed or 1)
    if counting:
        _count(ballot, shares)
    commit()
    if counting:
        # The shares given before this one were written to disk: once emptied, leave no
        # copy of them in SQLite's write-ahead log either.
        ballot_box.scrub_files()
    return ballot


def count_with_codes(ballot: Ballot, codes: Iterable[str]) -> Ballot:
    """Count a closed sealed ballot from k tellers' codes read at once; store no share."""
    _check_countable(ballot)
    by_key = {t.teller_key: t for t in ballot.tellers if t.teller_key}
    shares: dict[int, sealing.Share] = {}
    for code in codes:
        private = _read_code(code, "codes")
        teller = by_key.get(sealing.teller_public(private).hex())
        if teller is None:
            raise Invalid.on(
                "codes", gettext("One of those codes is not one of this ballot's tellers'.")
            )
        if teller.position in shares:
            raise Invalid.on(
                "codes",
                gettext(
                    "%(display_name)s's code was given twice.", display_name=teller.display_name
                ),
            )
        shares[teller.position] = _open_share(ballot, teller, private, "codes")
    k = ballot.tellers_needed or 1
    if len(shares) < k:
        raise Invalid.on(
            "codes",
            ngettext(
                "The count needs %(num)d teller's code; %(given)d given.",
                "The count needs %(num)d tellers' codes; %(given)d given.",
                k,
                given=len(shares),
            ),
        )
    _claim_count(ballot)
    _count(ballot, list(shares.values()))
    commit()
    return ballot


def _count(ballot: Ballot, shares: list[sealing.Share]) -> None:
    k = ballot.tellers_needed or 1
    try:
        private = sealing.rebuild(shares[:k], bytes.fromhex(ballot.public_key or ""))
    except sealing.ShareError as exc:
        db.session.rollback()
        raise Conflict(str(exc)) from None
    ballot_box.count_sealed(ballot, private)
    del private
    # The shares have done their work: none is kept once the papers are open.
    db.session.execute(
        sql_update(BallotTeller)
        .where(BallotTeller.ballot_id == ballot.id)
        .values(submitted_share=None)
    )
