"""Ballots: one member, one vote, and nothing stored that says who voted for what.

Who has voted (``BallotVoter``) and what was voted (``BallotPaper``) are separate tables
with nothing in common but the ballot. A paper's key is its random receipt code, and
neither table records when a row was written, so neither order nor time links the two:
on SQLite both are ``WITHOUT ROWID`` tables, kept in key order rather than insertion
order. A voter row is keyed by a keyed hash of the voter's address, which outlives their
membership; a paper carries a tag that only the member's secret code and their log-in
together reproduce (``services.ballots`` explains both).
"""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from ..extensions import db
from .content import Timestamps
from .types import UTCDateTime


class Ballot(Timestamps, db.Model):
    __tablename__ = "ballot"

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

    options = relationship(
        "BallotOption",
        lazy="selectin",
        order_by="BallotOption.position",
        cascade="all, delete-orphan",
    )
    candidate = relationship("Candidate", lazy="select", foreign_keys=[candidate_id])
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
