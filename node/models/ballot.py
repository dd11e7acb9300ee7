"""Ballots: one member, one vote, and nothing stored that says who voted for what.

A sealed ballot (every ballot made since sealed papers came in) keeps each member's paper
sealed to the ballot's public key on their own ``BallotVoter`` row: that link is harmless,
for nobody can read the paper without ``tellers_needed`` of its ``BallotTeller``s' shares
of the private key, which the node never stores. The count writes the opened papers to
``BallotOpened`` in a shuffled order with nothing that points back at a voter, and after
the challenge period the sealed papers are erased, leaving trackers and opened papers.

What follows describes the legacy path, kept for ballots made before:
Who has voted (``BallotVoter``) and what was voted (``BallotPaper``) are separate tables
with nothing in common but the ballot. A paper's key is its random receipt code, and
neither table records when a row was written, so neither order nor time links the two:
on SQLite both are ``WITHOUT ROWID`` tables, kept in key order rather than insertion
order. A voter row is keyed by a keyed hash of the voter's address, which outlives their
membership; a paper carries a tag that only the member's secret code and their log-in
together reproduce (``services.ballots`` explains both).
"""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from ..extensions import db
from .content import Timestamps
from .types import NEVER_REUSED_IDS, UTCDateTime


class Ballot(Timestamps, db.Model):
    __tablename__ = "ballot"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))  # schemas.vocab.BALLOT_KINDS
    # choose_many: how many options a member may choose; ranked: seats to fill.
    seats: Mapped[int] = mapped_column(Integer, default=1)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Only members who joined on or before this moment (and are active) may vote.
    freeze_at: Mapped[datetime] = mapped_column(UTCDateTime)
    quorum: Mapped[int | None] = mapped_column(Integer, nullable=True)  # minimum votes cast
    allow_change: Mapped[bool] = mapped_column(Boolean, default=False)
    # An endorsement ballot (yes/no) sets this candidate's endorsement when it passes.
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidate.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # public: the result is published (and federated) at the close; members: never leaves.
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    # Set once, at the count.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    voters_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    eligible_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quorum_met: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), default="")  # schemas.vocab.BALLOT_OUTCOMES
    result: Mapped[str] = mapped_column(Text, default="")  # the count as JSON (ballot_count)
    # Sealed ballots (false only for ballots made before sealing, which keep BallotPaper).
    sealed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=false())
    tellers_needed: Mapped[int | None] = mapped_column(Integer, nullable=True)  # k of n
    # The ballot key's public half (hex), set when the tellers' shares are dealt; the
    # private half is never stored.
    public_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    key_salt: Mapped[str | None] = mapped_column(String(64), nullable=True)  # for commitments
    # closed_at ends the voting; counted_at is when k tellers' shares opened the papers.
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    papers_erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sealed_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    spoilt_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tracker_list_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    opened_list_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)

    options = relationship(
        "BallotOption",
        lazy="selectin",
        order_by="BallotOption.position",
        cascade="all, delete-orphan",
    )
    candidate = relationship("Candidate", lazy="select", foreign_keys=[candidate_id])
    tellers = relationship(
        "BallotTeller",
        lazy="select",
        order_by="BallotTeller.position",
        cascade="all, delete-orphan",
    )
    # How many options, when a query asks for it (the voting path, which needs no more).
    option_count: Mapped[int | None] = query_expression()


class BallotOption(db.Model):
    __tablename__ = "ballot_option"
    __table_args__ = (UniqueConstraint("ballot_id", "position", name="uq_ballot_option_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballot.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))


class BallotVoter(db.Model):
    """That someone voted in a ballot: never what, never when, and once they leave, never who."""

    __tablename__ = "ballot_voter"
    __table_args__ = (
        # A member votes once even if the ballot key were lost and the hashes changed (a
        # departed member's NULL never clashes); it also finds their rows when they leave.
        UniqueConstraint("member_id", "ballot_id", name="uq_ballot_voter_member_id"),
        {"sqlite_with_rowid": False},
    )

    ballot_id: Mapped[int] = mapped_column(
        ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True
    )
    # HMAC of the ballot and the voter's e-mail address under the node's ballot key: one
    # vote per address, whether or not its holder is still (or again) a member.
    voter: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The member while they are one; emptied when they leave or are removed.
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    # Sealed ballots: the paper sealed to the ballot's key (unreadable without k tellers;
    # erased after the challenge period) and its tracker, the hash the member checks.
    sealed_paper: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    tracker: Mapped[str | None] = mapped_column(String(64), nullable=True)


# A unique index rather than a constraint, so adding it keeps the table WITHOUT ROWID
# (a constraint would make SQLite's migration rebuild the table without it).
Index("uq_ballot_voter_tracker", BallotVoter.ballot_id, BallotVoter.tracker, unique=True)


class BallotTeller(db.Model):
    """A member named to hold a share of a sealed ballot's key; k of them open the papers."""

    __tablename__ = "ballot_teller"
    __table_args__ = (UniqueConstraint("ballot_id", "position", name="uq_ballot_teller_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballot.id", ondelete="CASCADE"), index=True)
    # A teller who leaves keeps their code but can no longer log in to give their share on
    # the page: the count needs k of the others, or their code read at a count in a room.
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)  # 1..n, the index of their share
    # Copied when named: shown to members and hashed into the signed result.
    display_name: Mapped[str] = mapped_column(String(200))
    # The public half of the teller's own X25519 key (hex): their code is the private half.
    teller_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Their share of the ballot key, sealed to teller_key at the deal.
    sealed_share: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    commitment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The opened share, kept only from their submission until the count.
    submitted_share: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class BallotOpened(db.Model):
    """One opened paper of a counted sealed ballot, in the count's shuffled order."""

    __tablename__ = "ballot_opened"

    ballot_id: Mapped[int] = mapped_column(
        ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    choices: Mapped[str] = mapped_column(String(2000))  # JSON; [] for one that did not open
    spoilt: Mapped[bool] = mapped_column(Boolean, default=False)


class BallotPaper(db.Model):
    """One anonymous ballot paper, keyed by its public receipt code."""

    __tablename__ = "ballot_paper"
    __table_args__ = {"sqlite_with_rowid": False}

    ballot_id: Mapped[int] = mapped_column(
        ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True
    )
    receipt: Mapped[str] = mapped_column(String(16), primary_key=True)
    # HMAC keyed by the secret half of the member's code, over the paper and its voter:
    # checked, with the logged-in member, to change the vote ('' for papers nobody may change).
    owner_tag: Mapped[str] = mapped_column(String(64))
    # The choice as JSON: option positions, in rank order for ranked ballots ([] abstains).
    choices: Mapped[str] = mapped_column(String(2000))
