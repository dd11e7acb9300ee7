"""Ballot pages: the vote form for each kind, the receipt, the papers, the organiser's form."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from node.extensions import db
from node.models import Ballot, BallotPaper
from node.services.voting import ballots, votes
from tests import factories
from tests.conftest import log_in, post_form


def _code(html: str) -> str:
    found = re.search(r'<code id="receipt-code">([^<]+)</code>', html)
    assert found, html[:500]
    return found.group(1)


def test_a_member_votes_on_the_page_and_is_shown_a_receipt_once(client, member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    log_in(client, member)
    page = client.get(f"/ballots/{ballot.id}").get_data(as_text=True)
    assert "Cast my vote" in page and 'value="0"' in page
    form = {"choice": "0", "confirm": "yes"}
    answer = post_form(client, f"/ballots/{ballot.id}/vote", form, page=f"/ballots/{ballot.id}")
    assert answer.status_code == 200
    code = _code(answer.get_data(as_text=True))
    assert code.count("-") == 1
    after = client.get(f"/ballots/{ballot.id}").get_data(as_text=True)
    assert "You have voted" in after and code not in after and "Cast my vote" not in after


def test_a_ranked_ballot_takes_numbered_preferences(client, member):
    ballot = factories.ballot(
        kind="ranked", seats=1, options=["Ann", "Bob", "Cai"], freeze_at=factories.soon(1)
    )
    log_in(client, member)
    path = f"/ballots/{ballot.id}/vote"
    page = f"/ballots/{ballot.id}"
    gap = post_form(client, path, {"rank_0": "1", "rank_2": "3"}, page=page)
    assert gap.status_code == 400 and "without gaps" in gap.get_data(as_text=True)
    twice = post_form(client, path, {"rank_0": "1", "rank_1": "1"}, page=page)
    assert twice.status_code == 400
    assert db.session.scalar(select(BallotPaper.choices)) is None
    ok = post_form(client, path, {"rank_2": "1", "rank_0": "2", "confirm": "yes"}, page=page)
    assert ok.status_code == 200
    assert json.loads(db.session.scalar(select(BallotPaper.choices))) == [2, 0]


def test_a_late_joiner_sees_why_they_cannot_vote(client, group):
    ballot = factories.ballot()
    late = factories.member()
    log_in(client, late)
    page = client.get(f"/ballots/{ballot.id}").get_data(as_text=True)
    assert "freeze date" in page and "Cast my vote" not in page
    refused = post_form(client, f"/ballots/{ballot.id}/vote", {"choice": "0"}, page="/account")
    assert refused.status_code == 403


def test_the_closed_page_shows_the_result_and_members_find_their_paper(client, member):
    ballot = factories.ballot(
        kind="choose_one", options=["Park", "Library"], freeze_at=factories.soon(1)
    )
    receipt = votes.cast(ballot, member, [1])
    ballots.close(ballot, early=True)
    public = client.get(f"/ballots/{ballot.id}").get_data(as_text=True)
    assert "Result: Decided" in public and "Library" in public
    log_in(client, member)
    listed = client.get(f"/ballots/{ballot.id}/papers?receipt={receipt.receipt_code}")
    html = listed.get_data(as_text=True)
    assert receipt.receipt in html and "Library" in html
    assert receipt.receipt_code not in html  # the secret half is never shown back


def test_an_organiser_sets_up_a_ballot_with_the_form(client, organiser):
    log_in(client, organiser)
    form = {
        "question": "Who should be our delegates?",
        "kind": "ranked",
        "options": "Ann\nBob\n\nCai\n",
        "seats": "2",
        "opens_at": "2030-01-01T18:00",
        "closes_at": "2030-01-08T18:00",
        "visibility": "members",
        "tellers": [str(organiser.id)],
    }
    answer = post_form(client, "/manage/ballots/new", form)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:800]
    ballot = db.session.scalar(select(Ballot))
    assert [o.label for o in ballot.options] == ["Ann", "Bob", "Cai"]
    assert ballot.seats == 2 and ballot.visibility == "members"
    # Read in the group's time zone (London is on GMT in January).
    assert ballot.opens_at.hour == 18 and ballot.freeze_at == ballot.opens_at
    bad = post_form(
        client,
        "/manage/ballots/new",
        {**form, "closes_at": "2029-01-01T00:00"},
        page="/manage/ballots/new",
    )
    assert bad.status_code == 400 and "Must be after the opening time" in bad.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(Ballot)) == 1


def test_members_cannot_reach_the_organisers_form(client, member):
    log_in(client, member)
    assert client.get("/manage/ballots/new").status_code == 403


def test_another_members_receipt_code_changes_nothing_on_the_page(client, member):
    ballot = factories.ballot(freeze_at=factories.soon(1), allow_change=True)
    other = factories.member()
    mine = votes.cast(ballot, member, [0])
    votes.cast(ballot, other, [1])
    log_in(client, other)
    page = f"/ballots/{ballot.id}"
    form = {"choice": "1", "receipt_code": mine.receipt_code, "confirm": "yes"}
    refused = post_form(client, f"/ballots/{ballot.id}/vote", form, page=page)
    assert refused.status_code == 403
    db.session.expire_all()
    paper = db.session.get(BallotPaper, (ballot.id, mine.receipt))
    assert json.loads(paper.choices) == [0]
