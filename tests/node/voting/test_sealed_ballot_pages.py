"""Sealed ballot pages: tellers on the form, the teller's code, the box, the count, the papers."""

from __future__ import annotations

import html as html_text
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from sqlalchemy import func, select

from node.extensions import db
from node.models import Ballot, BallotTeller, BallotVoter
from node.services.voting import ballot_box, ballots, votes
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.pages_support import field_error
from tests.node.pages_support import text_of as raw_text

TRACKER_ON_PAGE = re.compile(r'<code id="tracker" class="tracker">([0-9a-f]{64})</code>')
CODE_ON_PAGE = re.compile(r'<code id="teller-code">([^<]+)</code>')


def text_of(response) -> str:
    return html_text.unescape(raw_text(response))


def _as(app, who):
    """A new browser, logged in as ``who``."""
    browser = app.test_client()
    log_in(browser, who)
    return browser


def _form(picked, **changes) -> dict:
    now = datetime.now(UTC)
    form = {
        "question": "Who should be our delegates?",
        "kind": "choose_one",
        "options": "Ann\nBob\n",
        "opens_at": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": (now + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M"),
        "visibility": "members",
        "tellers": [str(t.id) for t in picked],
    }
    form.update(changes)
    return form


def _ballots() -> int:
    return db.session.scalar(select(func.count()).select_from(Ballot))


def _undealt(tellers, k=None, **fields) -> Ballot:
    """A sealed ballot whose opening time has come but whose tellers have not all kept codes."""
    now = datetime.now(UTC)
    data = {
        "question": "Adopt the plan?",
        "kind": "yes_no",
        "opens_at": now - timedelta(minutes=5),
        "closes_at": now + timedelta(days=2),
        "tellers": [t.id for t in tellers],
        "tellers_needed": k,
        **fields,
    }
    return ballots.create(data, None)


def _sealed(tellers=None, **fields) -> Ballot:
    return factories.ballot(sealed=True, tellers=tellers, freeze_at=factories.soon(1), **fields)


def _vote(client, ballot, data) -> str:
    page = f"/ballots/{ballot.id}"
    answer = post_form(client, f"/ballots/{ballot.id}/vote", {**data, "confirm": "yes"}, page=page)
    assert answer.status_code == 200, text_of(answer)[:800]
    assert answer.headers["Cache-Control"] == "no-store"
    return TRACKER_ON_PAGE.search(text_of(answer)).group(1)


# --- the organiser's form ------------------------------------------------------------------


def test_the_form_names_tellers_and_defaults_to_two_of_three(client, organiser):
    tellers = [factories.member(display_name=n) for n in ("Ann", "Bob", "Cai")]
    log_in(client, organiser)
    page = text_of(client.get("/manage/ballots/new"))
    assert 'name="tellers"' in page and 'name="tellers_needed"' in page
    answer = post_form(client, "/manage/ballots/new", _form(tellers))
    assert answer.status_code == 302, text_of(answer)[:800]
    ballot = db.session.scalar(select(Ballot))
    assert ballot.sealed and ballot.tellers_needed == 2
    assert [t.display_name for t in ballot.tellers] == ["Ann", "Bob", "Cai"]
    shown = text_of(client.get(f"/ballots/{ballot.id}"))
    assert "Ann, Bob, Cai: 2 of 3 must act together" in shown
    assert "Waiting for the tellers to keep their codes: 0 of 3 have." in shown


def test_the_form_refuses_no_tellers_or_an_impossible_k_and_sets_up_nothing(client, organiser):
    tellers = [factories.member() for _ in range(3)]
    log_in(client, organiser)
    for changes, field in (
        ({"tellers": []}, "tellers"),
        ({"tellers_needed": "4"}, "tellers_needed"),
        ({"tellers_needed": "0"}, "tellers_needed"),
        ({"tellers_needed": "two"}, "tellers_needed"),
        ({"tellers": ["x"]}, "tellers"),
        ({"tellers": [str(tellers[0].id), str(tellers[0].id)]}, "tellers"),
        ({"tellers": ["999999"]}, "tellers"),
    ):
        answer = post_form(
            client, "/manage/ballots/new", _form(tellers, **changes), page="/manage/ballots/new"
        )
        html = text_of(answer)
        assert answer.status_code == 400, (changes, html[:500])
        assert f'href="#f-{field}"' in html, changes
        assert _ballots() == 0


def test_a_one_of_one_ballot_warns_that_one_teller_can_read_every_paper(app, client, organiser):
    teller = factories.member(display_name="Dee")
    log_in(client, organiser)
    answer = post_form(client, "/manage/ballots/new", _form([teller]))
    assert answer.status_code == 302
    told = text_of(client.get(answer.headers["Location"]))
    assert "Warning: one teller alone can open the papers" in told
    ballot = db.session.scalar(select(Ballot))
    assert ballot.tellers_needed == 1
    page = text_of(_as(app, factories.member()).get(f"/ballots/{ballot.id}"))
    assert "a single teller, who alone can read every paper" in page


