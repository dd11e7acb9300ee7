"""Ballots through the service: eligibility, one vote each, secrecy, the close and its count."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select, text

from node.extensions import db
from node.models import Ballot, BallotPaper, BallotVoter, FeedEntry, Member
from node.services.errors import Conflict, Forbidden, Invalid
from node.services.membership import member_data
from node.services.voting import ballots, votes
from node.worker import Worker
from tests import factories


def _voters(n: int, **fields) -> list[Member]:
    return [factories.member(**fields) for _ in range(n)]


def _past(ballot: Ballot) -> None:
    """Move a ballot's close into the past, as if its time had come."""
    db.session.execute(
        text("UPDATE ballot SET closes_at = :t WHERE id = :id"),
        {"t": datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1), "id": ballot.id},
    )
    db.session.commit()
    db.session.expire_all()


def _fresh(ballot: Ballot) -> Ballot:
    db.session.expire_all()
    return ballots.get(ballot.id, factories.member())


def test_a_member_votes_once_and_gets_a_receipt(member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    receipt = votes.cast(ballot, member, [0])
    assert receipt.receipt_code.startswith(receipt.receipt + "-")
    assert len(receipt.receipt) == votes.RECEIPT_LENGTH
    assert votes.has_voted(ballot, member)
    with pytest.raises(Conflict, match="already voted"):
        votes.cast(ballot, member, [1])
    assert db.session.scalar(select(func.count()).select_from(BallotPaper)) == 1
    assert json.loads(db.session.scalar(select(BallotPaper.choices))) == [0]


def test_a_vote_changes_only_with_the_members_own_receipt_code(member):
    ballot = factories.ballot(freeze_at=factories.soon(1), allow_change=True)
    other = factories.member()
    mine = votes.cast(ballot, member, [0])
    theirs = votes.cast(ballot, other, [0])
    with pytest.raises(Conflict, match="receipt code"):
        votes.cast(ballot, member, [1])  # no code: refused, nothing changed
    forged = mine.receipt + "-" + "0" * votes.SECRET_LENGTH
    with pytest.raises(Forbidden, match="not the receipt code you were given"):
        votes.cast(ballot, member, [1], forged)
    with pytest.raises(Forbidden):
        votes.cast(ballot, member, [1], "NOPE-NOPE")
    changed = votes.cast(ballot, member, [1], mine.receipt_code.lower())  # case forgiven
    assert changed.changed and changed.receipt == mine.receipt
    papers = dict(db.session.execute(select(BallotPaper.receipt, BallotPaper.choices)).all())
    assert json.loads(papers[mine.receipt]) == [1]
    assert json.loads(papers[theirs.receipt]) == [0]
    assert len(papers) == 2


def test_a_fresh_voter_cannot_bring_a_receipt_code(member):
    ballot = factories.ballot(freeze_at=factories.soon(1), allow_change=True)
    someone = votes.cast(ballot, factories.member(), [0])
    with pytest.raises(Forbidden):
        votes.cast(ballot, member, [1], someone.receipt_code)
    assert not votes.has_voted(ballot, member)


def test_without_allow_change_a_receipt_code_changes_nothing(member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    receipt = votes.cast(ballot, member, [0])
    with pytest.raises(Conflict, match="can't be changed"):
        votes.cast(ballot, member, [1], receipt.receipt_code)


def test_members_who_joined_after_the_freeze_date_are_refused(group):
    early = factories.member(joined_at=datetime.now(UTC) - timedelta(days=30))
    late = factories.member(joined_at=datetime.now(UTC) - timedelta(days=1))
    ballot = factories.ballot(freeze_at=datetime.now(UTC) - timedelta(days=7))
    votes.cast(ballot, early, [0])
    with pytest.raises(Forbidden, match="freeze date"):
        votes.cast(ballot, late, [0])
    assert not votes.has_voted(ballot, late)
    _past(ballot)
    closed = ballots.close(_fresh(ballot))
    assert closed.voters_count == 1
    # The late joiner is not counted as eligible either.
    assert closed.eligible_count == db.session.scalar(
        select(func.count()).select_from(Member).where(Member.joined_at <= ballot.freeze_at)
    )


def test_a_suspended_member_cannot_vote(group):
    suspended = factories.member(status="suspended")
    ballot = factories.ballot(freeze_at=factories.soon(1))
    with pytest.raises(Forbidden, match="suspended"):
        votes.cast(ballot, suspended, [0])
    assert db.session.scalar(select(func.count()).select_from(BallotVoter)) == 0


def test_choices_are_checked_against_the_ballot(member):
    many = factories.ballot(
        kind="choose_many", options=["A", "B", "C"], seats=2, freeze_at=factories.soon(1)
    )
    with pytest.raises(Invalid) as caught:
        votes.cast(many, member, [0, 1, 2])
    assert "choices" in caught.value.fields
    with pytest.raises(Invalid):
        votes.cast(many, member, [0, 0])
    with pytest.raises(Invalid):
        votes.cast(many, member, [3])
    assert not votes.has_voted(many, member)
    votes.cast(many, member, [2, 0])


def test_no_vote_before_opening_or_after_the_close(member):
    later = factories.ballot(
        opens_at=factories.soon(1), closes_at=factories.soon(2), freeze_at=factories.soon(1)
    )
    with pytest.raises(Conflict, match="not open yet"):
        votes.cast(later, member, [0])
    ballot = factories.ballot(freeze_at=factories.soon(1))
    _past(ballot)
    with pytest.raises(Conflict, match="closed"):
        votes.cast(_fresh(ballot), member, [0])
    ballots.close(_fresh(ballot))
    with pytest.raises(Conflict, match="closed"):
        votes.cast(_fresh(ballot), member, [0])
    assert db.session.scalar(select(func.count()).select_from(BallotVoter)) == 0


def test_results_are_hidden_until_the_close(member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    votes.cast(ballot, member, [0])
    with pytest.raises(Forbidden):
        ballots.result(ballot)
    with pytest.raises(Forbidden):
        votes.papers(ballot)
    assert ballot.result == "" and ballot.voters_count is None


def test_the_close_counts_publishes_the_papers_and_checks_the_quorum(group):
    people = _voters(5)
    ballot = factories.ballot(freeze_at=factories.soon(1), quorum=4)
    receipts = [votes.cast(ballot, p, [c]) for p, c in zip(people, [0, 0, 0, 1, 2], strict=True)]
    ballots.close(ballot, early=True)
    found = ballots.result(_fresh(ballot))
    assert found["outcome"] == "passed" and found["quorum_met"]
    assert found["votes"] == [3, 1, 1] and found["voters_count"] == 5
    assert found["eligible_count"] == 5 and found["turnout"] == 1.0
    published = votes.papers(_fresh(ballot))
    assert {p["receipt"] for p in published.items} == {r.receipt for r in receipts}
    mine = votes.papers(_fresh(ballot), receipts[3].receipt_code)
    assert [p["choices"] for p in mine.items] == [[1]]
    with pytest.raises(Conflict, match="already closed"):
        ballots.close(_fresh(ballot), early=True)


def test_a_ballot_short_of_its_quorum_decides_nothing(group):
    people = _voters(3)
    ballot = factories.ballot(freeze_at=factories.soon(1), quorum=3)
    for person in people[:2]:
        votes.cast(ballot, person, [0])
    ballots.close(ballot, early=True)
    found = ballots.result(_fresh(ballot))
    assert found["outcome"] == "no_quorum" and not found["quorum_met"]
    assert found["votes"][0] == 2  # the counts are still shown


def test_a_ranked_ballot_is_counted_by_stv(group):
    # The Wikipedia worked example (see test_ballot_count.py), cast by 20 members.
    ballot = factories.ballot(
        kind="ranked",
        seats=3,
        options=["Oranges", "Pears", "Chocolate", "Strawberries", "Sweets"],
        freeze_at=factories.soon(1),
    )
    papers = [[0]] * 4 + [[1, 0]] * 2 + [[2, 3]] * 8 + [[2, 4]] * 4 + [[3]] + [[4]]
    for paper in papers:
        votes.cast(ballot, factories.member(), paper)
    closed = ballots.close(_fresh(ballot), early=True)
    found = ballots.result(closed)
    assert closed.outcome == "elected"
    assert [closed.options[p].label for p in found["winners"]] == [
        "Chocolate",
        "Strawberries",
        "Oranges",
    ]
    assert len(found["rounds"]) >= 2


def test_nothing_stored_links_a_member_to_their_choice(app, group):
    """Read every ballot table's every column: nothing in a paper names or orders a voter."""
    people = _voters(6)
    ballot = factories.ballot(freeze_at=factories.soon(1), allow_change=True)
    for person, choice in zip(people, [0, 1, 0, 1, 2, 0], strict=True):
        votes.cast(ballot, person, [choice])
    paper_columns = {c["name"] for c in inspect(db.engine).get_columns("ballot_paper")}
    voter_columns = {c["name"] for c in inspect(db.engine).get_columns("ballot_voter")}
    # The only column the two share is the ballot; neither has a time or a sequence.
    assert paper_columns & voter_columns == {"ballot_id"}
    # A sealed ballot's paper and tracker (empty here: this is a legacy ballot).
    assert voter_columns == {"ballot_id", "voter", "member_id", "sealed_paper", "tracker"}
    assert not {c for c in paper_columns if "member" in c or c.endswith("_at") or c == "id"}
    member_ids = {str(p.id) for p in people}
    emails = {p.email for p in people}
    voters = set(db.session.scalars(select(BallotVoter.voter)))
    assert len(voters) == 6 and not voters & emails
    for row in db.session.execute(text("SELECT * FROM ballot_paper")).mappings():
        values = {str(v) for k, v in row.items() if k != "ballot_id"}
        assert not values & member_ids and not values & emails and not values & voters
    if db.engine.dialect.name == "sqlite":
        # The rows are kept in key order, not the order the votes came in.
        for table in ("ballot_paper", "ballot_voter"):
            sql = db.session.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": table}
            )
            assert "WITHOUT ROWID" in sql.upper()
        stored = [r for (r,) in db.session.execute(text("SELECT receipt FROM ballot_paper"))]
        assert stored == sorted(stored)


def test_two_simultaneous_votes_by_one_member_count_once(app, member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    start = threading.Barrier(2)
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

    threads = [threading.Thread(target=vote, args=(c,)) for c in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["counted", "refused"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(BallotPaper)) == 1
    assert db.session.scalar(select(func.count()).select_from(BallotVoter)) == 1


def test_the_result_goes_on_the_feed_as_a_question_with_its_counts(group):
    people = _voters(3)
    ballot = factories.ballot(
        kind="choose_one", options=["Park", "Library"], freeze_at=factories.soon(1)
    )
    assert db.session.scalar(select(func.count()).select_from(FeedEntry)) == 0
    for person, choice in zip(people, [1, 1, 0], strict=True):
        votes.cast(ballot, person, [choice])
    assert db.session.scalar(select(func.count()).select_from(FeedEntry)) == 0  # not before
    ballots.close(ballot, early=True)
    entry = db.session.scalar(select(FeedEntry).order_by(FeedEntry.seq.desc()))
    document = json.loads(entry.body)
    question = document["object"]
    assert document["type"] == "Create" and question["type"] == "Question"
    assert question["id"] == f"{group.base_url}/ballots/{ballot.id}"
    assert [(o["name"], o["replies"]["totalItems"]) for o in question["oneOf"]] == [
        ("Park", 1),
        ("Library", 2),
    ]
    assert question["votersCount"] == 3
    assert question["ballotResult"]["outcome"] == "decided"
    assert question["ballotResult"]["chosen"] == ["Library"]
    text_of_entry = entry.body
    for person in people:
        assert person.email not in text_of_entry and person.display_name not in text_of_entry


def test_a_members_only_ballot_never_leaves_the_node(group, member):
    ballot = factories.ballot(visibility="members", freeze_at=factories.soon(1))
    votes.cast(ballot, member, [0])
    ballots.close(ballot, early=True)
    assert db.session.scalar(select(func.count()).select_from(FeedEntry)) == 0


def test_an_endorsement_ballot_that_passes_endorses_the_candidate(group):
    candidate = factories.candidate(endorsement="proposed")
    ballot = factories.ballot(candidate_id=candidate.id, freeze_at=factories.soon(1))
    for person in _voters(2):
        votes.cast(ballot, person, [0])
    ballots.close(ballot, early=True)
    db.session.expire_all()
    assert candidate.endorsement == "endorsed"
    latest = json.loads(db.session.scalar(select(FeedEntry.body).order_by(FeedEntry.seq.desc())))
    assert latest["object"]["type"] == "Candidate"
    assert latest["object"]["endorsement"] == "endorsed"
    assert latest["object"]["endorsementBallot"] == f"{group.base_url}/ballots/{ballot.id}"


def test_an_endorsement_ballot_that_falls_withdraws_the_proposal(group):
    candidate = factories.candidate(endorsement="proposed")
    ballot = factories.ballot(candidate_id=candidate.id, freeze_at=factories.soon(1))
    for person in _voters(2):
        votes.cast(ballot, person, [1])
    ballots.close(ballot, early=True)
    db.session.expire_all()
    assert candidate.endorsement == "none"


def test_a_ballot_names_the_candidate_it_decides_and_the_form_lists_every_candidate(group):
    zoe = factories.candidate(name="Zoe Zed", endorsement="proposed")
    ann = factories.candidate(name="Ann Ash", visibility="members")
    ballot = factories.ballot(candidate_id=zoe.id, freeze_at=factories.soon(1))
    assert ballots.endorsed_candidate(ballot) == zoe
    assert ballots.endorsed_candidate(factories.ballot(freeze_at=factories.soon(1))) is None
    assert ballots.candidate_choices() == [(ann.id, "Ann Ash"), (zoe.id, "Zoe Zed")]


def test_the_worker_closes_ballots_whose_time_is_up(app, member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    open_one = factories.ballot(freeze_at=factories.soon(1))
    votes.cast(ballot, member, [0])
    _past(ballot)
    report = Worker(app).run_once()
    assert report.counted == 1 and report.busy
    db.session.expire_all()
    assert db.session.get(Ballot, ballot.id).outcome == "passed"
    assert db.session.get(Ballot, open_one.id).closed_at is None


def test_the_terms_are_fixed_once_voting_opens(member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    with pytest.raises(Conflict, match="opened"):
        ballots.update(ballot, {"question": "Something else"})
    later = factories.ballot(
        opens_at=factories.soon(1), closes_at=factories.soon(2), freeze_at=factories.soon(1)
    )
    ballots.update(later, {"question": "Reworded"})
    assert _fresh(later).question == "Reworded"
    votes.cast(ballot, member, [0])
    with pytest.raises(Conflict, match="have voted"):
        ballots.delete(ballot)
    ballots.delete(later)
    assert db.session.get(Ballot, later.id) is None


def test_the_public_sees_only_closed_public_ballots(group, member):
    hidden = factories.ballot(freeze_at=factories.soon(1))
    members_only = factories.ballot(visibility="members", freeze_at=factories.soon(1))
    closed = factories.ballot(freeze_at=factories.soon(1))
    ballots.close(closed, early=True)
    ballots.close(members_only, early=True)
    public = {b.id for b in ballots.listing(None).items}
    assert public == {closed.id}
    assert {b.id for b in ballots.listing(member).items} == {hidden.id, members_only.id, closed.id}


def test_a_voter_who_left_still_counts_among_the_eligible_at_the_close(group):
    stays, leaves, _abstains = _voters(3)
    ballot = factories.ballot(freeze_at=factories.soon(1))
    votes.cast(ballot, stays, [0])
    votes.cast(ballot, leaves, [1])
    member_data.leave(leaves, factories.PASSWORD)
    found = ballots.result(ballots.close(db.session.get(Ballot, ballot.id), early=True))
    assert found["voters_count"] == 2 and found["votes"] == [1, 1, 0]
    # Everyone who could vote: the two who did (one has left since) and the one who didn't.
    assert found["eligible_count"] == 3 and found["turnout"] == round(2 / 3, 4)


def test_a_member_votes_once_even_if_the_ballot_key_changed(app, member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    votes.cast(ballot, member, [0])
    app.extensions["branchline_ballot_key"] = b"a key lost and made anew"
    with pytest.raises(Conflict, match="already voted"):
        votes.cast(ballot, member, [1])
    assert db.session.scalar(select(func.count()).select_from(BallotPaper)) == 1
