"""What someone holding the database learns of a sealed ballot: only who cast which sealed paper.

These tests read the storage as an attacker with a copy of it would: the raw bytes of the
SQLite database file and its write-ahead log (whose commits keep the order rows were written
in), and on PostgreSQL the system columns any role may select (``xmin``, the transaction that
wrote a row; ``ctid``, where it lies in the table), which paired every voter with their paper
before papers were sealed (issue 14). Each voter ranks six options in an order of their own,
so a published paper names the one member who cast it if anything pairs them.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from node.extensions import db
from node.models import Ballot, BallotTeller, BallotVoter, Member
from node.services.voting import ballot_box, ballot_tellers, ballots, sealing, votes
from tests import factories
from tests.conftest import TEST_DATABASE_URL

OPTIONS = [f"Delegate {n}" for n in range(6)]
# 720 rankings; stepping by 17 (prime to 720) picks distinct ones spread over all of them.
RANKINGS = list(itertools.permutations(range(len(OPTIONS))))

sqlite_only = pytest.mark.skipif(
    bool(TEST_DATABASE_URL), reason="reads the SQLite files; PostgreSQL is set"
)
postgres_only = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="BRANCHLINE_TEST_DATABASE_URL is not set"
)


def _rankings(n: int) -> list[list[int]]:
    return [list(RANKINGS[i * 17 % len(RANKINGS)]) for i in range(n)]


def _ballot() -> tuple[Ballot, list[Member]]:
    tellers = [factories.member() for _ in range(3)]
    ballot = factories.ballot(
        sealed=True,
        tellers=tellers,
        kind="ranked",
        options=OPTIONS,
        seats=2,
        freeze_at=factories.soon(1),
    )
    return ballot, tellers


def _vote(ballot: Ballot, n: int) -> list[tuple[Member, list[int]]]:
    """Have ``n`` new members vote, one after another; return them with their choices."""
    cast = []
    for choices in _rankings(n):
        voter = factories.member()
        votes.cast(ballot, voter, choices)
        cast.append((voter, choices))
    return cast


def _shares(ballot: Ballot, tellers: list[Member]) -> list[sealing.Share]:
    """Open the tellers' shares with their codes, as they do when they give them."""
    shares = []
    for teller in tellers:
        sealed = db.session.scalar(
            select(BallotTeller.sealed_share).where(
                BallotTeller.ballot_id == ballot.id, BallotTeller.member_id == teller.id
            )
        )
        private = sealing.parse_teller_code(ballot.teller_codes[teller.id])
        shares.append(sealing.open_share(private, sealed))
    return shares


def _ballot_key(ballot: Ballot, tellers: list[Member]) -> bytes:
    """Rebuild the ballot's private key from two tellers' codes (k is 2)."""
    return sealing.rebuild(_shares(ballot, tellers[:2]), bytes.fromhex(ballot.public_key))


def _count(ballot: Ballot, tellers: list[Member]) -> None:
    for teller in tellers[:2]:
        ballot_tellers.submit_share(ballot, teller, ballot.teller_codes[teller.id])
    assert ballot.counted_at is not None


def _forms(value: bytes) -> list[bytes]:
    return [value, value.hex().encode(), value.hex().upper().encode()]


def _plaintexts(choices: list[int]) -> list[bytes]:
    """Every way a paper's choices could be written in the clear."""
    compact = json.dumps(choices, separators=(",", ":")).encode()
    padded = compact + b" " * (sealing.PAPER_BYTES - len(compact))  # what seal() seals
    return [padded, compact, json.dumps(choices).encode()]


def _copy(app, folder: Path) -> dict[str, bytes]:
    """Read every file of the node as someone copying them now would: database, WAL, instance."""
    database = Path(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
    files = {p for p in folder.rglob("*") if p.is_file()}
    files |= {p for p in (Path(f"{database}-wal"), Path(f"{database}-shm")) if p.exists()}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(files)}


def _found(copy: dict[str, bytes], needles: list[bytes]) -> list[str]:
    return [name for name, raw in copy.items() for needle in needles if needle in raw]


def _matched(cast: list[list[int]], published: list[list[int]]) -> int:
    """Pair the i-th voter with the i-th published paper; count the pairs that are right."""
    assert sorted(map(tuple, published)) == sorted(map(tuple, cast))
    return sum(mine == paper for mine, paper in zip(cast, published, strict=True))


# --- SQLite: the raw database file and its write-ahead log --------------------------------


