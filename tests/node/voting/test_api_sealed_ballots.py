"""Sealed ballots over the JSON API: tellers take codes, members vote, tellers count."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy import select

from node.extensions import db
from node.models import Ballot, BallotTeller, BallotVoter, FeedEntry
from tests import factories
from tests.node.api_support import assert_error, count

MOTION = {
    "question": "Should we twin with Leeds Central?",
    "kind": "yes_no",
    "opens_at": "2020-01-01T18:00:00Z",
    "closes_at": "2039-01-08T18:00:00Z",
    "freeze_at": "2019-12-31T00:00:00Z",
}


def _on_roll(n: int):
    people = [factories.member(joined_at=datetime(2019, 6, 1, tzinfo=UTC)) for _ in range(n)]
    return people, [factories.token(p) for p in people]


def test_tellers_deal_members_vote_and_two_tellers_count(api, organiser_token, group):
    tellers, teller_tokens = _on_roll(3)
    voters, voter_tokens = _on_roll(3)
    made = api.post(
        "/ballots",
        organiser_token,
        json={**MOTION, "tellers": [t.id for t in tellers], "tellers_needed": 2},
    )
    assert made.status_code == 201, made.get_json()
    ballot = made.get_json()
    one = f"/ballots/{ballot['id']}"
    assert ballot["sealed"] is True and ballot["state"] == "waiting_for_tellers"
    assert ballot["tellers_needed"] == 2 and ballot["public_key_fingerprint"] is None
    assert [(t["name"], t["kept_code"]) for t in ballot["tellers"]] == [
        (t.display_name, False) for t in tellers
    ]
    refused = api.post(f"{one}/vote", voter_tokens[0], json={"choices": [0]})
    assert "tellers have kept their codes" in assert_error(refused, 409)["error"]
    assert_error(api.post(f"{one}/teller-code", voter_tokens[0]), 403)
    codes = []
    for token in teller_tokens:
        taken = api.post(f"{one}/teller-code", token)
        assert taken.status_code == 201 and "no-store" in taken.headers["Cache-Control"]
        codes.append(taken.get_json()["code"])
    bad = api.post(f"{one}/teller-code/confirm", teller_tokens[0], json={"code": codes[1]})
    assert_error(bad, 400, "code")
    for token, code in zip(teller_tokens, codes, strict=True):
        kept = api.post(f"{one}/teller-code/confirm", token, json={"code": code})
        assert kept.status_code == 200, kept.get_json()
    ballot = kept.get_json()
    assert ballot["state"] == "open" and ballot["public_key_fingerprint"]
    assert_error(api.post(f"{one}/teller-code", teller_tokens[0]), 409)

    trackers = []
    for token, choice in zip(voter_tokens, [0, 0, 1], strict=True):
        cast = api.post(f"{one}/vote", token, json={"choices": [choice]})
        assert cast.status_code == 201
        receipt = cast.get_json()
        assert receipt["receipt_code"] is None and receipt["tracker"] == receipt["receipt"]
        trackers.append(receipt["tracker"])
    assert_error(api.post(f"{one}/vote", voter_tokens[0], json={"choices": [1]}), 409)
    box = api.get(f"{one}/trackers", voter_tokens[0]).get_json()
    assert [i["tracker"] for i in box["items"]] == sorted(trackers) and box["total"] == 3
    found = api.get(f"{one}/trackers?tracker={trackers[1]}", voter_tokens[0]).get_json()
    assert found["items"] == [{"tracker": trackers[1]}]
    assert_error(api.get(f"{one}/trackers?tracker={'0' * 64}", voter_tokens[0]), 404)
    assert_error(api.post(f"{one}/shares", teller_tokens[0], json={"code": codes[0]}), 409)

    closed = api.post(f"{one}/close", organiser_token)
    assert closed.status_code == 202 and closed.get_json()["state"] == "counting"
    assert api.get(one, voter_tokens[0]).get_json()["state"] == "counting"
    assert_error(api.get(f"{one}/result", voter_tokens[0]), 403)
    assert_error(api.get(f"{one}/papers", voter_tokens[0]), 403)
    assert_error(api.post(f"{one}/shares", voter_tokens[0], json={"code": codes[0]}), 403)
    wrong = api.post(f"{one}/shares", teller_tokens[0], json={"code": codes[2]})
    assert_error(wrong, 400, "code")
    assert_error(api.post(f"{one}/shares", teller_tokens[0], json={}), 400, "code")
    given = api.post(f"{one}/shares", teller_tokens[0], json={"code": codes[0]})
    assert given.status_code == 200 and given.get_json()["state"] == "counting"
    assert_error(api.post(f"{one}/shares", teller_tokens[0], json={"code": codes[0]}), 409)
    counted = api.post(f"{one}/shares", teller_tokens[2], json={"code": codes[2]})
    assert counted.status_code == 200 and counted.get_json()["state"] == "closed"
    assert [t["gave_share"] for t in counted.get_json()["tellers"]] == [True, False, True]

    result = api.get(f"{one}/result", voter_tokens[0]).get_json()
    assert result["votes"][:2] == [2, 1] and result["outcome"] == "passed"
    assert result["sealed_count"] == 3 and result["spoilt_count"] == 0
    papers = api.get(f"{one}/papers", voter_tokens[0]).get_json()
    assert sorted(p["choices"] for p in papers["items"]) == [[0], [0], [1]]
    assert all(set(p) == {"position", "choices", "spoilt"} for p in papers["items"])

    entry = json.loads(
        db.session.scalar(select(FeedEntry.body).order_by(FeedEntry.seq.desc()).limit(1))
    )
    question = entry["object"]
    names = "".join(f"{t.display_name}\n" for t in tellers).encode()
    assert question["tellersCount"] == 3 and question["tellersNeeded"] == 2
    assert question["tellersHash"] == hashlib.sha256(names).hexdigest()
    assert question["sealedCount"] == 3 and question["spoiltCount"] == 0
    assert question["trackerListHash"] == result["tracker_list_hash"]
    assert question["openedPapersHash"] == result["opened_papers_hash"]
    lines = "".join(f"{t}\n" for t in sorted(trackers)).encode()
    assert question["trackerListHash"] == hashlib.sha256(lines).hexdigest()
    for name in ("tellersCount", "tellersHash", "trackerListHash", "openedPapersHash"):
        assert name in entry["@context"][-1]
    for person in tellers:
        assert person.display_name not in json.dumps(question)


def test_bad_teller_lists_are_refused_with_the_field_at_fault(api, organiser_token, group):
    people, _ = _on_roll(3)
    suspended = factories.member(status="suspended")
    ids = [p.id for p in people]
    cases = [
        ({**MOTION, "tellers": [ids[0], ids[0]]}, "tellers"),
        ({**MOTION, "tellers": ids, "tellers_needed": 4}, "tellers_needed"),
        ({**MOTION, "tellers": ids, "tellers_needed": 0}, "tellers_needed"),
        ({**MOTION, "tellers": [ids[0], suspended.id]}, "tellers"),
        ({**MOTION, "tellers": [ids[0], 99_999]}, "tellers"),
        ({**MOTION, "tellers": list(range(1, 11))}, "tellers"),
        ({**MOTION, "tellers": ["Ann"]}, "tellers"),
        ({**MOTION, "tellers_needed": 2}, "tellers"),
    ]
    for payload, field in cases:
        assert_error(api.post("/ballots", organiser_token, json=payload), 400, field)
    assert count(Ballot) == 0 and count(BallotTeller) == 0


def test_an_organiser_changes_the_tellers_until_the_key_is_dealt(api, organiser_token, group):
    people, tokens = _on_roll(3)
    made = api.post("/ballots", organiser_token, json={**MOTION, "tellers": [people[0].id]})
    one = f"/ballots/{made.get_json()['id']}"
    assert made.get_json()["tellers_needed"] == 1
    changed = api.patch(one, organiser_token, json={"tellers": [p.id for p in people]})
    assert changed.status_code == 200, changed.get_json()
    assert len(changed.get_json()["tellers"]) == 3 and changed.get_json()["tellers_needed"] == 2
    for token in tokens:
        code = api.post(f"{one}/teller-code", token).get_json()["code"]
        api.post(f"{one}/teller-code/confirm", token, json={"code": code})
    assert_error(api.patch(one, organiser_token, json={"tellers": [people[0].id]}), 409)
    assert count(BallotTeller) == 3


def test_the_public_sees_neither_tellers_nor_trackers(api, group):
    ballot = factories.ballot(sealed=True, freeze_at=factories.soon(1))
    ballots_path = f"/ballots/{ballot.id}"
    assert_error(api.get(ballots_path), 404)  # not counted: hidden from the public
    assert_error(api.get(f"{ballots_path}/trackers"), 401)
    member, token = _on_roll(1)
    listed = api.get(ballots_path, token[0]).get_json()
    assert len(listed["tellers"]) == 3
    assert count(BallotVoter) == 0
