"""Recurring events: the rule, its dates as events of their own, skips, the horizon, pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import Event, EventSeries, FeedEntry, OutboundMail, Rsvp, SeriesException
from node.services.errors import Conflict, Invalid
from node.services.organising import events, series
from node.worker import Worker
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.pages_support import field_error

LONDON = ZoneInfo("Europe/London")


def _saturday(weeks: int = 1) -> datetime:
    """A Saturday 10:00 London time, ``weeks`` weeks from now (always in the future)."""
    today = datetime.now(LONDON).date()
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 + 7 * weeks)
    return datetime(saturday.year, saturday.month, saturday.day, 10, tzinfo=LONDON).astimezone(UTC)


def _stall(**fields) -> Event:
    start = fields.pop("starts_at", _saturday())
    return factories.event(
        title="Saturday stall", starts_at=start, ends_at=start + timedelta(hours=2), **fields
    )


def _dates(found: EventSeries) -> list[datetime]:
    db.session.expire_all()
    return [e.starts_at for e in series.upcoming(found, organiser=True, limit=1000)]


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_weekly_rule_makes_each_date_an_event_of_its_own(group):
    stall = _stall(capacity=12, place_name="Briggate")
    made = series.repeat(stall, series.build_rule(stall, "weekly", 4, None))
    dates = _dates(made)
    assert len(dates) == 4 and dates[0] == stall.starts_at
    days = [d.astimezone(LONDON).date() for d in dates]
    assert [(b - a).days for a, b in zip(days, days[1:], strict=False)] == [7, 7, 7]
    others = series.upcoming(made, organiser=True)[1:]
    assert {(e.title, e.place_name, e.capacity, e.ends_at - e.starts_at) for e in others} == {
        ("Saturday stall", "Briggate", 12, timedelta(hours=2))
    }
    assert all(e.starts_at.astimezone(LONDON).hour == 10 for e in others)
    assert series.describe(made) == "Every week on Saturday, 4 times"
    # Each occurrence is on the feed as an event of its own.
    ids = {e.id for e in others}
    created = db.session.scalars(
        select(FeedEntry.object_id).where(FeedEntry.activity_type == "Create")
    ).all()
    assert sum(1 for object_id in created if object_id.rsplit("/", 1)[-1] in map(str, ids)) == 3


def test_local_time_is_kept_across_the_change_of_the_clocks(app, group):
    # The last Sunday of March: the UK's clocks go forward. A stall the Saturday before at
    # 10:00 GMT (10:00 UTC) is at 10:00 BST (09:00 UTC) the Saturday after.
    year = datetime.now(UTC).year + 1
    last_sunday = max(date(year, 3, d) for d in range(25, 32) if date(year, 3, d).weekday() == 6)
    before = datetime.combine(last_sunday - timedelta(days=1), datetime.min.time()).replace(
        hour=10, tzinfo=LONDON
    )
    app.config["SERIES_HORIZON_DAYS"] = (before.astimezone(UTC) - datetime.now(UTC)).days + 30
    stall = _stall(starts_at=before.astimezone(UTC))
    made = series.repeat(stall, "FREQ=WEEKLY;BYDAY=SA;COUNT=2")
    first, second = _dates(made)
    assert (first.hour, second.hour) == (10, 9)
    assert second.astimezone(LONDON).hour == 10


def test_each_date_is_rsvped_separately(group, member):
    stall = _stall(capacity=1)
    made = series.repeat(stall, "FREQ=WEEKLY;BYDAY=SA;COUNT=3")
    first, second, _ = series.upcoming(made, organiser=True)
    events.respond(first, member, "going")
    assert (first.going_count, db.session.get(Event, second.id).going_count) == (1, 0)
    events.respond(second, factories.member(), "going")  # the first's full place is not this
    assert _count(Rsvp) == 2


def _weekly_until(first: datetime, days: int) -> int:
    """How many weekly dates from ``first`` fall within ``days`` of now (whatever today is)."""
    until = datetime.now(UTC) + timedelta(days=days)
    local = first.astimezone(LONDON).replace(tzinfo=None)  # weekly on wall-clock time
    dates = [(local + timedelta(weeks=n)).replace(tzinfo=LONDON) for n in range(100)]
    return len([d for d in dates if d <= until])


def test_an_open_ended_rule_is_made_up_to_the_horizon_and_the_worker_goes_on(app, group):
    # The first Saturday is 7 to 13 days out depending on today's weekday, so the counts
    # are derived from it (they differ by one on a Sunday), never fixed.
    app.config["SERIES_HORIZON_DAYS"] = 30
    stall = _stall()
    made = series.repeat(stall, "FREQ=WEEKLY;BYDAY=SA")
    assert 3 <= len(_dates(made)) == _weekly_until(stall.starts_at, 30)
    before = len(_dates(made))
    app.config["SERIES_HORIZON_DAYS"] = 100
    report = Worker(app).run_once()
    assert report.busy
    assert len(_dates(made)) == _weekly_until(stall.starts_at, 100) >= 13
    assert report.occurrences == len(_dates(made)) - before
    assert Worker(app).run_once().occurrences == 0  # nothing is made twice


def test_skipping_a_date_deletes_it_or_cancels_it_and_it_is_not_made_again(app, group, member):
    app.config["SERIES_HORIZON_DAYS"] = 30
    made = series.repeat(_stall(), "FREQ=WEEKLY;BYDAY=SA")
    first, second, third = series.upcoming(made, organiser=True)[:3]
    events.respond(third, member, "going")
    series.skip(second)  # nobody answered: deleted
    assert db.session.get(Event, second.id) is None
    series.skip(db.session.get(Event, third.id))  # answered: cancelled, and they are told
    assert db.session.get(Event, third.id).status == "cancelled"
    told = db.session.scalars(select(OutboundMail.to_address)).all()
    assert told == [member.email]
    assert _count(SeriesException) == 2
    app.config["SERIES_HORIZON_DAYS"] = 60
    db.session.execute(db.update(EventSeries).values(made_until=first.starts_at))
    db.session.commit()
    Worker(app).run_once()
    starts = _dates(made)
    assert second.occurrence_at not in starts  # skipped dates stay out


def test_a_skipped_date_is_put_back(group, member):
    made = series.repeat(_stall(), "FREQ=WEEKLY;BYDAY=SA;COUNT=3")
    _, second, third = series.upcoming(made, organiser=True)
    events.respond(third, member, "going")
    when_second, when_third = second.occurrence_at, third.occurrence_at
    series.skip(second)
    series.skip(db.session.get(Event, third.id))
    assert series.skipped(made) == [when_second, when_third]
    series.restore(made, when_second)
    series.restore(made, when_third)
    db.session.expire_all()
    assert db.session.get(Event, third.id).status == "scheduled"
    assert len(_dates(made)) == 3 and series.skipped(made) == []
    subjects = db.session.scalars(select(OutboundMail.subject)).all()
    assert [s.split(":")[0] for s in subjects] == ["Cancelled", "Back on"]


def test_stopping_a_series_removes_the_later_dates(group):
    made = series.repeat(_stall(), "FREQ=WEEKLY;BYDAY=SA;COUNT=5")
    third_day = _dates(made)[2].astimezone(LONDON).date()
    assert series.stop(made, third_day) == 2
    assert len(_dates(made)) == 3
    assert "UNTIL=" in made.rule and "COUNT" not in made.rule
    with pytest.raises(Invalid):
        series.stop(made, date(2001, 1, 1))


def test_details_of_one_date_are_used_for_all_to_come(group, member):
    made = series.repeat(_stall(capacity=5), "FREQ=WEEKLY;BYDAY=SA;COUNT=3")
    first, second, third = series.upcoming(made, organiser=True)
    events.respond(third, member, "going")
    events.update(second, {"place_name": "Kirkgate Market", "capacity": 1})
    second = db.session.get(Event, second.id)
    assert series.apply_details(made, second) == 2
    db.session.expire_all()
    for event_id in (first.id, third.id):
        updated = db.session.get(Event, event_id)
        assert (updated.place_name, updated.capacity) == ("Kirkgate Market", 1)
    assert db.session.get(Event, third.id).starts_at == third.starts_at  # times kept


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "FREQ=HOURLY",
        "FREQ=MINUTELY;COUNT=5",
        "FREQ=WEEKLY;COUNT=3;UNTIL=20300101",
        "FREQ=WEEKLY;COUNT=100000",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=WEEKLY;BYDAY=SU",  # the event is on a Saturday
        "FREQ=WEEKLY;UNTIL=20300101T000000Z",
        "FREQ=WEEKLY;DTSTART=20300101",
        "FREQ=WEEKLY;<script>",
        "FREQ=WEEKLY;INTERVAL=0",
    ],
)
def test_bad_rules_are_refused_on_the_rule_field_and_nothing_is_made(group, rule):
    stall = _stall()
    with pytest.raises(Invalid) as refused:
        series.repeat(stall, rule)
    assert "rule" in refused.value.fields
    db.session.rollback()
    assert _count(EventSeries) == 0 and _count(Event) == 1


def test_a_cancelled_or_repeating_event_cannot_be_made_to_repeat(group):
    with pytest.raises(Conflict):
        series.repeat(_stall(status="cancelled"), "FREQ=WEEKLY;BYDAY=SA")
    stall = _stall()
    series.repeat(stall, "FREQ=WEEKLY;BYDAY=SA;COUNT=2")
    with pytest.raises(Conflict):
        series.repeat(stall, "FREQ=WEEKLY;BYDAY=SA;COUNT=2")


@pytest.mark.parametrize(
    ("frequency", "weeks", "words"),
    [
        ("fortnightly", 0, "Every other week on Saturday"),
        ("monthly_date", 0, "On day {day} of every month"),
        ("daily", 0, "Every day"),
    ],
)
def test_plain_choices_become_rules_described_in_words(group, frequency, weeks, words):
    stall = _stall()
    made = series.repeat(stall, series.build_rule(stall, frequency, 3, None))
    day = stall.starts_at.astimezone(LONDON).day
    assert series.describe(made) == words.format(day=day) + ", 3 times"


# Pages -------------------------------------------------------------------------------


def test_an_organiser_makes_an_event_repeat_from_the_form(client, organiser):
    stall = _stall()
    log_in(client, organiser)
    page = f"/manage/events/{stall.id}/repeat"
    assert "Every other week" in client.get(page).get_data(as_text=True)
    refused = post_form(client, page, {"frequency": "weekly", "count": "3", "until": "2030-01-01"})
    assert refused.status_code == 400 and field_error(refused.get_data(as_text=True), "until")
    custom = post_form(client, page, {"frequency": "custom", "rule": "FREQ=HOURLY"})
    assert custom.status_code == 400 and field_error(custom.get_data(as_text=True), "rule")
    assert _count(EventSeries) == 0
    done = post_form(client, page, {"frequency": "weekly", "count": "3"})
    assert done.status_code == 302
    made = db.session.scalars(select(EventSeries)).one()
    assert done.headers["Location"].endswith(f"/manage/series/{made.id}")
    html = client.get(f"/manage/series/{made.id}").get_data(as_text=True)
    assert "Every week on Saturday, 3 times" in html and html.count("Skip this date") == 3
    # The public page of a date says it repeats and links the others.
    public = client.get(f"/events/{stall.id}").get_data(as_text=True)
    assert "Each date has its own RSVP" in public
    assert all(f"/events/{e.id}" in public for e in series.upcoming(made, organiser=True)[1:])


def test_the_series_pages_skip_restore_and_stop(client, organiser):
    stall = _stall()
    made = series.repeat(stall, "FREQ=WEEKLY;BYDAY=SA;COUNT=4")
    second = series.upcoming(made, organiser=True)[1]
    log_in(client, organiser)
    page = f"/manage/series/{made.id}"
    assert post_form(client, f"/manage/events/{second.id}/skip", page=page).status_code == 302
    assert "Put it back" in client.get(page).get_data(as_text=True)
    bad = post_form(client, f"{page}/restore", {"occurrence_at": "soon"}, page=page)
    assert bad.status_code == 400
    back = post_form(
        client, f"{page}/restore", {"occurrence_at": second.occurrence_at.isoformat()}, page=page
    )
    assert back.status_code == 302 and len(_dates(made)) == 4
    refused = post_form(client, f"{page}/stop", {"last": ""}, page=page)
    assert refused.status_code == 400 and field_error(refused.get_data(as_text=True), "last")
    last = _dates(made)[1].astimezone(LONDON).date().isoformat()
    assert post_form(client, f"{page}/stop", {"last": last}, page=page).status_code == 302
    assert len(_dates(made)) == 2


def test_members_only_dates_stay_hidden_from_visitors(client, group):
    stall = _stall(visibility="members")
    made = series.repeat(stall, "FREQ=WEEKLY;BYDAY=SA;COUNT=3")
    for event in series.upcoming(made, organiser=True):
        assert event.visibility == "members"
        assert client.get(f"/events/{event.id}").status_code == 404
