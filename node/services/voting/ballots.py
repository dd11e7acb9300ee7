"""Ballots: setting one up, reading where it stands and its result, and the close.

Every ballot set up now is sealed: its tellers and key are ``ballot_tellers``' business, its
papers, trackers and count ``ballot_box``'s, and casting a vote is ``votes``'. The close of a
sealed ballot only ends the voting; the count waits for k tellers' shares.

The close (by the worker when the time comes, or an organiser early) is a conditional
update, so it happens once; it counts the papers (``ballot_count``), checks the quorum,
stores the result, settles an endorsement ballot's candidate and puts the result on the
group's feed as an ActivityStreams ``Question`` with its counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext
from sqlalchemy import exists, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import selectinload

from schemas import vocab
from schemas.wording import N_

from ...extensions import db
from ...models import Ballot, BallotOption, BallotPaper, BallotVoter, Candidate, Member, utcnow
from .. import feed
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..groups import current_group
from ..organising.records import Page, can_see_members_only, commit, paginate
from . import ballot_box, ballot_count, ballot_tellers

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


def may_see(ballot: Ballot, viewer: Member | None) -> bool:
    """Say whether ``viewer`` may see ``ballot`` at all."""
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
    if ballot is None or not may_see(ballot, viewer):
        raise NotFound(gettext("No such ballot."))
    return ballot


def result(ballot: Ballot) -> dict[str, Any]:
    """Return the count of a closed ballot; before the close there is none to see."""
    if ballot.closed_at is None:
        raise Forbidden(gettext("The result is hidden until the ballot closes."))
    if not has_result(ballot):
        raise Forbidden(gettext("The result is hidden until the tellers have counted the papers."))
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


def _with_times(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    for key in ("opens_at", "closes_at", "freeze_at"):
        data[key] = _in_utc(data.get(key))
    data["freeze_at"] = data.get("freeze_at") or data["opens_at"]
    return data


# An opening typed as "now" is a minute old when the form arrives: that is not a surprise.
PAST_OPENING_GRACE = timedelta(minutes=10)
CLOSES_IN_THE_PAST = N_("Must be in the future.")


@dataclass(frozen=True)
class SetupPreview:
    """Who a ballot being set up lets vote, and what the organiser should know first."""

    eligible: int  # active members who joined by the freeze date, as things stand
    members: int  # active members now
    warnings: list[str] = field(default_factory=list)


def eligible_members(freeze_at: datetime | None = None) -> tuple[int, int]:
    """Count active members who joined by ``freeze_at`` (all when None), and all active ones."""
    active = Member.status == "active"
    members = db.session.scalar(select(func.count()).select_from(Member).where(active)) or 0
    if freeze_at is None:
        return members, members
    eligible = db.session.scalar(
        select(func.count()).select_from(Member).where(active, Member.joined_at <= freeze_at)
    )
    return eligible or 0, members


def preview(data: dict[str, Any], now: datetime | None = None) -> SetupPreview:
    """Say how many members a ballot set up from ``data`` lets vote, and warn of surprises."""
    data = _with_times(data)
    _check_times(data["opens_at"], data["closes_at"], data["freeze_at"], new=True)
    now = now or utcnow()
    eligible, members = eligible_members(data["freeze_at"])
    warnings = []
    zone = ZoneInfo(current_group().timezone if current_group() else "UTC")
    if data["opens_at"] < now - PAST_OPENING_GRACE:
        warnings.append(
            "Voting opens in the past ("
            + data["opens_at"].astimezone(zone).strftime("%d %b %Y %H:%M")
            + "): it opens as soon as the tellers have kept their codes."
        )
    if data["freeze_at"] < now and eligible < members:
        shut_out = members - eligible
        warnings.append(
            f"Only {eligible} of the {members} members joined by the freeze date "
            + data["freeze_at"].astimezone(zone).strftime("%d %b %Y %H:%M")
            + f": {shut_out} {'member' if shut_out == 1 else 'members'} could not vote."
        )
    if eligible == 0:
        warnings.append("Nobody could vote: no active member joined by the freeze date.")
    return SetupPreview(eligible, members, warnings)


def turnout(ballot: Ballot) -> tuple[int, int]:
    """Count who has voted in ``ballot`` so far and who may (the roll), while it is open."""
    voted = db.session.scalar(
        select(func.count()).select_from(BallotVoter).where(BallotVoter.ballot_id == ballot.id)
    )
    return voted or 0, max(ballot_box.roll(ballot), voted or 0)


def problems(
    data: dict[str, Any], *, unreadable: frozenset[str] | set[str] = frozenset()
) -> dict[str, list[str]]:
    """Return what the clock and the database refuse in a new ballot: {field: [messages]}.

    Forms call it on the fields that parsed, beside their field errors (``unreadable`` names
    the fields given but not parsed); setting the ballot up checks it again.
    """
    errors: dict[str, list[str]] = {}
    closes = None if "closes_at" in unreadable else _in_utc(data.get("closes_at"))
    if closes is not None and closes <= utcnow():
        errors["closes_at"] = [gettext(CLOSES_IN_THE_PAST)]
    candidate_id = data.get("candidate_id")
    if candidate_id is not None and db.session.get(Candidate, candidate_id) is None:
        errors["candidate_id"] = [gettext("No candidate has that id.")]
    strangers = ballot_tellers.problems(data.get("tellers") or [])
    if strangers:
        errors["tellers"] = strangers
    return errors


def create(data: dict[str, Any], by: Member | None) -> Ballot:
    """Set up a sealed ballot from validated input (schemas.ballots.BallotIn), with its tellers."""
    found = problems(data)
    if found:
        raise Invalid("Some fields are not valid.", found)
    data = _with_times(data)
    tellers = data.pop("tellers", None)
    tellers_needed = data.pop("tellers_needed", None)
    labels = list(vocab.YES_NO_OPTIONS) if data["kind"] == "yes_no" else data.pop("options")
    data.pop("options", None)
    if data["kind"] not in ("choose_many", "ranked"):
        data["seats"] = 1
    _check_times(data["opens_at"], data["closes_at"], data["freeze_at"], new=True)
    candidate_id = data.get("candidate_id")
    if candidate_id is not None and db.session.get(Candidate, candidate_id) is None:
        raise Invalid.on("candidate_id", gettext("No candidate has that id."))
    ballot = Ballot(**data, sealed=True, created_by_id=by.id if by else None)
    ballot.options = [BallotOption(position=i, label=label) for i, label in enumerate(labels)]
    if tellers:
        ballot_tellers.name_tellers(ballot, tellers, tellers_needed, save=False)
    elif tellers_needed is not None:
        raise Invalid.on("tellers", gettext("Name the tellers as well as how many must count."))
    db.session.add(ballot)
    commit()
    return ballot


FREEZE_AFTER_OPENING = N_(
    "Must not be after the opening time: the roll is fixed before voting starts."
)


def _check_times(opens: datetime, closes: datetime, freeze: datetime, *, new: bool) -> None:
    if closes <= opens:
        raise Invalid.on("closes_at", gettext("Must be after the opening time."))
    if freeze > opens:
        # The roll is fixed before voting starts: nobody can join, vote, leave and come back.
        raise Invalid.on("freeze_at", gettext(FREEZE_AFTER_OPENING))
    if closes <= utcnow():
        raise Invalid.on("closes_at", gettext(CLOSES_IN_THE_PAST))


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
        raise Conflict(gettext("This ballot has opened: its terms can no longer change."))
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
        raise Conflict(gettext("This ballot has opened: its terms can no longer change."))
    commit()
    return ballot


def delete(ballot: Ballot) -> None:
    """Remove a ballot nobody has voted in (a mistake, caught before it mattered)."""
    if db.session.scalar(select(exists().where(BallotVoter.ballot_id == ballot.id))):
        raise Conflict(gettext("Members have voted in this ballot, so it can't be deleted."))
    if ballot.closed_at is not None:
        raise Conflict(gettext("This ballot is closed; its result stays on record."))
    db.session.delete(ballot)
    commit()


# --- the close -----------------------------------------------------------------------------


def close(ballot: Ballot, *, early: bool = False) -> Ballot:
    """Count and close a ballot: when its time is up, or before that if ``early``."""
    now = utcnow()
    if ballot.closed_at is not None:
        raise Conflict(gettext("This ballot is already closed."))
    if now < ballot.opens_at:
        raise Conflict(gettext("This ballot has not opened yet; change or delete it instead."))
    if now < ballot.closes_at and not early:
        raise Conflict(gettext("This ballot is still open."))
    claimed = db.session.execute(
        sql_update(Ballot)
        .where(Ballot.id == ballot.id, Ballot.closed_at.is_(None))
        .values(closed_at=now)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        raise Conflict(gettext("This ballot is already closed."))
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
