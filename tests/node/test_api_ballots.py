"""Ballots over the JSON API: set up, vote, refusals with nothing changed, the close."""

from __future__ import annotations

from sqlalchemy import func, select

from node.extensions import db
from node.models import Ballot, BallotPaper, BallotVoter
from tests import factories
from tests.node.api_support import assert_error, count

MOTION = {
    "question": "Should we twin with Leeds Central?",
    "kind": "yes_no",
    "opens_at": "2020-01-01T18:00:00Z",
    "closes_at": "2039-01-08T18:00:00Z",
    "freeze_at": "2039-01-01T00:00:00Z",
}


def test_an_organiser_sets_up_a_ballot_and_a_member_votes(api, organiser_token, member):
    created = api.post("/ballots", organiser_token, json={**MOTION, "quorum": 1})
    assert created.status_code == 201, created.get_json()
    ballot = created.get_json()
    assert ballot["state"] == "open"
    assert [o["label"] for o in ballot["options"]] == ["Yes", "No", "Abstain"]
    assert created.headers["Location"].endswith(f"/api/v1/ballots/{ballot['id']}")
    token = factories.token(member)
    cast = api.post(f"/ballots/{ballot['id']}/vote", token, json={"choices": [0]})
    assert cast.status_code == 201
    receipt = cast.get_json()
    assert receipt["receipt_code"].startswith(receipt["receipt"] + "-")
    assert api.get(f"/ballots/{ballot['id']}", token).get_json()["has_voted"] is True
    again = api.post(f"/ballots/{ballot['id']}/vote", token, json={"choices": [1]})
    assert_error(again, 409)
    assert count(BallotPaper) == 1


def test_bad_ballots_are_refused_with_the_field_at_fault(api, organiser_token):
    cases = [
        ({**MOTION, "kind": "choose_one"}, "options"),
        ({**MOTION, "kind": "choose_one", "options": ["A", "a"]}, "options"),
        ({**MOTION, "options": ["A", "B"]}, "options"),
        ({**MOTION, "kind": "ranked", "options": ["A", "B"], "seats": 2}, "seats"),
        ({**MOTION, "closes_at": "2019-01-01T00:00:00Z"}, "closes_at"),
        ({**MOTION, "freeze_at": "2040-01-01T00:00:00Z"}, "freeze_at"),
        (
            {**MOTION, "kind": "choose_one", "options": ["A", "B"], "candidate_id": 1},
            "candidate_id",
        ),
        ({**MOTION, "candidate_id": 99}, "candidate_id"),
        ({**MOTION, "kind": "plebiscite"}, "kind"),
        ({**MOTION, "extra": 1}, "extra"),
    ]
    for payload, field in cases:
        assert_error(api.post("/ballots", organiser_token, json=payload), 400, field)
    assert count(Ballot) == 0


def test_a_bad_vote_changes_nothing(api, member):
    ballot = factories.ballot(
        kind="choose_many", options=["A", "B", "C"], seats=2, freeze_at=factories.soon(1)
    )
    token = factories.token(member)
    path = f"/ballots/{ballot.id}/vote"
    assert_error(api.post(path, token, json={"choices": [0, 1, 2]}), 400, "choices")
    assert_error(api.post(path, token, json={"choices": ["A"]}), 400, "choices")
    assert_error(api.post(path, token, json={}), 400, "choices")
    forged = {"choices": [0], "receipt_code": "ABCDEFGHJK-0000000000000000"}
    assert_error(api.post(path, token, json=forged), 403)
    assert count(BallotVoter) == 0 and count(BallotPaper) == 0


def test_a_token_without_the_vote_scope_cannot_vote(api, member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    reader = factories.token(member, "read")
    assert_error(api.post(f"/ballots/{ballot.id}/vote", reader, json={"choices": [0]}), 403)
    assert count(BallotVoter) == 0


def test_a_late_joiner_is_refused(api, group):
    ballot = factories.ballot()  # frozen at its creation
    late = factories.member()
    answer = api.post(f"/ballots/{ballot.id}/vote", factories.token(late), json={"choices": [0]})
    assert "freeze date" in assert_error(answer, 403)["error"]


def test_a_vote_is_changed_with_the_receipt_code(api, member):
    ballot = factories.ballot(freeze_at=factories.soon(1), allow_change=True)
    token = factories.token(member)
    path = f"/ballots/{ballot.id}/vote"
    first = api.post(path, token, json={"choices": [0]}).get_json()
    assert_error(api.post(path, token, json={"choices": [1]}), 409)
    changed = api.post(path, token, json={"choices": [1], "receipt_code": first["receipt_code"]})
    assert changed.status_code == 200 and changed.get_json()["changed"] is True
    db.session.expire_all()
    assert db.session.scalar(select(BallotPaper.choices)) == "[1]"
    assert db.session.scalar(select(func.count()).select_from(BallotPaper)) == 1


def test_results_and_papers_wait_for_the_close(api, organiser_token, member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    token = factories.token(member)
    receipt = api.post(f"/ballots/{ballot.id}/vote", token, json={"choices": [1]}).get_json()
    assert_error(api.get(f"/ballots/{ballot.id}/result", token), 403)
    assert_error(api.get(f"/ballots/{ballot.id}/papers", token), 403)
    assert_error(api.get(f"/ballots/{ballot.id}"), 404)  # the public: not until it closes
    closed = api.post(f"/ballots/{ballot.id}/close", organiser_token)
    assert closed.status_code == 200
    assert closed.get_json()["outcome"] == "rejected"
    public = api.get(f"/ballots/{ballot.id}/result").get_json()
    assert public["votes"] == [0, 1, 0] and public["voters_count"] == 1
    found = api.get(f"/ballots/{ballot.id}/papers?receipt={receipt['receipt']}", token)
    assert found.get_json()["items"] == [{"receipt": receipt["receipt"], "choices": [1]}]
    assert_error(api.get(f"/ballots/{ballot.id}/papers"), 401)  # members only
    late = api.post(f"/ballots/{ballot.id}/vote", token, json={"choices": [0]})
    assert_error(late, 409)


def test_an_opened_ballot_cannot_be_changed_or_deleted_once_voted(api, organiser_token, member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    assert_error(api.patch(f"/ballots/{ballot.id}", organiser_token, json={"question": "X"}), 409)
    api.post(f"/ballots/{ballot.id}/vote", factories.token(member), json={"choices": [0]})
    assert_error(api.delete(f"/ballots/{ballot.id}", organiser_token), 409)
    assert count(Ballot) == 1