@sqlite_only
def test_a_copy_of_the_sqlite_files_during_voting_shows_no_choice(app, group, tmp_path):
    ballot, tellers = _ballot()
    cast = _vote(ballot, 12)
    key = _ballot_key(ballot, tellers)
    secrets_ = [*_forms(key), *(ballot.teller_codes[t.id].encode() for t in tellers)]
    papers = db.session.scalars(select(BallotVoter.sealed_paper)).all()
    clear = [needle for _, choices in cast for needle in _plaintexts(choices)]

    during = _copy(app, tmp_path)
    wal = next(raw for name, raw in during.items() if name.endswith("-wal"))
    # No checkpoint yet: the votes sit in the WAL, commit by commit, in the order cast.
    assert len(papers) == 12 and all(paper in wal for paper in papers)
    assert _found(during, clear) == []
    assert _found(during, secrets_) == []

    ballots.close(ballot, early=True)
    after_close = _copy(app, tmp_path)
    assert _found(after_close, clear) == []
    assert _found(after_close, secrets_) == []

    # The search above can see a choice written in the clear: the count publishes them.
    _count(ballot, tellers)
    counted = _copy(app, tmp_path)
    assert all(_found(counted, [json.dumps(choices).encode()]) for _, choices in cast)
    assert _found(counted, secrets_) == []


@sqlite_only
def test_no_tellers_share_outlives_the_count_in_the_sqlite_files(app, group, tmp_path):
    ballot, tellers = _ballot()
    _vote(ballot, 12)
    shares = _shares(ballot, tellers)
    needles = [form for share in shares for form in (*_forms(share.raw), *_forms(share.value))]
    ballots.close(ballot, early=True)
    ballot_tellers.submit_share(ballot, tellers[0], ballot.teller_codes[tellers[0].id])
    # Given and waiting for the next: the first share is kept until the count, in a table.
    assert _found(_copy(app, tmp_path), [shares[0].raw])
    ballot_tellers.submit_share(ballot, tellers[1], ballot.teller_codes[tellers[1].id])
    assert ballot.counted_at is not None
    db.session.remove()
    assert _found(_copy(app, tmp_path), needles) == []


def test_the_sealed_papers_are_all_a_copy_pairs_with_voters_and_only_k_shares_open_them(group):
    ballot, tellers = _ballot()
    cast = _vote(ballot, 12)
    ballots.close(ballot, early=True)
    # The attacker's pairing: everything on a voter's row that is not the ballot or their hash.
    rows = db.session.execute(
        text(
            "SELECT member_id, sealed_paper, tracker FROM ballot_voter "
            "WHERE ballot_id = :ballot ORDER BY member_id"
        ),
        {"ballot": ballot.id},
    ).all()
    assert [member_id for member_id, _, _ in rows] == sorted(v.id for v, _ in cast)
    assert all(len(paper) == sealing.SEALED_BYTES for _, paper, _ in rows)  # one size for all
    strangers = [sealing.make_key()[1] for _ in range(3)]
    # Any key short of the ballot's: a teller's own code, a stranger's key, k-1 shares' worth.
    one_teller = sealing.parse_teller_code(ballot.teller_codes[tellers[0].id])
    for wrong in [*strangers, one_teller, _shares(ballot, tellers)[0].value]:
        box = sealing.opener(wrong)
        assert [sealing.open_paper(box, bytes(paper)) for _, paper, _ in rows] == [None] * 12
    # With k shares, the same rows do open: what protects the voters is the key alone.
    box = sealing.opener(_ballot_key(ballot, tellers))
    chosen = {v.id: choices for v, choices in cast}
    assert [sealing.open_paper(box, bytes(paper)) for _, paper, _ in rows] == [
        chosen[member_id] for member_id, _, _ in rows
    ]


def test_the_opened_papers_are_in_no_order_the_voters_can_be_put_in(group):
    ballot, tellers = _ballot()
    chosen = {v.id: choices for v, choices in _vote(ballot, 40)}
    ballots.close(ballot, early=True)
    _count(ballot, tellers)
    # Every order a copy of the database puts the voters in: the order they voted in (which
    # SQLite's cells and WAL and PostgreSQL's ctid keep), its reverse, and the order of each
    # column on their rows (the voter key the count reads the papers in, public trackers).
    orders = [list(chosen), list(chosen)[::-1]]
    for column in ("voter", "tracker", "member_id"):
        orders.append(
            db.session.scalars(
                text(f"SELECT member_id FROM ballot_voter WHERE ballot_id = :b ORDER BY {column}"),  # noqa: S608 - fixed names
                {"b": ballot.id},
            ).all()
        )
    physical = "ctid" if db.engine.dialect.name == "postgresql" else "rowid"
    # Paired with the published order, or with the order the opened rows lie in, none may
    # place more voters than chance would (one in forty expected; the bound is twenty).
    for published_by in ("position", physical):
        published = db.session.scalars(
            text(f"SELECT choices FROM ballot_opened WHERE ballot_id = :b ORDER BY {published_by}"),  # noqa: S608 - fixed names
            {"b": ballot.id},
        ).all()
        for order in orders:
            cast = [chosen[member_id] for member_id in order]
            assert _matched(cast, [json.loads(p) for p in published]) < 20, (published_by, order)


