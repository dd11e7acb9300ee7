"""Sealed ballots through the services: tellers and their key, sealed papers, the count."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import LargeBinary, String, Text, func, inspect, select, text
from sqlalchemy.engine import make_url

from node.extensions import db
from node.models import Ballot, BallotOpened, BallotTeller, BallotVoter, FeedEntry, Member
from node.services.errors import Conflict, Forbidden, Invalid, NotFound
from node.services.voting import ballot_box, ballot_count, ballot_tellers, ballots, sealing, votes
from tests import factories


def _voters(n: int) -> list[Member]:
    return [factories.member() for _ in range(n)]


def _sealed(**fields) -> tuple[Ballot, list[Member]]:
    tellers = _voters(3)
    ballot = factories.ballot(sealed=True, tellers=tellers, freeze_at=factories.soon(1), **fields)
    return ballot, tellers


def _close(ballot: Ballot) -> Ballot:
    return ballots.close(ballot, early=True)


def _give(ballot: Ballot, teller: Member) -> Ballot:
    return ballot_tellers.submit_share(ballot, teller, ballot.teller_codes[teller.id])


def _count(table) -> int:
    return db.session.scalar(select(func.count()).select_from(table))


KINDS = [
    ("yes_no", [], 1, [[0], [0], [1], [2], []]),
    ("choose_one", ["Ann", "Bob", "Cai"], 1, [[0], [1], [1], [2], []]),
    ("choose_many", ["Ann", "Bob", "Cai", "Dee"], 2, [[0, 1], [1], [1, 3], [2, 1], []]),
    ("ranked", ["Ann", "Bob", "Cai", "Dee"], 2, [[0, 1, 2], [1, 0], [1, 3], [2, 1, 0], [3]]),
]


@pytest.mark.parametrize(("kind", "options", "seats", "papers"), KINDS)
def test_two_of_three_tellers_count_each_kind_of_ballot(group, kind, options, seats, papers):
    ballot, tellers = _sealed(kind=kind, options=options, seats=seats)
    assert ballot.sealed and ballot.public_key and ballot.tellers_needed == 2
    assert ballots.state(ballot) == "open"
    for person, choices in zip(_voters(len(papers)), papers, strict=True):
        receipt = votes.cast(ballot, person, choices)
        assert receipt.receipt_code is None and receipt.tracker == receipt.receipt
    _close(ballot)
    assert ballots.state(ballot) == "counting"
    with pytest.raises(Forbidden, match="tellers have counted"):
        ballots.result(ballot)
    _give(ballot, tellers[0])
    assert ballot.counted_at is None and ballots.state(ballot) == "counting"
    _give(ballot, tellers[2])
    assert ballots.state(ballot) == "closed"
    expected = ballot_count.count(kind, len(ballot.options), seats, papers)
    found = ballots.result(ballot)
    assert found["votes"] == expected.votes and found["winners"] == expected.winners
    assert found["outcome"] == expected.outcome and found["voters_count"] == len(papers)
    assert ballot.sealed_count == len(papers) and ballot.spoilt_count == 0
    opened = votes.papers(ballot, per_page=100).items
    assert sorted(p["choices"] for p in opened) == sorted(papers)
    assert all(set(p) == {"position", "choices", "spoilt"} for p in opened)
    # The shares have done their work: none is kept.
    assert (
        db.session.scalar(select(func.count()).where(BallotTeller.submitted_share.is_not(None)))
        == 0
    )
    assert db.session.scalar(select(FeedEntry).order_by(FeedEntry.seq.desc()).limit(1)) is not None


def test_the_hashes_cover_the_ballot_box_and_the_opened_papers(group):
    ballot, tellers = _sealed()
    trackers = [votes.cast(ballot, p, [0]).tracker for p in _voters(3)]
    _close(ballot)
    _give(ballot, tellers[0])
    _give(ballot, tellers[1])
    lines = "".join(f"{t}\n" for t in sorted(trackers)).encode()
    assert ballot.tracker_list_hash == hashlib.sha256(lines).hexdigest()
    opened = votes.papers(ballot).items
    assert ballot.opened_list_hash == ballot_box.opened_list_hash(opened)


def _undealt(tellers) -> Ballot:
    """An open sealed yes/no ballot whose tellers have not kept their codes yet."""
    return ballots.create(
        {
            "question": "Delegates?",
            "kind": "yes_no",
            "opens_at": factories.soon(-1),
            "closes_at": factories.soon(3),
            "freeze_at": factories.soon(-2),
            "tellers": [t.id for t in tellers],
        },
        None,
    )


def test_a_sealed_ballot_cannot_open_until_its_tellers_kept_their_codes(group):
    tellers = _voters(3)
    ballot = _undealt(tellers)
    voter = factories.member(joined_at=factories.soon(-3))
    assert ballots.state(ballot) == "waiting_for_tellers"
    code = ballot_tellers.take_code(ballot, tellers[0])
    with pytest.raises(Invalid):
        ballot_tellers.confirm_code(ballot, tellers[0], "BLT1-AAAA")
    ballot_tellers.confirm_code(ballot, tellers[0], code)
    status = ballot_tellers.teller_status(ballot)
    assert [s["kept_code"] for s in status] == [True, False, False]
    assert [s["name"] for s in status] == [t.display_name for t in tellers]
    with pytest.raises(Conflict, match="cannot open until its tellers"):
        votes.cast(ballot, voter, [0])
    assert _count(BallotVoter) == 0 and ballot.public_key is None
    with pytest.raises(Forbidden):
        ballot_tellers.take_code(ballot, voter)  # not a teller
    for teller in tellers[1:]:
        ballot_tellers.confirm_code(ballot, teller, ballot_tellers.take_code(ballot, teller))
    assert ballot.public_key is not None and ballots.state(ballot) == "open"
    votes.cast(ballot, voter, [0])
    with pytest.raises(Conflict, match="dealt"):
        ballot_tellers.take_code(ballot, tellers[0])
    with pytest.raises(Conflict, match="dealt"):
        ballot_tellers.name_tellers(ballot, [tellers[0].id])


def test_naming_tellers_refuses_bad_lists(group):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    ballot.sealed = True
    db.session.commit()
    people = _voters(3)
    gone = factories.member(status="suspended")
    cases = [
        ([], None, "tellers"),
        ([people[0].id, people[0].id], None, "tellers"),
        ([people[0].id, gone.id], None, "tellers"),
        ([people[0].id, 10_000], None, "tellers"),
        ([p.id for p in people], 4, "tellers_needed"),
        ([p.id for p in people], 0, "tellers_needed"),
        ([p.id for p in _voters(10)], None, "tellers"),
    ]
    for ids, k, field in cases:
        with pytest.raises(Invalid) as refused:
            ballot_tellers.name_tellers(ballot, ids, k)
        assert field in refused.value.fields
    assert _count(BallotTeller) == 0
    one = ballot_tellers.name_tellers(ballot, [people[0].id])
    assert len(one) == 1 and ballot.tellers_needed == 1
    ballot_tellers.name_tellers(ballot, [p.id for p in people])
    assert ballot.tellers_needed == 2 and _count(BallotTeller) == 3


def test_only_active_members_are_offered_as_tellers_by_name(group):
    bea = factories.member(display_name="Bea")
    factories.member(display_name="Al", status="suspended")
    abe = factories.member(display_name="Abe")
    assert ballot_tellers.choices() == [(abe.id, "Abe"), (bea.id, "Bea")]


def test_renaming_tellers_makes_everyone_take_a_new_code(group):
    people = _voters(3)
    ballot = ballots.create(
        {
            "question": "Delegates?",
            "kind": "yes_no",
            "opens_at": factories.soon(1),
            "closes_at": factories.soon(3),
            "tellers": [p.id for p in people],
        },
        None,
    )
    code = ballot_tellers.take_code(ballot, people[0])
    ballot_tellers.confirm_code(ballot, people[0], code)
    ballot_tellers.name_tellers(ballot, [people[0].id, people[1].id])
    assert [s["kept_code"] for s in ballot_tellers.teller_status(ballot)] == [False, False]


def test_refused_shares_change_nothing(group):
    ballot, tellers = _sealed()
    stranger = factories.member()
    votes.cast(ballot, stranger, [0])
    with pytest.raises(Conflict, match="after the ballot closes"):
        _give(ballot, tellers[0])
    _close(ballot)
    with pytest.raises(Forbidden, match="tellers"):
        ballot_tellers.submit_share(ballot, stranger, ballot.teller_codes[tellers[0].id])
    with pytest.raises(Invalid) as wrong:  # another teller's code
        ballot_tellers.submit_share(ballot, tellers[0], ballot.teller_codes[tellers[1].id])
    assert "code" in wrong.value.fields
    with pytest.raises(Invalid):
        ballot_tellers.submit_share(ballot, tellers[0], "BLS1-NOTACODE")
    assert (
        db.session.scalar(select(func.count()).where(BallotTeller.submitted_at.is_not(None))) == 0
    )
    _give(ballot, tellers[0])
    with pytest.raises(Conflict, match="already given"):
        _give(ballot, tellers[0])
    assert ballot.counted_at is None
    with pytest.raises(Invalid, match="Some fields"):
        ballot_tellers.count_with_codes(ballot, [ballot.teller_codes[tellers[1].id]])
    with pytest.raises(Invalid):
        code = ballot.teller_codes[tellers[1].id]
        ballot_tellers.count_with_codes(ballot, [code, code])
    assert ballot.counted_at is None and _count(BallotOpened) == 0


def test_a_share_that_fails_its_commitment_is_refused(group):
    ballot, tellers = _sealed()
    _close(ballot)
    teller = db.session.scalar(select(BallotTeller).where(BallotTeller.position == 1))
    teller.commitment = "0" * 64  # the stored commitment no longer matches the share
    db.session.commit()
    with pytest.raises(Invalid, match="Some fields") as refused:
        _give(ballot, tellers[0])
    assert "not the one dealt" in refused.value.fields["code"][0]


def test_a_count_held_in_a_room_takes_k_codes_and_stores_no_share(group):
    ballot, tellers = _sealed(kind="choose_one", options=["Ann", "Bob"])
    for person, choice in zip(_voters(3), [0, 1, 1], strict=True):
        votes.cast(ballot, person, [choice])
    _close(ballot)
    codes = [ballot.teller_codes[t.id] for t in tellers[1:]]
    ballot_tellers.count_with_codes(ballot, codes)
    assert ballots.result(ballot)["votes"] == [1, 2]
    assert (
        db.session.scalar(select(func.count()).where(BallotTeller.submitted_at.is_not(None))) == 0
    )
    with pytest.raises(Conflict, match="counted"):
        ballot_tellers.count_with_codes(ballot, codes)


def test_votes_after_the_close_and_second_papers_are_refused(group):
    ballot, _ = _sealed()
    member, late = _voters(2)
    first = votes.cast(ballot, member, [0])
    with pytest.raises(Conflict, match="can't be changed"):
        votes.cast(ballot, member, [1])
    _close(ballot)
    with pytest.raises(Conflict, match="closed"):
        votes.cast(ballot, late, [1])
    rows = db.session.execute(select(BallotVoter.tracker)).scalars().all()
    assert rows == [first.tracker]


def test_a_changed_vote_counts_once_the_last_one(group):
    ballot, tellers = _sealed(allow_change=True)
    member, other = _voters(2)
    first = votes.cast(ballot, member, [0])
    second = votes.cast(ballot, member, [1])
    votes.cast(ballot, other, [1])
    assert second.changed and second.tracker != first.tracker
    with pytest.raises(Invalid):
        votes.cast(ballot, member, [0], "ANY-CODE")
    box = ballot_box.trackers(ballot).items
    assert first.tracker not in box and second.tracker in box and len(box) == 2
    _close(ballot)
    _give(ballot, tellers[0])
    _give(ballot, tellers[1])
    found = ballots.result(ballot)
    assert found["votes"][:2] == [0, 2] and found["voters_count"] == 2


def test_the_ballot_box_lists_trackers_in_their_own_order(group):
    ballot, _ = _sealed()
    made = [votes.cast(ballot, p, [0]).tracker for p in _voters(5)]
    listed = ballot_box.trackers(ballot, per_page=3)
    assert listed.total == 5 and listed.items == sorted(made)[:3]
    assert ballot_box.trackers(ballot, tracker=made[2].upper()).items == [made[2]]
    with pytest.raises(NotFound):
        ballot_box.trackers(ballot, tracker="0" * 64)
    legacy = factories.ballot()
    with pytest.raises(NotFound):
        ballot_box.trackers(legacy)


def test_a_spoilt_paper_is_counted_as_spoilt_and_shown(group):
    ballot, tellers = _sealed(kind="choose_one", options=["Ann", "Bob"])
    votes.cast(ballot, factories.member(), [1])
    public = bytes.fromhex(ballot.public_key)
    # Sealed straight to the key, past the service's checks (as a browser could).
    for n, choices in enumerate([[7], [0, 1]]):
        sealed = sealing.seal(public, choices)
        db.session.add(
            BallotVoter(
                ballot_id=ballot.id,
                voter=f"{n:064x}",
                sealed_paper=sealed,
                tracker=sealing.tracker(sealed),
            )
        )
    junk = b"\0" * sealing.SEALED_BYTES
    db.session.add(
        BallotVoter(ballot_id=ballot.id, voter="f" * 64, sealed_paper=junk, tracker="e" * 64)
    )
    db.session.commit()
    _close(ballot)
    _give(ballot, tellers[0])
    _give(ballot, tellers[1])
    assert ballot.sealed_count == 4 and ballot.spoilt_count == 3
    assert ballots.result(ballot)["votes"] == [0, 1]
    spoilt = {tuple(p["choices"]) for p in votes.papers(ballot).items if p["spoilt"]}
    assert spoilt == {(), (0, 1), (7,)}


def test_the_opened_papers_are_shuffled(group):
    options = [f"Option {i}" for i in range(6)]
    ballot, tellers = _sealed(kind="ranked", options=options, seats=2)
    people = _voters(40)
    # Each voter a paper of their own, so the published order can be traced back.
    papers = [[i % 6, (i // 6) % 6] if i % 6 != (i // 6) % 6 else [i % 6] for i in range(40)]
    papers = [list(p) for p in dict.fromkeys(tuple(p) for p in papers)]
    for person, paper in zip(people, papers, strict=False):
        votes.cast(ballot, person, paper)
    _close(ballot)
    _give(ballot, tellers[0])
    _give(ballot, tellers[1])
    published = [tuple(p["choices"]) for p in votes.papers(ballot, per_page=100).items]
    cast_order = [tuple(p) for p in papers[: len(people)]]
    assert sorted(published) == sorted(cast_order)
    ranks = [cast_order.index(p) for p in published]
    n = len(ranks)
    rho = 1 - 6 * sum((i - r) ** 2 for i, r in enumerate(ranks)) / (n * (n * n - 1))
    assert abs(rho) < 0.8  # a random order, not the order of casting (nor its reverse)


def test_the_shuffle_uses_the_operating_systems_random_numbers(group, monkeypatch):
    shuffled = []

    class Recorder:
        def shuffle(self, items):
            items.reverse()
            shuffled.append(list(items))

    monkeypatch.setattr(ballot_box.secrets, "SystemRandom", Recorder)
    ballot, tellers = _sealed(kind="choose_one", options=["A", "B", "C"])
    for person, choice in zip(_voters(3), [0, 1, 2], strict=True):
        votes.cast(ballot, person, [choice])
    _close(ballot)
    _give(ballot, tellers[0])
    _give(ballot, tellers[1])
    assert [p["choices"] for p in votes.papers(ballot).items] == shuffled[0]


def _text_and_bytes(found: bytes) -> list[bytes]:
    return [found, found.hex().encode(), found.hex().upper().encode()]


def _every_stored_value() -> list[bytes]:
    values = []
    inspector = inspect(db.engine)
    for table in inspector.get_table_names():
        for column in inspector.get_columns(table):
            if isinstance(column["type"], String | Text | LargeBinary):
                query = text(f'SELECT "{column["name"]}" FROM "{table}"')  # noqa: S608 - names from the schema
                for (value,) in db.session.execute(query):
                    if value is None:
                        continue
                    values.append(value if isinstance(value, bytes) else str(value).encode())
    return values


def test_the_ballot_key_is_in_no_table(group, monkeypatch):
    made = []
    real = sealing.make_key

    def remember():
        pair = real()
        made.append(pair[1])
        return pair

    monkeypatch.setattr(sealing, "make_key", remember)
    ballot, tellers = _sealed()
    votes.cast(ballot, factories.member(), [0])
    (private,) = made

    def nowhere() -> None:
        stored = _every_stored_value()
        assert stored
        for needle in _text_and_bytes(private):
            assert not any(needle in value for value in stored)

    nowhere()
    _close(ballot)
    _give(ballot, tellers[0])
    nowhere()  # one share given and kept: still no key
    _give(ballot, tellers[1])
    assert ballot.counted_at is not None
    nowhere()


def _sqlite_files(app) -> list[Path]:
    path = Path(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
    return [p for p in (path, Path(f"{path}-wal")) if p.exists()]


def test_after_the_challenge_period_the_sealed_papers_are_erased(app, group):
    ballot, tellers = _sealed()
    for person in _voters(30):
        votes.cast(ballot, person, [0])
    sealed = list(db.session.scalars(select(BallotVoter.sealed_paper)))
    trackers = set(db.session.scalars(select(BallotVoter.tracker)))
    _close(ballot)
    _give(ballot, tellers[0])
    _give(ballot, tellers[1])
    counted_at = ballot.counted_at
    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        # Move the papers into the database file itself, as SQLite's own checkpoints do.
        db.session.commit()
        db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.commit()
        raw = _sqlite_files(app)[0].read_bytes()
        assert all(paper in raw for paper in sealed)  # the check below can see them
    assert ballot_box.erase_due(counted_at + timedelta(days=6)) == 0
    assert ballot_box.erase_due(counted_at + timedelta(days=7, seconds=1)) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).where(BallotVoter.sealed_paper.is_not(None))) == 0
    assert set(db.session.scalars(select(BallotVoter.tracker))) == trackers
    assert _count(BallotOpened) == 30
    assert db.session.get(Ballot, ballot.id).papers_erased_at is not None
    stored = _every_stored_value()
    assert not any(paper in value for paper in sealed for value in stored)
    if sqlite:
        db.session.remove()
        raw = b"".join(p.read_bytes() for p in _sqlite_files(app))
        assert not any(paper in raw for paper in sealed)


def test_a_sealed_ballot_nobody_could_vote_in_closes_with_nothing_to_count(group):
    tellers = _voters(2)
    ballot = _undealt(tellers)
    _close(ballot)
    assert ballots.state(ballot) == "closed" and ballot.outcome == "no_votes"


def test_simultaneous_votes_by_one_member_leave_one_paper(app, member):
    ballot, _ = _sealed()
    # Ten at once: within the connection pool (15 on SQLite), so every thread gets going.
    start = threading.Barrier(10, timeout=60)
    outcomes: list[str] = []

    def vote(choice: int) -> None:
        with app.app_context():
            who = db.session.get(Member, member.id)
            found = ballots.get(ballot.id, who)
            start.wait()
            try:
                votes.cast(found, who, [choice])
                outcomes.append("counted")
            except Conflict:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=vote, args=(c % 2,)) for c in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["counted"] + ["refused"] * 9
    db.session.expire_all()
    assert _count(BallotVoter) == 1
