"""Two real nodes twin, and a member of one RSVPs to the other's event over real HTTP."""

from __future__ import annotations

import html
import re

import pytest

from .support import (
    Api,
    join_as_member,
    log_in,
    post_page_form,
    query,
    wait_until,
)

pytestmark = pytest.mark.integration


def _twin_state(node) -> str:
    rows = query(node, "SELECT state FROM twinning")
    return rows[0][0] if rows else ""


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _held_event(node, title: str) -> int | None:
    rows = query(
        node, "SELECT id FROM remote_object WHERE object_type = 'Event' AND title = ?", title
    )
    return rows[0][0] if rows else None


def _rsvp_states(node) -> list[tuple[str, str, int]]:
    """(member e-mail, state, party size) of each RSVP the node sent to a twin's event."""
    return query(
        node,
        "SELECT m.email, r.state, r.party_size FROM outgoing_rsvp r"
        " JOIN member m ON m.id = r.member_id ORDER BY r.id",
    )


def _places_taken(node, event_id: int) -> int:
    return query(node, "SELECT going_count FROM event WHERE id = ?", event_id)[0][0]


def _answer(session, node, event_row: int, **form):
    page = f"/twins/events/{event_row}"
    values = {"response": "going", "party_size": "1", "share": "name", **form}
    answer = post_page_form(session, node, page, values, page=page)
    assert answer.status_code == 302, answer.text[:2000]


def test_twins_show_each_other_and_share_an_event_s_places(start_node):
    leeds = start_node("Leeds North Momentum", "leedsnorth")
    hull = start_node("Hull Unite Branch", "hullunite")

    # Leeds proposes from the command line; Hull's organiser accepts on the Twins page.
    proposed = leeds.cli("twin", "propose", hull.acct, "--note", "Safe seat and marginal seat")
    assert "Proposed twinning to Hull Unite Branch" in proposed.stdout
    wait_until(
        lambda: _twin_state(hull) == "incoming",
        "Hull receives Leeds's proposal",
        explain=lambda: hull.output()[-3000:] + leeds.output()[-3000:],
    )
    assert "incoming\tthey proposed" in hull.cli("twin", "list").stdout
    hull_admin = log_in(hull)
    page = hull_admin.get(f"{hull.url}/manage/twins", timeout=10).text
    assert "Leeds North Momentum" in page and "Safe seat and marginal seat" in page
    (twin_id,) = re.findall(r"/manage/twins/(\d+)/accept", page)
    accepted = post_page_form(
        hull_admin, hull, f"/manage/twins/{twin_id}/accept", {}, page="/manage/twins"
    )
    assert accepted.status_code == 302
    wait_until(
        lambda: _twin_state(leeds) == "active",
        "Leeds learns that Hull accepted",
        explain=lambda: leeds.output()[-3000:],
    )
    for node, other in ((leeds, hull), (hull, leeds)):
        home = node.get("/").text
        assert "Twinned with" in home and other.name in home, node.name
        assert f'href="{other.url}/"' in home

    # Hull publishes an event with two places; Leeds holds it (it follows its twin).
    created = Api(hull).event("Canvass on Beverley Road", capacity=2)
    event_row = wait_until(
        lambda: _held_event(leeds, "Canvass on Beverley Road"),
        "Leeds holds Hull's event",
        explain=lambda: leeds.cli("following").stdout + leeds.output()[-3000:],
    )
    leeds_admin = log_in(leeds)
    assert "Canvass on Beverley Road" in leeds_admin.get(f"{leeds.url}/account", timeout=10).text

    # Leeds's admin RSVPs for two: Hull takes both places and confirms.
    _answer(leeds_admin, leeds, event_row, party_size="2")
    wait_until(
        lambda: _rsvp_states(leeds) == [(leeds.admin_email, "confirmed", 2)],
        "Hull confirms the RSVP for two",
        explain=lambda: hull.output()[-3000:],
    )
    assert _places_taken(hull, created["id"]) == 2
    attendance = _text(
        hull_admin.get(f"{hull.url}/manage/events/{created['id']}/attendance", timeout=10).text
    )
    assert "Leeds North Momentum" in attendance and "Admin: Going, 2 people" in attendance

    # A second member of Leeds asks for one more place: full.
    sam = join_as_member(leeds, "sam@leedsnorth.test", "Sam")
    _answer(sam, leeds, event_row, share="count")
    wait_until(
        lambda: ("sam@leedsnorth.test", "full", 1) in _rsvp_states(leeds),
        "Hull tells Leeds the event is full",
        explain=lambda: hull.output()[-3000:],
    )
    assert "Full" in sam.get(f"{leeds.url}/twins/events/{event_row}", timeout=10).text

    # The admin cancels: Hull frees both places, and Sam's new answer gets one.
    cancelled = post_page_form(
        leeds_admin,
        leeds,
        f"/twins/events/{event_row}/cancel",
        {},
        page=f"/twins/events/{event_row}",
    )
    assert cancelled.status_code == 302
    wait_until(
        lambda: _places_taken(hull, created["id"]) == 0,
        "Hull frees the cancelled places",
        explain=lambda: hull.output()[-3000:],
    )
    assert (leeds.admin_email, "cancelled", 2) in _rsvp_states(leeds)
    _answer(sam, leeds, event_row, share="count")
    wait_until(
        lambda: ("sam@leedsnorth.test", "confirmed", 1) in _rsvp_states(leeds),
        "Hull confirms Sam's place once there is room",
        explain=lambda: hull.output()[-3000:],
    )
    assert _places_taken(hull, created["id"]) == 1
    attendance = _text(
        hull_admin.get(f"{hull.url}/manage/events/{created['id']}/attendance", timeout=10).text
    )
    assert "A member of Leeds North Momentum: Going" in attendance
    assert "sam@leedsnorth.test" not in attendance and "Sam" not in attendance