def test_two_of_three_shows_no_single_teller_warning(client, member):
    ballot = _sealed()
    log_in(client, member)
    assert "alone can read every paper" not in text_of(client.get(f"/ballots/{ballot.id}"))


# --- the teller's code ---------------------------------------------------------------------


def test_tellers_take_their_codes_once_and_confirm_them_and_the_key_is_dealt(
    app, client, organiser
):
    tellers = [factories.member(display_name=n) for n in ("Ann", "Bob", "Cai")]
    ballot = _undealt(tellers)
    log_in(client, organiser)
    status = text_of(client.get(f"/ballots/{ballot.id}"))
    assert "Who has kept their code" in status and status.count("Not yet") == 3
    for n, teller in enumerate(tellers, start=1):
        client = _as(app, teller)
        page = client.get(f"/ballots/{ballot.id}/teller")
        assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
        assert "Show me my code" in text_of(page)
        taken = post_form(
            client, f"/ballots/{ballot.id}/teller/code", page=f"/ballots/{ballot.id}/teller"
        )
        assert taken.status_code == 200 and taken.headers["Cache-Control"] == "no-store"
        html = text_of(taken)
        code = CODE_ON_PAGE.search(html).group(1)
        assert code.startswith("BLT1-")
        download = re.search(r'href="(data:text/plain[^"]+)" download="([^"]+)"', html)
        assert download and download.group(2).endswith(".txt")
        saved = unquote(download.group(1))
        assert code in saved and ballot.question in saved and "Teller code" in saved
        again = text_of(client.get(f"/ballots/{ballot.id}/teller"))
        assert code not in again  # shown once
        wrong = post_form(
            client,
            f"/ballots/{ballot.id}/teller/confirm",
            {"code": code[:-2] + ("AA" if not code.endswith("AA") else "BB")},
            page=f"/ballots/{ballot.id}/teller",
        )
        assert wrong.status_code == 400 and field_error(text_of(wrong), "code")
        assert wrong.headers["Cache-Control"] == "no-store"
        db.session.expire_all()
        assert db.session.get(BallotTeller, ballot.tellers[n - 1].id).confirmed_at is None
        kept = post_form(
            client,
            f"/ballots/{ballot.id}/teller/confirm",
            {"code": code},
            page=f"/ballots/{ballot.id}/teller",
        )
        assert kept.status_code == 302
        after = text_of(client.get(kept.headers["Location"]))
        assert "you have kept your code" in after
    db.session.expire_all()
    assert db.session.get(Ballot, ballot.id).public_key
    status = text_of(_as(app, organiser).get(f"/ballots/{ballot.id}"))
    assert "Not yet" not in status and "Open for voting" in status


def test_a_code_is_refused_to_a_member_who_is_not_a_teller(client, member):
    ballot = _undealt([factories.member() for _ in range(3)])
    log_in(client, member)
    page = client.get(f"/ballots/{ballot.id}/teller")
    assert page.status_code == 403 and "Only this ballot's tellers" in text_of(page)
    taken = post_form(client, f"/ballots/{ballot.id}/teller/code", page=f"/ballots/{ballot.id}")
    assert taken.status_code == 403 and "BLT1-" not in text_of(taken)
    assert taken.headers["Cache-Control"] == "no-store"
    confirm = post_form(
        client, f"/ballots/{ballot.id}/teller/confirm", {"code": "BLT1-X"}, page="/account"
    )
    assert confirm.status_code == 403 and "Show me my code" not in text_of(confirm)
    db.session.expire_all()
    assert all(t.teller_key is None for t in db.session.get(Ballot, ballot.id).tellers)


def test_a_code_cannot_be_taken_once_the_key_is_dealt(client):
    tellers = [factories.member() for _ in range(3)]
    ballot = _sealed(tellers)
    key = db.session.get(BallotTeller, ballot.tellers[0].id).teller_key
    log_in(client, tellers[0])
    page = text_of(client.get(f"/ballots/{ballot.id}/teller"))
    assert "Show me my code" not in page and "Take a new code" not in page
    taken = post_form(client, f"/ballots/{ballot.id}/teller/code", page=f"/ballots/{ballot.id}")
    assert taken.status_code == 409 and "BLT1-" not in text_of(taken)
    db.session.expire_all()
    assert db.session.get(BallotTeller, ballot.tellers[0].id).teller_key == key


