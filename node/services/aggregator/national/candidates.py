"""The followed groups' endorsed candidates, each with the signed entry behind it, and the
win rate of the endorsed: elected out of those decided, overall and by office."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select

from ....extensions import db
from ....models import Peer, RemoteEntry, RemoteObject
from ...organising.records import Page
from ...peering import network
from .lists import page_of, sorting
from .remote import ItemBase, base_fields, by_ids, data_of, live


def outcome_of(stage: str | None, result: str | None) -> str | None:
    """Say whether a candidate won, was defeated, or is undecided (None).

    The published election result decides when its first word is "elected" or
    "defeated" (``Elected with 2,345 votes``); otherwise the stage does.
    """
    word = re.match(r"\s*([A-Za-z]+)", result or "")
    for said in (word.group(1).lower() if word else None, stage):
        if said == "elected":
            return "won"
        if said == "defeated":
            return "defeated"
    return None


def _matches(outcome: str | None, wanted: str | None) -> bool:
    if wanted is None:
        return True
    if wanted == "decided":
        return outcome is not None
    if wanted == "undecided":
        return outcome is None
    return outcome == wanted


@dataclass(frozen=True)
class SourceEntry:
    """The signed feed entry a candidate's current state was taken from."""

    activity_id: str
    seq: int | None
    hash: str
    group: str
    verification: str
    received_at: datetime | None


@dataclass(frozen=True)
class CandidateRow(ItemBase):
    office: str | None
    area: str
    stage: str | None
    endorsement: str | None
    election_result: str | None
    outcome: str | None
    entry: SourceEntry | None


def _entries(stored: Sequence[RemoteObject]) -> dict[int, SourceEntry]:
    ids = [found.source_entry_id for found in stored if found.source_entry_id is not None]
    if not ids:
        return {}
    query = (
        select(RemoteEntry, Peer.actor_id)
        .join(Peer, RemoteEntry.peer_id == Peer.id)
        .where(RemoteEntry.id.in_(ids))
    )
    return {
        entry.id: SourceEntry(
            activity_id=entry.activity_id,
            seq=entry.seq,
            hash=entry.entry_hash,
            group=actor,
            verification=entry.verification,
            received_at=entry.received_at,
        )
        for entry, actor in db.session.execute(query)
    }


def _endorsed(office: str | None = None, stage: str | None = None) -> list[tuple]:
    """The endorsed candidates' (id, office, stage, result, name, group) from one index range."""
    query = (
        select(
            RemoteObject.id,
            RemoteObject.office,
            RemoteObject.stage,
            RemoteObject.election_result,
            RemoteObject.title,
            Peer.name,
        )
        .join(Peer, RemoteObject.peer_id == Peer.id)
        .where(live("Candidate"), RemoteObject.endorsement == "endorsed")
    )
    if office:
        query = query.where(RemoteObject.office == office)
    if stage:
        query = query.where(RemoteObject.stage == stage)
    return list(db.session.execute(query).all())


CANDIDATE_KEYS = {
    "name": lambda row: ((row[4] or "").lower(), row[0]),
    "group": lambda row: ((row[5] or "").lower(), (row[4] or "").lower(), row[0]),
    "office": lambda row: (row[1] or "", (row[4] or "").lower(), row[0]),
    "stage": lambda row: (row[2] or "", (row[4] or "").lower(), row[0]),
}


def candidates(
    *,
    office: str | None = None,
    stage: str | None = None,
    outcome: str | None = None,
    sort: str | None = None,
    dir: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[CandidateRow]:
    """Page through every endorsed candidate of the followed groups, with the entry behind it."""
    rows = [
        row for row in _endorsed(office, stage) if _matches(outcome_of(row[2], row[3]), outcome)
    ]
    sort, direction = sorting("candidates", sort, dir)
    rows.sort(key=CANDIDATE_KEYS[sort], reverse=direction == "desc")
    shown = page_of(rows, page, per_page)
    stored = by_ids([row[0] for row in shown.items])
    found = [stored[row[0]] for row in shown.items if row[0] in stored]
    entries = _entries(found)
    items = []
    for candidate in found:
        data = data_of(candidate)
        area = data.get("area")
        items.append(
            CandidateRow(
                **base_fields(candidate),
                office=candidate.office,
                area=network.plain_text(area, 120) if isinstance(area, str) else "",
                stage=candidate.stage,
                endorsement=candidate.endorsement,
                election_result=candidate.election_result,
                outcome=outcome_of(candidate.stage, candidate.election_result),
                entry=entries.get(candidate.source_entry_id or -1),
            )
        )
    return replace(shown, items=items)


@dataclass(frozen=True)
class WinRate:
    """Endorsed candidates elected out of those decided, overall (office None) or by office."""

    office: str | None
    won: int
    decided: int

    @property
    def rate(self) -> float | None:
        return self.won / self.decided if self.decided else None


@dataclass(frozen=True)
class WinRates:
    overall: WinRate
    by_office: list[WinRate]


def win_rates() -> WinRates:
    """Compute the win rate of endorsed candidates, overall and by office."""
    tally: dict[str | None, list[int]] = {}
    for _id, office, stage, result, _name, _group in _endorsed():
        outcome = outcome_of(stage, result)
        counts = tally.setdefault(office, [0, 0])
        counts[0] += outcome == "won"
        counts[1] += outcome is not None
    by_office = [
        WinRate(office, won, decided)
        for office, (won, decided) in sorted(tally.items(), key=lambda item: item[0] or "")
    ]
    overall = WinRate(
        None, sum(rate.won for rate in by_office), sum(rate.decided for rate in by_office)
    )
    return WinRates(overall, by_office)
