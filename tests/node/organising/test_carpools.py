"""Carpools for events: offers and requests, organisers' matches, who sees whose address."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import CarpoolOffer, CarpoolRequest, Member, OutboundMail
from node.services.errors import Conflict, Invalid, NotFound
from node.services.membership import members
from node.services.organising import carpools, events
from tests import factories
from tests.conftest import log_in, post_form

START = datetime(2031, 5, 10, 9, tzinfo=UTC)


def _event(**fields):
    return factories.event(starts_at=START, ends_at=START + timedelta(hours=8), **fields)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _mail_to(address: str) -> list[OutboundMail]:
    return list(db.session.scalars(select(OutboundMail).where(OutboundMail.to_address == address)))


def _fresh(row):
    db.session.expire_all()
    return db.session.get(type(row), row.id)


def _marked(html: str, control_id: str) -> bool:
    """Say whether the control with ``control_id`` is marked invalid and has its message."""
    control = re.search(rf'<[^>]*id="{control_id}"[^>]*>', html)
    return (
        bool(control)
        and 'aria-invalid="true"' in control.group(0)
        and f'id="{control_id}-error"' in html
    )


def _matched_pair(seats: int = 2):
    """An event with a driver offering ``seats`` and a rider matched with them."""
    event = _event(title="Climate march")
    driver = factories.member(display_name="Dana Driver", email="dana@example.org")
    rider = factories.member(display_name="Robin Rider", email="robin@example.org")
    offer = carpools.offer(event, driver, "Leeds station", seats, "Room for a bike")
    asked = carpools.ask(event, rider, "Headingley", "I use a stick")
    carpools.match(asked, offer)
    return event, driver, rider, offer, asked


# Offering and asking -----------------------------------------------------------------


def test_offering_again_changes_the_members_one_offer(group):
    event, driver = _event(), factories.member()
    first = carpools.offer(event, driver, "  Leeds   station ", 3, "")
    assert (first.from_place, first.seats) == ("Leeds station", 3)
    again = carpools.offer(event, driver, "Bradford", 4, "Leaving at 8")
    assert again.id == first.id
    assert (again.from_place, again.seats, again.note) == ("Bradford", 4, "Leaving at 8")
    assert _count(CarpoolOffer) == 1


def test_asking_again_changes_the_request_and_keeps_its_match(group):
    event, driver, rider, offer, asked = _matched_pair()
    again = carpools.ask(event, rider, "Kirkstall", "")
    assert again.id == asked.id and again.from_place == "Kirkstall"
    assert _fresh(asked).offer_id == offer.id
    assert _count(CarpoolRequest) == 1


def test_a_member_either_offers_seats_or_asks_for_a_ride_to_an_event(group):
    event, person = _event(), factories.member()
    carpools.offer(event, person, "Leeds", 2)
    with pytest.raises(Conflict, match="offering seats"):
        carpools.ask(event, person, "Leeds")
    assert _count(CarpoolRequest) == 0


@pytest.mark.parametrize(
    ("place", "seats", "field"),
    [
        ("", 2, "from_place"),
        ("x" * 121, 2, "from_place"),
        ("Leeds", 0, "seats"),
        ("Leeds", 9, "seats"),
        ("Leeds", True, "seats"),
    ],
)
def test_the_service_refuses_bad_offers_and_stores_nothing(group, place, seats, field):
    with pytest.raises(Invalid) as refused:
        carpools.offer(_event(), factories.member(), place, seats)
    assert field in refused.value.fields
    assert _count(CarpoolOffer) == 0


def test_fewer_seats_than_riders_already_matched_is_refused(group):
    event, driver, _rider, offer, _asked = _matched_pair(seats=2)
    carpools.match(carpools.ask(event, factories.member(), "Otley"), offer)
    with pytest.raises(Invalid) as refused:
        carpools.offer(event, driver, "Leeds station", 1)
    assert "seats" in refused.value.fields
    assert _fresh(offer).seats == 2
    assert carpools.offer(event, driver, "Leeds station", 2).seats == 2  # as many is fine


def test_a_cancelled_or_finished_event_refuses_carpools(group):
    event = _event()
    driver, rider = factories.member(), factories.member()
    offer = carpools.offer(event, driver, "Leeds", 2)
    asked = carpools.ask(event, rider, "York")
    events.cancel(event)
    with pytest.raises(Conflict, match="cancelled"):
        carpools.offer(event, factories.member(), "Leeds", 2)
    with pytest.raises(Conflict, match="cancelled"):
        carpools.ask(event, factories.member(), "Leeds")
    with pytest.raises(Conflict, match="cancelled"):
        carpools.match(asked, offer)
    past = factories.event(starts_at=datetime.now(UTC) - timedelta(days=1))
    with pytest.raises(Conflict, match="over"):
        carpools.offer(past, factories.member(), "Leeds", 2)
    assert _count(CarpoolOffer) == 1 and _fresh(asked).offer_id is None


# Matching ----------------------------------------------------------------------------


def test_a_match_emails_each_the_others_name_and_address(group):
    _event_, _driver, _rider, offer, asked = _matched_pair()
    assert _fresh(asked).offer_id == offer.id and _fresh(asked).matched_at is not None
    [to_rider] = _mail_to("robin@example.org")
    assert to_rider.subject == "You have a ride: Climate march"
    assert "Dana Driver <dana@example.org>" in to_rider.body and "Leeds station" in to_rider.body
    [to_driver] = _mail_to("dana@example.org")
    assert to_driver.subject == "You have a rider: Climate march"
    assert "Robin Rider <robin@example.org>" in to_driver.body and "I use a stick" in to_driver.body
    assert carpools.seats_left(offer) == 1


def test_matching_again_changes_nothing_and_sends_nothing_more(group):
    _event_, _driver, _rider, offer, asked = _matched_pair()
    carpools.match(asked, offer)
    assert _count(OutboundMail) == 2 and carpools.riders_count(offer) == 1


def test_a_full_car_takes_no_more_riders(group):
    event, _driver, _rider, offer, _asked = _matched_pair(seats=1)
    other = carpools.ask(event, factories.member(), "Otley")
    with pytest.raises(Conflict, match="full"):
        carpools.match(other, offer)
    assert _fresh(other).offer_id is None and carpools.riders_count(offer) == 1


def test_matching_refuses_another_events_offer_and_a_rider_with_a_driver(group):
    event, _driver, _rider, offer, asked = _matched_pair()
    elsewhere = carpools.offer(_event(), factories.member(), "York", 3)
    waiting = carpools.ask(event, factories.member(), "Otley")
    with pytest.raises(Invalid) as refused:
        carpools.match(waiting, elsewhere)
    assert "offer_id" in refused.value.fields
    second = carpools.offer(event, factories.member(), "Wakefield", 3)
    with pytest.raises(Conflict, match="unmatch them first"):
        carpools.match(asked, second)
    assert _fresh(asked).offer_id == offer.id and _fresh(waiting).offer_id is None


def test_nobody_is_their_own_driver(group):
    event, person = _event(), factories.member()
    offer = carpools.offer(event, person, "Leeds", 2)
    mine = CarpoolRequest(event_id=event.id, member_id=person.id, from_place="Leeds", note="")
    db.session.add(mine)  # the service would refuse this request; a match must too
    db.session.commit()
    with pytest.raises(Invalid):
        carpools.match(mine, offer)
    assert _fresh(mine).offer_id is None


def test_organisers_racing_for_the_last_seat_give_it_once(app, group):
    event = _event()
    offer = carpools.offer(event, factories.member(), "Leeds", 1)
    asked = [carpools.ask(event, factories.member(), f"Stop {n}").id for n in range(4)]
    start = threading.Barrier(len(asked))
    matched: list[int] = []
    refused: list[BaseException] = []
    errors: list[BaseException] = []

    def match(request_id: int) -> None:
        with app.app_context():
            try:
                found = db.session.get(CarpoolRequest, request_id)
                car = db.session.get(CarpoolOffer, offer.id)
                start.wait()
                carpools.match(found, car)
                matched.append(request_id)
            except Conflict as exc:
                refused.append(exc)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=match, args=(r,)) for r in asked]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(matched) == 1 and len(refused) == 3
    db.session.expire_all()
    assert carpools.riders_count(db.session.get(CarpoolOffer, offer.id)) == 1


def test_unmatching_puts_the_rider_back_and_tells_both(group):
    _event_, _driver, _rider, offer, asked = _matched_pair()
    carpools.unmatch(asked)
    assert _fresh(asked).offer_id is None and carpools.riders_count(offer) == 0
    assert _mail_to("robin@example.org")[-1].subject.startswith("Your ride has changed")
    assert _mail_to("dana@example.org")[-1].subject.startswith("Your carpool has changed")


# Withdrawing and leaving -------------------------------------------------------------


def test_withdrawing_an_offer_unmatches_its_riders_and_tells_them(group):
    event, driver, _rider, offer, asked = _matched_pair()
    carpools.withdraw_offer(event, driver)
    assert db.session.get(CarpoolOffer, offer.id) is None
    assert _fresh(asked).offer_id is None  # still asking: an organiser may find another car
    told = _mail_to("robin@example.org")[-1]
    assert told.subject == "Your ride is off: Climate march"
    assert "Dana Driver can no longer drive" in told.body


def test_withdrawing_a_request_frees_the_seat_and_tells_the_driver(group):
    event, _driver, rider, offer, asked = _matched_pair(seats=1)
    carpools.withdraw_request(event, rider)
    assert db.session.get(CarpoolRequest, asked.id) is None
    assert carpools.seats_left(offer) == 1
    told = _mail_to("dana@example.org")[-1]
    assert told.subject.startswith("A rider no longer needs your seat")
    assert "Robin Rider" in told.body


def test_a_removed_member_is_taken_out_of_carpools_and_the_others_are_told(group, admin):
    event, driver, _rider, _offer, asked = _matched_pair()
    members.remove(driver, admin)
    assert _count(CarpoolOffer) == 0 and _fresh(asked).offer_id is None
    assert _mail_to("robin@example.org")[-1].subject.startswith("Your ride is off")


def _driving_and_riding():
    """Chris drives Robin to one event and rides with Dana to another."""
    person = factories.member(display_name="Chris Leaving", email="chris@example.org")
    rider = factories.member(display_name="Robin Rider", email="robin@example.org")
    driver = factories.member(display_name="Dana Driver", email="dana@example.org")
    march, stall = _event(title="March"), _event(title="Stall")
    carpools.match(
        carpools.ask(march, rider, "Headingley"), carpools.offer(march, person, "Leeds", 3)
    )
    carpools.match(
        carpools.ask(stall, person, "Chapel Allerton"), carpools.offer(stall, driver, "York", 2)
    )
    return person, rider, driver


def test_leaving_removes_the_members_carpools_and_tells_those_matched(client, group):
    person, rider, _driver = _driving_and_riding()
    ids = {"person": person.id, "rider": rider.id}
    log_in(client, person)
    left = post_form(client, "/account/leave", {"password": factories.PASSWORD})
    assert left.status_code == 302
    db.session.expire_all()
    assert db.session.get(Member, ids["person"]) is None
    mine = (CarpoolOffer.member_id == ids["person"], CarpoolRequest.member_id == ids["person"])
    assert _count(select(CarpoolOffer).where(mine[0]).subquery()) == 0
    assert _count(select(CarpoolRequest).where(mine[1]).subquery()) == 0
    [still_asking] = db.session.scalars(select(CarpoolRequest))
    assert still_asking.member_id == ids["rider"] and still_asking.offer_id is None
    assert _mail_to("robin@example.org")[-1].subject == "Your ride is off: March"
    told = _mail_to("dana@example.org")[-1]
    assert told.subject == "A rider no longer needs your seat: Stall"
    assert "Chris Leaving" in told.body


def test_the_export_holds_the_members_carpools_and_not_whom_they_travel_with(client, group):
    person, *_others = _driving_and_riding()
    log_in(client, person)
    document = client.get("/account/data.json").get_json()
    rows = {(row["event_title"], row["kind"]): row for row in document["carpools"]}
    assert set(rows) == {("March", "offer"), ("Stall", "request")}
    assert rows["March", "offer"]["seats"] == 3 and rows["March", "offer"]["riders_matched"] == 1
    assert rows["Stall", "request"]["from_place"] == "Chapel Allerton"
    assert rows["Stall", "request"]["driver_matched"] is True
    text = json.dumps(document)
    assert "robin@example.org" not in text and "dana@example.org" not in text
    assert "Robin Rider" not in text and "Dana Driver" not in text
    assert "Chapel Allerton" in client.get("/account/data").get_data(as_text=True)


# The event page ----------------------------------------------------------------------


def test_visitors_see_nothing_of_carpools(client):
    event, *_rest = _matched_pair()
    html = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "carpool" not in html.lower()
    assert "dana@example.org" not in html and "Leeds station" not in html


def test_a_member_offers_seats_and_asks_for_a_ride_on_the_event_page(client, member):
    event = _event()
    log_in(client, member)
    page = f"/events/{event.id}"
    assert "I can drive" in client.get(page).get_data(as_text=True)
    offered = post_form(
        client,
        f"/events/{event.id}/carpool/offer",
        {"from_place": "Leeds station", "seats": "3", "note": ""},
        page=page,
        follow_redirects=True,
    )
    assert "You are offering 3 seats from Leeds station." in offered.get_data(as_text=True)
    post_form(client, f"/events/{event.id}/carpool/offer", {"action": "withdraw"}, page=page)
    assert _count(CarpoolOffer) == 0
    asked = post_form(
        client,
        f"/events/{event.id}/carpool/ride",
        {"from_place": "Otley", "note": "After 10 please"},
        page=page,
        follow_redirects=True,
    )
    assert "You have asked for a ride from Otley." in asked.get_data(as_text=True)
    assert carpools.request_of(event, member).note == "After 10 please"


@pytest.mark.parametrize(
    ("form", "fields", "bad"),
    [
        ("offer", {"from_place": " ", "seats": "3"}, ["from_place"]),
        ("offer", {"from_place": "Leeds", "seats": "0"}, ["seats"]),
        ("offer", {"from_place": "Leeds", "seats": "many"}, ["seats"]),
        (
            "offer",
            {"from_place": "x" * 121, "seats": "9", "note": "y" * 301},
            ["from_place", "seats", "note"],
        ),
        ("ride", {"from_place": ""}, ["from_place"]),
        ("ride", {"from_place": "Leeds", "note": "bad\x01"}, ["note"]),
    ],
)
def test_the_carpool_forms_name_the_field_at_fault_and_store_nothing(
    client, member, form, fields, bad
):
    event = _event()
    log_in(client, member)
    refused = post_form(
        client, f"/events/{event.id}/carpool/{form}", fields, page=f"/events/{event.id}"
    )
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    prefix = "offer" if form == "offer" else "ask"
    for name in ("from_place", "seats", "note"):
        if form == "ride" and name == "seats":
            continue
        assert _marked(html, f"{prefix}-{name}") == (name in bad), name
    assert 'value="Leeds"' in html or "Leeds" not in json.dumps(fields)  # kept as typed
    assert _count(CarpoolOffer) == 0 and _count(CarpoolRequest) == 0


def test_cutting_seats_below_the_riders_on_the_page_is_a_400_on_seats(client):
    event, driver, *_rest = _matched_pair(seats=2)
    carpools.match(
        carpools.ask(event, factories.member(), "Otley"), carpools.offer_of(event, driver)
    )
    log_in(client, driver)
    refused = post_form(
        client,
        f"/events/{event.id}/carpool/offer",
        {"from_place": "Leeds station", "seats": "1"},
        page=f"/events/{event.id}",
    )
    assert refused.status_code == 400
    assert _marked(refused.get_data(as_text=True), "offer-seats")
    assert carpools.offer_of(event, driver).seats == 2


def test_addresses_show_only_to_the_matched_pair_and_only_after_the_match(app, client, organiser):
    event = _event(title="Climate march")
    driver = factories.member(display_name="Dana Driver", email="dana@example.org")
    rider = factories.member(display_name="Robin Rider", email="robin@example.org")
    third = factories.member(display_name="Sam Other", email="sam@example.org")
    offer = carpools.offer(event, driver, "Leeds station", 2)
    asked = carpools.ask(event, rider, "Headingley")
    carpools.ask(event, third, "Otley")
    page = f"/events/{event.id}"

    def seen_by(who: Member) -> str:
        browser = app.test_client()
        log_in(browser, who)
        return browser.get(page).get_data(as_text=True)

    before = seen_by(rider)
    assert "dana@example.org" not in before and "Dana Driver" not in before
    assert "No driver yet" in before
    assert "robin@example.org" not in seen_by(driver)

    log_in(client, organiser)
    matched = post_form(
        client,
        f"/manage/carpools/requests/{asked.id}/match",
        {"offer_id": str(offer.id)},
        page=f"/manage/events/{event.id}/carpools",
    )
    assert matched.status_code == 302

    after = seen_by(rider)
    assert "Dana Driver" in after and "dana@example.org" in after
    assert "robin@example.org" in seen_by(driver)
    for_third = seen_by(third)
    assert "dana@example.org" not in for_third and "robin@example.org" not in for_third
    assert "Dana Driver" not in for_third and "Robin Rider" not in for_third


def test_a_cancelled_event_shows_carpools_only_to_those_in_one(app, client, member):
    event, driver, *_rest = _matched_pair()
    events.cancel(event)
    log_in(client, member)
    assert "Carpools" not in client.get(f"/events/{event.id}").get_data(as_text=True)
    refused = post_form(
        client,
        f"/events/{event.id}/carpool/offer",
        {"from_place": "Leeds", "seats": "2"},
        page=f"/events/{event.id}",
    )
    assert refused.status_code == 409 and "cancelled" in refused.get_data(as_text=True)
    assert carpools.offer_of(event, member) is None
    browser = app.test_client()
    log_in(browser, driver)
    html = browser.get(f"/events/{event.id}").get_data(as_text=True)
    assert "You are offering 2 seats" in html and "Change my offer" not in html


# The organisers' page ----------------------------------------------------------------


def test_organisers_see_offers_with_seats_left_and_those_waiting(client, organiser):
    event, _driver, _rider, _offer, _asked = _matched_pair(seats=3)
    carpools.ask(event, factories.member(display_name="Wren Waiting"), "Otley")
    log_in(client, organiser)
    html = client.get(f"/manage/events/{event.id}/carpools").get_data(as_text=True)
    assert "Dana Driver" in html and "dana@example.org" in html
    assert "Robin Rider" in html and "Wren Waiting" in html
    assert "Dana Driver from Leeds station (2 left)" in html  # the match form's choice


def test_the_match_form_names_the_field_at_fault_and_changes_nothing(client, organiser):
    event, _driver, _rider, full, _asked = _matched_pair(seats=1)
    carpools.offer(event, factories.member(), "Wakefield", 2)  # a car with room, to choose
    waiting = carpools.ask(event, factories.member(), "Otley")
    elsewhere = carpools.offer(_event(), factories.member(), "York", 2)
    log_in(client, organiser)
    page = f"/manage/events/{event.id}/carpools"
    url = f"/manage/carpools/requests/{waiting.id}/match"
    for value, status in (
        ("", 400),
        ("999", 400),
        ("9" * 30, 400),
        (str(elsewhere.id), 400),
        (str(full.id), 409),
    ):
        refused = post_form(client, url, {"offer_id": value}, page=page)
        assert refused.status_code == status, value
        assert _marked(refused.get_data(as_text=True), f"offer_id-{waiting.id}"), value
    assert "That car is full" in refused.get_data(as_text=True)
    assert _fresh(waiting).offer_id is None
    assert _count(OutboundMail) == 2  # only the first match's


def test_organisers_unmatch_from_their_page(client, organiser):
    event, _driver, _rider, _offer, asked = _matched_pair()
    log_in(client, organiser)
    page = f"/manage/events/{event.id}/carpools"
    done = post_form(client, f"/manage/carpools/requests/{asked.id}/unmatch", page=page)
    assert done.status_code == 302
    assert _fresh(asked).offer_id is None


def test_members_cannot_match_or_open_the_organisers_page(client, member):
    event, _driver, _rider, offer, _asked = _matched_pair()
    waiting = carpools.ask(event, factories.member(), "Otley")
    log_in(client, member)
    assert client.get(f"/manage/events/{event.id}/carpools").status_code == 403
    refused = post_form(
        client,
        f"/manage/carpools/requests/{waiting.id}/match",
        {"offer_id": str(offer.id)},
        page=f"/events/{event.id}",
    )
    assert refused.status_code == 403 and _fresh(waiting).offer_id is None


def test_a_members_only_events_carpools_are_hidden_from_visitors(group):
    event = _event(visibility="members")
    asked = carpools.ask(event, factories.member(), "Leeds")
    with pytest.raises(NotFound):
        carpools.get_request(asked.id, None)
    assert carpools.get_request(asked.id, factories.member()).id == asked.id


def test_ids_no_row_could_have_are_a_404_not_a_500(client, organiser):
    huge = "9" * 30
    log_in(client, organiser)
    assert client.get(f"/manage/events/{huge}/carpools").status_code == 404
    for path in (f"/events/{huge}/carpool/offer", f"/manage/carpools/requests/{huge}/match"):
        answer = post_form(client, path, {"from_place": "Leeds", "seats": "1"}, page="/account")
        assert answer.status_code == 404, path
