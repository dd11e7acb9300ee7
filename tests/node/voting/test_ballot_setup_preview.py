"""Setting a ballot up: the form says how many members may vote, and warns of an opening in
the past or a freeze date that shuts members out before anything is set up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from node.extensions import db
from node.models import Ballot
from node.services.voting import ballots
from tests import factories
from tests.conftest import log_in, post_form

LONG_AGO = datetime(2020, 3, 1, 12, 0, tzinfo=UTC)


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def _form(organiser, **changes) -> dict:
    now = datetime.now(UTC)
    form = {
        "question": "Adopt the plan?",
        "kind": "yes_no",
        "opens_at": _at(now + timedelta(days=1)),
        "closes_at": _at(now + timedelta(days=8)),
        "visibility": "members",
        "tellers": [str(organiser.id)],
    }
    form.update(changes)
    return form


def _ballots() -> int:
    return db.session.scalar(select(func.count()).select_from(Ballot))


def test_the_empty_form_says_how_many_members_there_are(client, organiser):
    factories.member()
    log_in(client, organiser)
    html = client.get("/manage/ballots/new").get_data(as_text=True)
    assert "The group has 2 active members today" in html
    assert "Check who can vote" in html


def test_checking_shows_how_many_will_be_eligible_and_sets_nothing_up(client, organiser):
    factories.member()
    log_in(client, organiser)
    answer = post_form(client, "/manage/ballots/new", {**_form(organiser), "preview": "1"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "2 of 2 members</strong> will be eligible" in html
    assert 'value="Adopt the plan?"' in html  # what was typed is kept
    assert _ballots() == 0


def test_a_freeze_date_that_shuts_members_out_is_warned_about(client, organiser):
    factories.member(joined_at=LONG_AGO)
    factories.member()
    log_in(client, organiser)
    form = _form(organiser, freeze_at="2021-01-01T00:00")
    warned = post_form(client, "/manage/ballots/new", form)
    html = warned.get_data(as_text=True)
    assert warned.status_code == 200 and _ballots() == 0
    assert "1 of 3 members</strong> will be eligible" in html
    assert "Only 1 of the 3 members joined by the freeze date" in html
    assert "2 members could not vote" in html
    accepted = post_form(
        client, "/manage/ballots/new", {**form, "accept_warnings": "1"}, page="/manage/ballots/new"
    )
    assert accepted.status_code == 302 and _ballots() == 1


def test_an_opening_in_the_past_is_warned_about(client, organiser):
    log_in(client, organiser)
    now = datetime.now(UTC)
    form = _form(organiser, opens_at=_at(now - timedelta(days=2)))
    warned = post_form(client, "/manage/ballots/new", form).get_data(as_text=True)
    assert "Voting opens in the past" in warned and _ballots() == 0
    # The freeze date defaults to that opening, before the organiser joined: nobody is left.
    assert "Nobody could vote" in warned


def test_a_ballot_without_surprises_is_set_up_at_once(client, organiser):
    log_in(client, organiser)
    answer = post_form(client, "/manage/ballots/new", _form(organiser))
    assert answer.status_code == 302 and _ballots() == 1


def test_errors_come_before_the_preview(client, organiser):
    log_in(client, organiser)
    now = datetime.now(UTC)
    form = {**_form(organiser, closes_at=_at(now - timedelta(days=1))), "preview": "1"}
    refused = post_form(client, "/manage/ballots/new", form)
    assert refused.status_code == 400
    assert "Must be after the opening time" in refused.get_data(as_text=True)


def test_the_preview_counts_active_members_who_joined_by_the_freeze(app, group):
    factories.member(joined_at=LONG_AGO)
    factories.member(joined_at=LONG_AGO, status="suspended")
    factories.member()
    now = datetime.now(UTC)
    seen = ballots.preview(
        {
            "kind": "yes_no",
            "opens_at": now + timedelta(days=1),
            "closes_at": now + timedelta(days=2),
            "freeze_at": datetime(2021, 1, 1, tzinfo=UTC),
        },
        now=now,
    )
    assert (seen.eligible, seen.members) == (1, 2)
    assert len(seen.warnings) == 1