def test_a_legacy_ballot_has_no_teller_count_or_box_pages(client, member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    log_in(client, member)
    for path in ("teller", "count", "box"):
        assert client.get(f"/ballots/{ballot.id}/{path}").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client):
    ballot = _sealed()
    for path in ("teller", "count", "box"):
        answer = client.get(f"/ballots/{ballot.id}/{path}")
        assert answer.status_code == 302 and "/login" in answer.headers["Location"]


# --- voting and the ballot box -------------------------------------------------------------


def test_voting_waits_until_the_tellers_have_kept_their_codes(client, member):
    ballot = _undealt([factories.member() for _ in range(3)])
    log_in(client, member)
    page = text_of(client.get(f"/ballots/{ballot.id}"))
    assert "This ballot cannot open until its tellers have kept their codes." in page
    assert "Cast my vote" not in page
    refused = post_form(
        client, f"/ballots/{ballot.id}/vote", {"choice": "0"}, page=f"/ballots/{ballot.id}"
    )
    assert refused.status_code == 409
    assert "cannot open until its tellers have kept their codes" in text_of(refused)
    assert db.session.scalar(select(func.count()).select_from(BallotVoter)) == 0


def test_a_member_votes_is_shown_a_tracker_and_finds_it_in_the_box(client, member):
    ballot = _sealed()
    log_in(client, member)
    tracker = _vote(client, ballot, {"choice": "1"})
    others = [factories.member() for _ in range(3)]
    for other in others:
        votes.cast(ballot, other, [0])
    box = client.get(f"/ballots/{ballot.id}/box")
    html = text_of(box)
    assert box.status_code == 200 and "4 papers in the box" in html
    listed = re.findall(r'<code class="tracker">([0-9a-f]{64})</code>', html)
    assert tracker in listed and listed == sorted(listed)
    found = client.get(f"/ballots/{ballot.id}/box?tracker={tracker.upper()}")
    assert found.status_code == 200 and "Your tracker is in the ballot box" in text_of(found)
    missing = client.get(f"/ballots/{ballot.id}/box?tracker={'0' * 64}")
    assert missing.status_code == 404 and "No paper in this ballot box has that tracker" in text_of(
        missing
    )
    bad = client.get(f"/ballots/{ballot.id}/box?tracker=not-a-tracker")
    assert bad.status_code == 400 and "64 characters" in text_of(bad)


def test_the_ballot_box_is_paged(client, member, monkeypatch):
    from node.views.ballots import sealed

    monkeypatch.setattr(sealed, "TRACKERS_PER_PAGE", 2)
    ballot = _sealed()
    for _ in range(5):
        votes.cast(ballot, factories.member(), [0])
    log_in(client, member)
    first = text_of(client.get(f"/ballots/{ballot.id}/box"))
    third = text_of(client.get(f"/ballots/{ballot.id}/box?page=3"))
    assert "Page 1 of 3" in first and first.count('<code class="tracker">') == 2
    assert third.count('<code class="tracker">') == 1


def test_a_changed_vote_replaces_the_paper_without_a_code(client, member):
    ballot = _sealed(allow_change=True)
    log_in(client, member)
    first = _vote(client, ballot, {"choice": "0"})
    page = text_of(client.get(f"/ballots/{ballot.id}"))
    assert "your new paper replaces the old one" in page and "receipt_code" not in page
    form = {"choice": "1", "confirm": "yes"}
    answer = post_form(client, f"/ballots/{ballot.id}/vote", form, page=f"/ballots/{ballot.id}")
    html = text_of(answer)
    assert answer.status_code == 200 and "Your vote is changed" in html
    second = TRACKER_ON_PAGE.search(html).group(1)
    assert second != first
    assert ballot_box.trackers(ballot).items == [second]


def test_a_second_paper_is_refused_without_allow_change(client, member):
    ballot = _sealed()
    log_in(client, member)
    tracker = _vote(client, ballot, {"choice": "0"})
    assert "You have voted" in text_of(client.get(f"/ballots/{ballot.id}"))
    refused = post_form(
        client, f"/ballots/{ballot.id}/vote", {"choice": "1"}, page=f"/ballots/{ballot.id}/box"
    )
    assert refused.status_code == 409 and "can't be changed" in text_of(refused)
    assert ballot_box.trackers(ballot).items == [tracker]


# --- the count -----------------------------------------------------------------------------


def _closed_with_votes(tellers, chosen=((0,), (0,), (1,))):
    ballot = _sealed(tellers, kind="choose_one", options=["Park", "Library"])
    for choices in chosen:
        votes.cast(ballot, factories.member(), list(choices))
    ballots.close(ballot, early=True)
    return ballot


def _give(client, ballot, code):
    return post_form(client, f"/ballots/{ballot.id}/count", {"code": code}, page="/account")