def test_after_the_erase_even_k_shares_link_no_member_to_a_choice(app, group, tmp_path):
    ballot, tellers = _ballot()
    cast = _vote(ballot, 12)
    papers = [bytes(p) for p in db.session.scalars(select(BallotVoter.sealed_paper))]
    ballots.close(ballot, early=True)
    _count(ballot, tellers)
    counted_at = ballot.counted_at
    key = _ballot_key(ballot, tellers)  # k tellers have their codes still, and give them
    assert ballot_box.erase_due(counted_at + timedelta(days=7, seconds=1)) == 1
    db.session.expire_all()
    rows = db.session.execute(
        text("SELECT member_id, sealed_paper FROM ballot_voter WHERE ballot_id = :b"),
        {"b": ballot.id},
    ).all()
    assert sorted(m for m, _ in rows) == sorted(v.id for v, _ in cast)
    assert all(paper is None for _, paper in rows)
    # Nothing stored anywhere that the key opens.
    box = sealing.opener(key)
    for table, column in [
        ("ballot_voter", "sealed_paper"),
        ("ballot_voter", "tracker"),
        ("ballot_teller", "sealed_share"),
        ("ballot_teller", "submitted_share"),
    ]:
        for (value,) in db.session.execute(text(f"SELECT {column} FROM {table}")):  # noqa: S608 - fixed names
            if value is not None:
                raw = value if isinstance(value, bytes) else str(value).encode()
                assert sealing.open_paper(box, raw) is None
    if db.engine.dialect.name != "sqlite":
        return
    db.session.remove()
    copy = _copy(app, tmp_path)
    # Not a whole paper, nor any 16-byte piece of one (its ephemeral key, its cipher text).
    pieces = [paper[i : i + 16] for paper in papers for i in range(0, len(paper) - 15, 16)]
    assert _found(copy, papers) == []
    assert _found(copy, pieces) == []
    assert _found(copy, _forms(key)) == []


# --- PostgreSQL: the system columns the application's own role can select -----------------


def _voter_order(ballot: Ballot) -> list[int]:
    return db.session.scalars(
        text("SELECT member_id FROM ballot_voter WHERE ballot_id = :b ORDER BY ctid"),
        {"b": ballot.id},
    ).all()


@postgres_only
def test_postgres_xmin_pairs_no_voter_with_an_opened_paper(group):
    ballot, tellers = _ballot()
    _vote(ballot, 40)
    ballots.close(ballot, early=True)
    _count(ballot, tellers)
    pairs = db.session.execute(
        text(
            "SELECT v.member_id, o.position FROM ballot_voter v "
            "JOIN ballot_opened o ON o.xmin = v.xmin "
            "WHERE v.ballot_id = :b AND o.ballot_id = :b"
        ),
        {"b": ballot.id},
    ).all()
    assert pairs == []
    # The opened papers were written together, at the count, in no voter's transaction.
    assert (
        db.session.scalar(
            text("SELECT count(DISTINCT xmin::text) FROM ballot_opened WHERE ballot_id = :b"),
            {"b": ballot.id},
        )
        == 1
    )


@postgres_only
def test_postgres_ctid_order_pairs_no_voter_with_their_paper(group):
    ballot, tellers = _ballot()
    chosen = {v.id: choices for v, choices in _vote(ballot, 40)}
    ballots.close(ballot, early=True)
    _count(ballot, tellers)
    voters = _voter_order(ballot)
    assert voters == sorted(voters)  # the voters lie in the order they voted
    published = db.session.scalars(
        text("SELECT choices FROM ballot_opened WHERE ballot_id = :b ORDER BY ctid"),
        {"b": ballot.id},
    ).all()
    assert _matched([chosen[m] for m in voters], [json.loads(p) for p in published]) < 20


@postgres_only
def test_postgres_legacy_xmin_attack_finds_no_sealed_paper(group):
    # A ballot made before sealing, which the attack reads in full: the control.
    legacy = factories.ballot(kind="choose_one", options=OPTIONS, freeze_at=factories.soon(1))
    for n in range(5):
        votes.cast(legacy, factories.member(), [n])
    ballot, _ = _ballot()
    _vote(ballot, 12)
    attack = text(
        "SELECT v.member_id, p.choices FROM ballot_voter v "
        "JOIN ballot_paper p ON p.xmin = v.xmin AND p.ballot_id = v.ballot_id "
        "WHERE v.ballot_id = :b"
    )
    assert len(db.session.execute(attack, {"b": legacy.id}).all()) == 5
    assert db.session.execute(attack, {"b": ballot.id}).all() == []
    assert (
        db.session.scalar(
            text("SELECT count(*) FROM ballot_paper WHERE ballot_id = :b"), {"b": ballot.id}
        )
        == 0
    )
