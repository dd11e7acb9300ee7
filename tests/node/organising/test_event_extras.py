"""No carpools for an online-only event, one event's .ics, and the attendance CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from node.extensions import db
from node.models import CarpoolOffer, CarpoolRequest, GuestRsvp, Rsvp, ShiftSignup
from node.services.errors import Conflict
from node.services.organising import attendance_export, carpools
from tests import factories
from tests.conftest import log_in, post_form

ONLINE = {"online_url": "https://meet.example.org/branch"}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# Carpools ----------------------------------------------------------------------------


def test_an_online_only_event_takes_no_offers_or_requests(group):
    event = factories.event(**ONLINE)
    member = factories.member()
    assert carpools.is_online_only(event) and not carpools.is_open(event)
    with pytest.raises(Conflict, match="online only"):
        carpools.offer(event, member, "Leeds", 3)
    with pytest.raises(Conflict, match="online only"):
        carpools.ask(event, member, "Leeds")
    db.session.rollback()
    assert _count(CarpoolOffer) == _count(CarpoolRequest) == 0


def test_an_event_online_and_in_a_place_still_has_carpools(group):
    event = factories.event(place_name="Chapeltown Library", **ONLINE)
    assert carpools.is_open(event)


def test_the_online_only_event_page_offers_no_carpools_and_the_route_says_why(client, member):
    event = factories.event(**ONLINE)
    log_in(client, member)
    page = f"/events/{event.id}"
    assert 'id="carpools"' not in client.get(page).get_data(as_text=True)
    refused = post_form(
        client,
        f"/events/{event.id}/carpool/offer",
        {"from_place": "Leeds", "seats": "2"},
        page=page,
    )
    assert refused.status_code == 409
    assert "This event is online only, so it has no carpools." in refused.get_data(as_text=True)
    assert _count(CarpoolOffer) == 0


# Add to calendar ---------------------------------------------------------------------


def test_the_event_page_links_one_events_ics(client):
    event = factories.event(title="Doorstep day", place_name="Harehills")
    html = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert f'href="/events/{event.id}.ics"' in html
    got = client.get(f"/events/{event.id}.ics")
    assert got.status_code == 200 and got.mimetype == "text/calendar"
    assert "attachment" in got.headers["Content-Disposition"]
    entries = [c for c in Calendar.from_ical(got.data).walk("VEVENT")]
    assert len(entries) == 1
    assert str(entries[0]["SUMMARY"]) == "Doorstep day"
    assert entries[0]["DTSTART"].dt == event.starts_at


def test_a_members_only_events_ics_is_hidden_from_visitors(client, member):
    event = factories.event(visibility="members")
    assert client.get(f"/events/{event.id}.ics").status_code == 404
    log_in(client, member)
    got = client.get(f"/events/{event.id}.ics")
    assert got.status_code == 200 and "private" in got.headers["Cache-Control"]


# Attendance CSV ----------------------------------------------------------------------


@pytest.fixture
def attended(group):
    event = factories.event(title="Canvass")
    going = factories.member(display_name='=HYPERLINK("http://x")', email="going@example.org")
    rsvp = Rsvp(event_id=event.id, member_id=going.id, response="going")
    rsvp.checked_in_at = event.starts_at + timedelta(minutes=5)
    db.session.add(rsvp)
    shift = factories.shift(event.id, label="Morning")
    helper = factories.member(display_name="Helen Helper", email="helper@example.org")
    db.session.add(ShiftSignup(shift_id=shift.id, member_id=helper.id, state="going"))
    db.session.add(
        GuestRsvp(event_id=event.id, name="+Guest", email="g@example.org", state="going")
    )
    db.session.commit()
    return event


def test_the_csv_lists_answers_shifts_and_check_ins_with_formulas_defused(attended):
    table = list(csv.reader(io.StringIO(attendance_export.as_csv(attended))))
    assert table[0] == ["Name", "E-mail", "Who", "Answer", "Shifts", "Checked in"]
    by_email = {row[1]: row for row in table[1:]}
    assert by_email["going@example.org"][0] == '\'=HYPERLINK("http://x")'
    assert by_email["going@example.org"][3] == "going"
    assert by_email["going@example.org"][5]  # checked in: a time
    assert by_email["helper@example.org"][4].startswith("Morning ")
    assert by_email["g@example.org"][:4] == ["'+Guest", "g@example.org", "guest", "going"]


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1"])
def test_cells_that_a_spreadsheet_would_run_get_an_apostrophe(value):
    assert attendance_export.safe_cell(value) == "'" + value
    assert attendance_export.safe_cell("Ann") == "Ann"


def test_only_organisers_download_the_csv_from_the_attendance_page(
    app, client, member, organiser, attended
):
    url = f"/manage/events/{attended.id}/attendance.csv"
    log_in(client, member)
    assert client.get(url).status_code == 403
    client = app.test_client()  # a fresh browser for the organiser
    log_in(client, organiser)
    assert url in client.get(f"/manage/events/{attended.id}/attendance").get_data(as_text=True)
    got = client.get(url)
    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert "no-store" in got.headers["Cache-Control"]
    assert "helper@example.org" in got.get_data(as_text=True)