def test_a_share_before_the_close_is_refused(client):
    tellers = [factories.member() for _ in range(3)]
    ballot = _sealed(tellers)
    log_in(client, tellers[0])
    page = client.get(f"/ballots/{ballot.id}/count")
    assert "Shares are given after the ballot closes" in text_of(page)
    assert page.headers["Cache-Control"] == "no-store"
    refused = _give(client, ballot, ballot.teller_codes[tellers[0].id])
    assert refused.status_code == 409 and "after the ballot closes" in text_of(refused)
    assert refused.headers["Cache-Control"] == "no-store"
    db.session.expire_all()
    assert all(t.submitted_at is None for t in db.session.get(Ballot, ballot.id).tellers)


def test_two_tellers_give_their_shares_and_the_result_appears(app, client, member):
    tellers = [factories.member() for _ in range(3)]
    ballot = _closed_with_votes(tellers)
    codes = ballot.teller_codes
    log_in(client, member)
    page = text_of(client.get(f"/ballots/{ballot.id}"))
    assert "Counting: waiting for 2 more tellers to give their share" in page
    assert "Result" not in page
    closed = client.post(f"/ballots/{ballot.id}/vote", data={"choice": "0"})
    assert closed.status_code in (400, 409)  # no token: refused before anything is read
    late = post_form(
        client, f"/ballots/{ballot.id}/vote", {"choice": "0"}, page=f"/ballots/{ballot.id}/box"
    )
    assert late.status_code == 409 and "This ballot has closed." in text_of(late)
    papers = client.get(f"/ballots/{ballot.id}/papers")
    assert papers.status_code == 302  # not counted yet
    not_teller = _give(client, ballot, codes[tellers[0].id])
    assert not_teller.status_code == 403 and "Only this ballot's tellers" in text_of(not_teller)

    client = _as(app, tellers[0])
    wrong = _give(client, ballot, codes[tellers[1].id])  # another teller's code
    assert wrong.status_code == 400 and field_error(text_of(wrong), "code")
    garbage = _give(client, ballot, "BLT1-NOTACODE")
    assert garbage.status_code == 400
    given = _give(client, ballot, codes[tellers[0].id])
    assert given.status_code == 302
    assert "needs 1 more teller" in text_of(client.get(given.headers["Location"]))
    again = _give(client, ballot, codes[tellers[0].id])
    assert again.status_code == 409 and "already given your share" in text_of(again)
    db.session.expire_all()
    assert db.session.get(Ballot, ballot.id).counted_at is None

    client = _as(app, tellers[2])
    last = _give(client, ballot, codes[tellers[2].id])
    assert last.status_code == 302 and last.headers["Location"].endswith("#result")
    result = text_of(client.get(f"/ballots/{ballot.id}"))
    assert "Result: Decided" in result and "3 sealed papers opened" in result
    assert "Closed and counted" in result
    db.session.expire_all()
    assert all(t.submitted_share is None for t in db.session.get(Ballot, ballot.id).tellers)
    after = _give(client, ballot, codes[tellers[1].id])
    assert after.status_code == 409


def test_the_papers_page_shows_opened_papers_shuffled_with_spoilt_ones_and_no_trackers(
    client, member
):
    tellers = [factories.member() for _ in range(3)]
    ballot = _sealed(tellers, kind="choose_one", options=["Park", "Library"])
    trackers = [votes.cast(ballot, factories.member(), [1]).tracker for _ in range(2)]
    # A paper sealed straight to the ballot's key, naming an option that does not exist.
    spoiler = factories.member()
    voter = votes.voter_hash(ballot.id, spoiler.email)
    trackers.append(ballot_box.put_paper(ballot, voter, spoiler.id, [7], change=False))
    db.session.commit()
    ballots.close(ballot, early=True)
    from node.services.voting import ballot_tellers

    ballot_tellers.count_with_codes(ballot, list(ballot.teller_codes.values())[:2])
    log_in(client, member)
    page = client.get(f"/ballots/{ballot.id}/papers")
    html = text_of(page)
    assert page.status_code == 200
    assert html.count("Library") >= 2 and html.count(">Spoilt<") == 1
    assert not any(t in html for t in trackers)
    shown = text_of(client.get(f"/ballots/{ballot.id}"))
    assert "of which 1 spoilt" in shown
    box = text_of(client.get(f"/ballots/{ballot.id}/box?tracker={trackers[0]}"))
    assert "and its paper was counted" in box
    # After the challenge period the sealed papers go; trackers and opened papers stay.
    ballot_box.erase_due(datetime.now(UTC) + timedelta(days=ballot_box.challenge_days() + 1))
    shown = text_of(client.get(f"/ballots/{ballot.id}"))
    assert "The sealed papers were erased" in shown
    assert client.get(f"/ballots/{ballot.id}/box?tracker={trackers[2]}").status_code == 200
    assert text_of(client.get(f"/ballots/{ballot.id}/papers")).count(">Spoilt<") == 1
