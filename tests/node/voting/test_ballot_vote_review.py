"""The vote form: an empty paper is refused, a vote is reviewed before it is cast, and a
form shown again keeps what was chosen; closing early asks first."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from node.extensions import db
from node.models import Ballot, BallotPaper, BallotVoter
from node.services.voting import ballots, votes
from tests import factories
from tests.conftest import log_in, post_form


def _papers() -> int:
    return db.session.scalar(select(func.count()).select_from(BallotPaper)) or 0


def _vote(client, ballot, form):
    return post_form(client, f"/ballots/{ballot.id}/vote", form, page=f"/ballots/{ballot.id}")


def test_an_empty_yes_no_paper_is_refused_in_the_form(client, member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    log_in(client, member)
    refused = _vote(client, ballot, {"confirm": "yes"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "Choose Yes, No or Abstain before casting your vote" in html
    assert 'id="f-choices"' in html and "Cast my vote" in html  # the form, shown again
    assert _papers() == 0


def test_a_ranked_paper_with_every_rank_blank_is_refused(client, member):
    ballot = factories.ballot(kind="ranked", options=["Ann", "Bob"], freeze_at=factories.soon(1))
    log_in(client, member)
    refused = _vote(client, ballot, {"rank_0": "", "rank_1": "", "confirm": "yes"})
    assert refused.status_code == 400
    assert "nothing is chosen" in refused.get_data(as_text=True)
    assert _papers() == 0


def test_abstaining_is_a_deliberate_box_and_is_reviewed_first(client, member):
    ballot = factories.ballot(
        kind="choose_one", options=["Park", "Library"], freeze_at=factories.soon(1)
    )
    log_in(client, member)
    both = _vote(client, ballot, {"choice": "0", "abstain": "yes"})
    assert both.status_code == 400 and "Either choose or abstain" in both.get_data(as_text=True)
    review = _vote(client, ballot, {"abstain": "yes"})
    html = review.get_data(as_text=True)
    assert review.status_code == 200 and "You are voting:" in html and "Abstain" in html
    assert '<input type="hidden" name="abstain" value="yes">' in html
    assert _papers() == 0  # the review casts nothing
    cast = _vote(client, ballot, {"abstain": "yes", "confirm": "yes"})
    assert cast.status_code == 200 and "Your vote is in" in cast.get_data(as_text=True)
    assert json.loads(db.session.scalar(select(BallotPaper.choices))) == []


def test_the_review_names_the_choice_and_says_it_cannot_be_changed(client, member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    log_in(client, member)
    review = _vote(client, ballot, {"choice": "1"})
    html = review.get_data(as_text=True)
    assert review.status_code == 200
    assert re.search(r'id="review-choice">\s*<li><strong>No</strong>', html)
    assert "Your vote cannot be changed once cast" in html
    assert '<input type="hidden" name="choice" value="1">' in html
    assert review.headers["Cache-Control"] == "no-store"
    assert _papers() == 0 and db.session.scalar(select(func.count(BallotVoter.voter))) == 0
    back = _vote(client, ballot, {"choice": "1", "back": "1"})
    again = back.get_data(as_text=True)
    assert back.status_code == 200 and 'value="1" checked' in again and _papers() == 0


def test_a_changeable_vote_is_reviewed_without_the_warning(client, member):
    ballot = factories.ballot(freeze_at=factories.soon(1), allow_change=True)
    log_in(client, member)
    html = _vote(client, ballot, {"choice": "0"}).get_data(as_text=True)
    assert "You can change your vote until the ballot closes" in html
    assert "cannot be changed" not in html


def test_a_second_vote_is_refused_before_the_review(client, member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    votes.cast(ballot, member, [0])
    log_in(client, member)
    refused = _vote(client, ballot, {"choice": "1"})
    assert refused.status_code == 409 and "You are voting" not in refused.get_data(as_text=True)


def test_a_ranking_error_keeps_the_ranks_chosen(client, member):
    ballot = factories.ballot(
        kind="ranked", options=["Ann", "Bob", "Cai"], freeze_at=factories.soon(1)
    )
    log_in(client, member)
    twice = _vote(client, ballot, {"rank_0": "1", "rank_1": "1", "rank_2": "2"})
    html = twice.get_data(as_text=True)
    assert twice.status_code == 400 and "one candidate only" in html

    def picked(position: int) -> list[str]:
        select_html = re.search(rf'name="rank_{position}">(.*?)</select>', html, re.S).group(1)
        return re.findall(r'<option value="(\d+)" selected>', select_html)

    assert (picked(0), picked(1), picked(2)) == (["1"], ["1"], ["2"])
    gap = _vote(client, ballot, {"rank_0": "1", "rank_2": "3"}).get_data(as_text=True)
    assert "without gaps" in gap and '<option value="3" selected>' in gap


def test_a_choice_error_keeps_the_boxes_ticked(client, member):
    ballot = factories.ballot(
        kind="choose_many", seats=1, options=["A", "B", "C"], freeze_at=factories.soon(1)
    )
    log_in(client, member)
    for form in ({"choice": ["0", "2"]}, {"choice": ["0", "2"], "confirm": "yes"}):
        refused = _vote(client, ballot, form)
        html = refused.get_data(as_text=True)
        assert refused.status_code == 400 and "Choose at most 1" in html
        assert 'value="0" checked' in html and 'value="2" checked' in html
        assert 'value="1" checked' not in html
    assert _papers() == 0


# --- closing early asks first ----------------------------------------------------------


def test_close_now_asks_first_and_says_who_is_told(client, organiser):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    votes.cast(ballot, organiser, [0])
    log_in(client, organiser)
    page = client.get(f"/ballots/{ballot.id}").get_data(as_text=True)
    assert f'action="/manage/ballots/{ballot.id}/close"' not in page  # no one-click close
    assert f'href="/manage/ballots/{ballot.id}/close"' in page
    asked = client.get(f"/manage/ballots/{ballot.id}/close")
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Close and count now?" in html
    assert "cannot be undone" in html and "Nobody is e-mailed" in html
    assert re.search(r"1 of \d+ eligible members has voted", html)
    unconfirmed = post_form(client, f"/manage/ballots/{ballot.id}/close", {})
    assert unconfirmed.status_code == 200 and "Close and count now?" in unconfirmed.get_data(
        as_text=True
    )
    db.session.expire_all()
    assert db.session.get(Ballot, ballot.id).closed_at is None
    done = post_form(client, f"/manage/ballots/{ballot.id}/close", {"confirm": "yes"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Ballot, ballot.id).closed_at is not None


def test_members_cannot_reach_the_close_page(client, member):
    ballot = factories.ballot()
    log_in(client, member)
    assert client.get(f"/manage/ballots/{ballot.id}/close").status_code == 403


def test_a_closed_ballot_has_nothing_to_confirm(client, organiser):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    ballots.close(ballot, early=True)
    log_in(client, organiser)
    answer = client.get(f"/manage/ballots/{ballot.id}/close")
    assert answer.status_code == 302
