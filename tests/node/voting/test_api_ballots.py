"""Ballots over the JSON API: set up, vote, refusals with nothing changed, the close."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from node.extensions import db
from node.models import Ballot, BallotPaper, BallotVoter, Member
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.api_support import assert_error, count

MOTION = {
    "question": "Should we twin with Leeds Central?",
    "kind": "yes_no",
    "opens_at": "2020-01-01T18:00:00Z",
    "closes_at": "2039-01-08T18:00:00Z",
    "freeze_at": "2019-12-31T00:00:00Z",
}


def test_an_organiser_sets_up_a_ballot_and_a_member_votes(api, organiser_token, member):
    member.joined_at = datetime(2019, 6, 1, tzinfo=UTC)  # on the roll, frozen before 2020
    db.session.commit()
    created = api.post("/ballots", organiser_token, json={**MOTION, "quorum": 1})
    assert created.status_code == 201, created.get_json()
    ballot = created.get_json()
    # New ballots are sealed and wait for their tellers (test_api_sealed_ballots.py).
    assert ballot["state"] == "waiting_for_tellers" and ballot["sealed"] is True
    assert [o["label"] for o in ballot["options"]] == ["Yes", "No", "Abstain"]
    assert created.headers["Location"].endswith(f"/api/v1/ballots/{ballot['id']}")
    # The rest is the legacy path, kept for ballots set up before sealing.
    db.session.get(Ballot, ballot["id"]).sealed = False
    db.session.commit()
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


# --- one person, one vote: leaving and rejoining gives no second vote (issue 13, finding 2) ---


def _rejoin(api, organiser_token, email: str) -> str:
    """Add the address back as a new member, as an organiser would; return their vote token."""
    added = api.post("/members", organiser_token, json={"email": email, "display_name": "Back"})
    assert added.status_code == 201, added.get_json()
    return factories.token(db.session.get(Member, added.get_json()["id"]))


@pytest.mark.parametrize("allow_change", [False, True])
def test_a_member_who_leaves_and_rejoins_cannot_vote_again(
    client, api, organiser_token, allow_change
):
    # Frozen after the rejoin: a ballot set up before the roll had to be fixed at the opening.
    ballot = factories.ballot(freeze_at=factories.soon(1), allow_change=allow_change)
    person = factories.member(email="chris@example.org")
    path = f"/ballots/{ballot.id}/vote"
    first = api.post(path, factories.token(person), json={"choices": [0]})
    assert first.status_code == 201
    log_in(client, person)
    assert post_form(client, "/account/leave", {"password": factories.PASSWORD}).status_code == 302
    token = _rejoin(api, organiser_token, "Chris@Example.org")
    again = api.post(path, token, json={"choices": [1]})
    assert "You have already voted in this ballot" in assert_error(again, 409)["error"]
    with_code = {"choices": [1], "receipt_code": first.get_json()["receipt_code"]}
    assert api.post(path, token, json=with_code).status_code in (403, 409)
    assert api.get(f"/ballots/{ballot.id}", token).get_json()["has_voted"] is True
    assert count(BallotPaper) == 1
    db.session.expire_all()
    assert db.session.scalar(select(BallotPaper.choices)) == "[0]"


def test_a_member_removed_by_an_organiser_and_added_again_cannot_vote_again(
    api, organiser_token, member
):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    path = f"/ballots/{ballot.id}/vote"
    assert api.post(path, factories.token(member), json={"choices": [0]}).status_code == 201
    assert api.delete(f"/members/{member.id}", organiser_token).status_code == 204
    token = _rejoin(api, organiser_token, "member@example.org")
    assert_error(api.post(path, token, json={"choices": [1]}), 409)
    assert count(BallotPaper) == 1


def test_the_record_of_who_voted_keeps_no_address_or_id_once_they_leave(
    api, organiser_token, member
):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    api.post(f"/ballots/{ballot.id}/vote", factories.token(member), json={"choices": [0]})
    gone = str(member.id)
    api.delete(f"/members/{member.id}", organiser_token)
    rows = db.session.execute(text("SELECT * FROM ballot_voter")).mappings().all()
    assert len(rows) == 1
    kept = " ".join(str(v) for k, v in rows[0].items() if k != "ballot_id")
    assert "member@example.org" not in kept and gone not in kept.split()


def test_a_freeze_date_after_the_opening_is_refused(api, organiser_token):
    late = {**MOTION, "freeze_at": "2020-01-02T00:00:00Z"}  # opens 2020-01-01
    assert_error(api.post("/ballots", organiser_token, json=late), 400, "freeze_at")
    assert count(Ballot) == 0
    coming = {
        **MOTION,
        "opens_at": factories.soon(1).isoformat(),
        "closes_at": factories.soon(3).isoformat(),
    }
    del coming["freeze_at"]
    made = api.post("/ballots", organiser_token, json=coming).get_json()
    moved = {"freeze_at": factories.soon(2).isoformat()}
    assert_error(api.patch(f"/ballots/{made['id']}", organiser_token, json=moved), 400, "freeze_at")
    db.session.expire_all()
    kept = db.session.get(Ballot, made["id"])
    assert kept.freeze_at == kept.opens_at  # the default, untouched


# --- a receipt code alone changes nothing (issue 13, finding 3) ----------------------------


def test_another_member_cannot_change_a_paper_with_its_receipt_code(client, api, member):
    ballot = factories.ballot(freeze_at=factories.soon(1), allow_change=True)
    other = factories.member()
    path = f"/ballots/{ballot.id}/vote"
    mine = api.post(path, factories.token(member), json={"choices": [0]}).get_json()
    theirs = api.post(path, factories.token(other), json={"choices": [1]}).get_json()
    stolen = {"choices": [1], "receipt_code": mine["receipt_code"]}
    assert_error(api.post(path, factories.token(other), json=stolen), 403)
    newcomer = factories.token(factories.member())  # has not voted, brings the code
    assert_error(api.post(path, newcomer, json=stolen), 403)
    assert_error(api.post(path, None, json=stolen), 401)  # the code without any log-in
    form = client.post(f"/ballots/{ballot.id}/vote", data={"choice": "1", **stolen})
    assert form.status_code in (302, 400) and count(BallotPaper) == 2
    db.session.expire_all()
    papers = dict(db.session.execute(select(BallotPaper.receipt, BallotPaper.choices)).all())
    assert papers == {mine["receipt"]: "[0]", theirs["receipt"]: "[1]"}
    # The member who cast it, logged in, still can.
    own = api.post(path, factories.token(member), json=stolen)
    assert own.status_code == 200 and own.get_json()["receipt"] == mine["receipt"]
