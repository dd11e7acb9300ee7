"""The national pages and /api/v1/network/...: what they show, filters and sorting by link,
and a 400 naming the argument for every bad query value (never a 500)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest

from node.extensions import db
from tests.conftest import log_in
from tests.node.federation_support import remote  # noqa: F401
from tests.node.national_support import LEEDS, MANCHESTER, YORK, followed_group, upcoming
from tests.node.test_geo import SAMPLE


@pytest.fixture
def network(remote):  # noqa: F811
    """Three followed groups in different states, with events and campaigns."""
    leeds, leeds_peer = followed_group(
        remote, 2, area="Leeds", seat="Leeds North West", majority=800, marginality=2.0, place=LEEDS
    )
    manchester, manchester_peer = followed_group(
        remote, 3, area="Manchester", seat="Manchester Central", marginality=30.0, place=MANCHESTER
    )
    york, york_peer = followed_group(remote, 4, area="York", seat="York Outer", place=YORK)
    leeds.publish(
        leeds_peer,
        "Create",
        leeds.event_at("door", "Headingley door knock", starts=upcoming(3), place=LEEDS),
        published="2030-01-05T10:00:00Z",
    )
    leeds.publish(
        leeds_peer,
        "Create",
        leeds.event_at("calls", "Phone bank", starts=upcoming(12), place=LEEDS, kind="phonebank"),
    )
    manchester.publish(
        manchester_peer,
        "Create",
        manchester.event_at("stall", "Market stall", starts=upcoming(5), place=MANCHESTER),
    )
    manchester.publish(
        manchester_peer,
        "Create",
        manchester.campaign("rent", "Rent caps now", kind="community", status="active"),
    )
    leeds.publish(
        leeds_peer,
        "Create",
        leeds.campaign("gotv", "Get out the vote", kind="election", status="won"),
    )
    york.publish(
        york_peer,
        "Create",
        york.campaign("bus", "Save the buses", kind="community", status="active"),
    )
    manchester_peer.state, manchester_peer.head_seq = "behind", manchester_peer.held_seq + 3
    york_peer.state, york_peer.state_reason = "chain_broken", "entry 4: proof does not verify"
    db.session.commit()
    return {"leeds": leeds_peer, "manchester": manchester_peer, "york": york_peer}


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def _order(html: str, *names: str) -> list[str]:
    return sorted(names, key=html.index)


# Groups ------------------------------------------------------------------------------------


def test_groups_page_shows_each_groups_profile_and_sync_state(client, network):
    html = _page(client, "/network/groups")

    assert "Leeds North West" in html and "majority 800" in html and "2.0%" in html
    assert "Behind 3" in html
    assert "Chain broken" in html and "entry 4: proof does not verify" in html
    assert "In step" in html
    assert _order(html, "Group 2", "Group 3", "Group 4") == ["Group 2", "Group 3", "Group 4"]
    assert 'aria-sort="ascending"' in html


def test_groups_sort_by_column_links_and_filter(client, network):
    html = _page(client, "/network/groups?sort=marginality")
    # Known marginality first, lowest first; York's unknown one last.
    assert _order(html, "Group 2", "Group 3", "Group 4") == ["Group 2", "Group 3", "Group 4"]
    assert 'href="/network/groups?sort=marginality&amp;dir=desc"' in html
    html = _page(client, "/network/groups?sort=marginality&dir=desc")
    assert _order(html, "Group 2", "Group 3", "Group 4") == ["Group 3", "Group 2", "Group 4"]
    html = _page(client, "/network/groups?sort=area&dir=desc")
    assert _order(html, "Group 2", "Group 3", "Group 4") == ["Group 4", "Group 3", "Group 2"]

    filtered = _page(client, "/network/groups?q=manch")
    assert "Group 3" in filtered and "Group 2" not in filtered
    broken = _page(client, "/network/groups?state=chain_broken&q=")
    assert "Group 4" in broken and "Group 3" not in broken
    assert "No followed group matches" in _page(client, "/network/groups?q=100%25_")


def test_groups_sort_by_last_activity_puts_the_latest_first(client, network):
    html = _page(client, "/network/groups?sort=activity")

    # Leeds' last entry is dated now (its campaign); York's too, but later in the fixture.
    assert html.index("Group 4") < html.index("Group 2")


# Events ------------------------------------------------------------------------------------


def test_events_page_lists_upcoming_events_with_group_place_and_state(client, network):
    html = _page(client, "/network/events")

    assert _order(html, "Headingley door knock", "Market stall", "Phone bank") == [
        "Headingley door knock",
        "Market stall",
        "Phone bank",
    ]
    assert "Community hall" in html and "Verified" in html and "Group 3" in html
    assert "until an administrator loads the postcode table" in html


def test_events_near_a_place_with_distance(client, network):
    html = _page(client, "/network/events?near=53.80,-1.55&within=10")

    assert "Headingley door knock" in html and "Phone bank" in html
    assert "Market stall" not in html
    assert re.search(r"0\.\d km", html)
    near_group = _page(client, "/network/events?near=acct:group3@127.0.0.3")
    assert "Market stall" in near_group and "Phone bank" not in near_group
    wide = _page(client, "/network/events?near=53.80,-1.55&within=100&sort=distance&dir=desc")
    assert wide.index("Market stall") < wide.index("Headingley door knock")


def test_events_filter_by_kind_and_dates(client, network, group):
    html = _page(client, "/network/events?kind=phonebank")
    assert "Phone bank" in html and "Market stall" not in html

    # The page reads a date as a day in the group's zone: name the days as it does, or on a
    # summer evening (London ahead of UTC) the UTC date is a day behind.
    zone = ZoneInfo(group.timezone)
    first = upcoming(4).astimezone(zone).date().isoformat()
    html = _page(client, f"/network/events?from={first}&kind=")
    assert "Phone bank" in html and "Headingley door knock" not in html
    last = upcoming(6).astimezone(zone).date().isoformat()
    html = _page(client, f"/network/events?to={last}")
    assert "Market stall" in html and "Phone bank" not in html


def test_events_near_a_postcode_district_once_the_table_is_loaded(app, client, network):
    # A district the shipped centres lack (Northern Ireland's) is placed at its post town.
    approximate = _page(client, "/network/events?near=BT7")
    assert "of <strong>BT7 (Belfast area)</strong>" in approximate
    assert "distances from it are approximate" in approximate
    shipped = _page(client, "/network/events?near=LS6")
    assert "of <strong>LS6</strong>" in shipped and "approximate" not in shipped

    from node.cli.geo import geo_group

    assert app.test_cli_runner().invoke(geo_group, ["load", str(SAMPLE)]).exit_code == 0
    html = _page(client, "/network/events?near=LS6")
    assert "Headingley door knock" in html and "Market stall" not in html
    assert "until an administrator loads the postcode table" not in html
    assert "of <strong>LS6</strong>" in html


# Campaigns ---------------------------------------------------------------------------------


def test_campaigns_page_counts_by_kind_and_status_and_filters(client, network):
    html = _page(client, "/network/campaigns")
    assert 'href="/network/campaigns?kind=community&amp;status=active">2</a>' in html
    assert "Rent caps now" in html and "Get out the vote" in html

    html = _page(client, "/network/campaigns?kind=community&status=active&sort=title")
    assert _order(html, "Rent caps now", "Save the buses") == ["Rent caps now", "Save the buses"]
    assert "Get out the vote</a>" not in html


# Bad input ---------------------------------------------------------------------------------

BAD = [
    ("/network/groups?sort=size", "sort"),
    ("/network/groups?dir=up", "dir"),
    ("/network/groups?state=asleep", "state"),
    ("/network/groups?page=0", "page"),
    ("/network/groups?per_page=1000", "per_page"),
    ("/network/groups?page=two", "page"),
    ("/network/events?from=yesterday", "from"),
    ("/network/events?from=2031-02-30", "from"),
    ("/network/events?from=2031-03-02&to=2031-03-01", "to"),
    ("/network/events?kind=rave", "kind"),
    ("/network/events?near=53.8,-1.5&within=-5", "within"),
    ("/network/events?near=53.8,-1.5&within=nan", "within"),
    ("/network/events?near=53.8,-1.5&within=5000", "within"),
    ("/network/events?within=5", "within"),
    ("/network/events?sort=distance", "sort"),
    ("/network/events?near=91,0", "near"),
    ("/network/events?near=the%20moon", "near"),
    ("/network/events?near=acct:nobody@127.0.0.9", "near"),
    ("/network/events?near=" + "x" * 400, "near"),
    ("/network/needed?near=nowhere", "near"),
    ("/network/needed?sort=distance", "sort"),
    ("/network/campaigns?status=abandoned", "status"),
    ("/network/candidates?office=king", "office"),
    ("/network/candidates?outcome=maybe", "outcome"),
    ("/network/candidates/evidence?outcome=maybe", "outcome"),
]


@pytest.mark.parametrize(("path", "argument"), BAD)
def test_a_bad_argument_is_a_400_page_naming_it(client, path, argument):
    response = client.get(path)

    assert response.status_code == 400
    body = response.get_data(as_text=True)
    if path.startswith(("/network/events", "/network/needed")):
        # Shown inside the search form, which is still there.
        assert f'href="#filter-{argument}"' in body and 'role="search"' in body
        return
    label = argument.replace("_", " ").capitalize()
    assert f"<strong>{label}</strong>" in body


@pytest.mark.parametrize(("path", "argument"), BAD)
def test_a_bad_argument_is_a_400_in_the_api_naming_it(client, path, argument):
    response = client.get("/api/v1" + path)

    if path.startswith("/network/candidates/evidence"):
        assert response.status_code == 404  # the evidence is a page; the API filters instead
        return
    assert response.status_code == 400
    assert argument in response.get_json()["fields"]


def test_pages_ignore_arguments_they_do_not_know_but_the_api_refuses_them(client):
    assert client.get("/network/groups?utm_source=newsletter").status_code == 200
    response = client.get("/api/v1/network/groups?utm_source=newsletter")
    assert response.status_code == 400 and "utm_source" in response.get_json()["fields"]


# The API and the links ---------------------------------------------------------------------


def test_api_lists_groups_events_and_campaigns(client, network):
    groups = client.get("/api/v1/network/groups?sort=marginality").get_json()
    assert [g["name"] for g in groups["items"]] == ["Group 2", "Group 3", "Group 4"]
    leeds = groups["items"][0]
    assert (leeds["seat_name"], leeds["seat_majority"], leeds["state"]) == (
        "Leeds North West",
        800,
        "in_step",
    )
    assert groups["items"][1]["state_label"] == "Behind 3"

    events = client.get("/api/v1/network/events?near=53.80,-1.55&within=10").get_json()
    assert [e["title"] for e in events["items"]] == ["Headingley door knock", "Phone bank"]
    assert events["items"][0]["distance_km"] < 1 and events["within_km"] == 10
    assert events["items"][0]["verification"] == "verified"
    assert events["postcode_districts_loaded"] is False

    campaigns = client.get("/api/v1/network/campaigns?kind=community").get_json()
    assert {c["title"] for c in campaigns["items"]} == {"Rent caps now", "Save the buses"}
    assert {"kind": "community", "status": "active", "count": 2} in campaigns["counts"]


def test_api_lists_are_paged(client, network):
    first = client.get("/api/v1/network/groups?per_page=2").get_json()

    assert first["total"] == 3 and len(first["items"]) == 2 and first["page"] == 1
    second = client.get(first["next"]).get_json()
    assert [g["name"] for g in second["items"]] == ["Group 4"] and second["next"] is None


def test_the_network_routes_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()

    for name in ("groups", "events", "needed", "campaigns", "candidates"):
        operation = spec["paths"][f"/api/v1/network/{name}"]["get"]
        assert operation["tags"] == ["network"]
        assert "Public" in operation["description"]
        assert any(p["in"] == "query" for p in operation["parameters"])
    events = spec["paths"]["/api/v1/network/events"]["get"]
    assert {"near", "within", "from", "to", "kind"} <= {p["name"] for p in events["parameters"]}


def test_the_network_page_links_to_the_national_pages(client, member):
    log_in(client, member)
    html = _page(client, "/network/")

    for path in ("groups", "events", "needed", "campaigns", "candidates"):
        assert f'href="/network/{path}"' in html


def test_remote_text_is_never_markup(client, remote):  # noqa: F811
    group, stored = followed_group(remote, 2, area="<b>Leeds</b>", seat="<script>x</script>")
    group.publish(
        stored, "Create", group.event_at("e", "<i>Rally</i>", starts=upcoming(2), place=LEEDS)
    )

    for path in ("/network/groups", "/network/events", "/network/needed"):
        html = _page(client, path)
        assert "<script>x" not in html and "<b>Leeds" not in html and "<i>Rally" not in html


def test_why_a_server_did_not_answer_stays_private(client, network):
    network["manchester"].state = "unreachable"
    network["manchester"].state_reason = "connection refused by 10.0.0.7:443"
    db.session.commit()

    html = _page(client, "/network/groups")
    body = client.get("/api/v1/network/groups").get_json()

    assert "Unreachable" in html and "10.0.0.7" not in html
    assert "10.0.0.7" not in str(body)
    assert "entry 4: proof does not verify" in str(body)


def test_the_service_and_the_query_schemas_name_the_same_states_and_sorts():
    from node.services.aggregator.national import groups, lists
    from schemas import network as shapes

    assert set(groups.STATE_LABELS) == set(shapes.SYNC_STATES)
    assert set(lists.SORTS["groups"]) == set(shapes.GROUP_SORTS)
    assert set(lists.SORTS["events"]) == set(shapes.EVENT_SORTS)
    assert set(lists.SORTS["needed"]) == set(shapes.NEEDED_SORTS)
    assert set(lists.SORTS["campaigns"]) == set(shapes.CAMPAIGN_SORTS)
    assert set(lists.SORTS["candidates"]) == set(shapes.CANDIDATE_SORTS)


# Events near a place typed as a person types it ----------------------------------------------


def test_events_near_a_town_name(client, network):
    html = _page(client, "/network/events?near=leeds")

    assert "Headingley door knock" in html and "Market stall" not in html
    assert "of <strong>Leeds, England</strong>" in html
    assert 'value="leeds"' in html  # what was typed stays in the box
    assert 'class="map"' in html and "leaflet/leaflet.js" in html


@pytest.mark.parametrize(
    ("query", "field", "typed"),
    [
        ("near=Narnia", "near", "Narnia"),
        ("near=Leeds&within=-5", "within", "-5"),
        ("near=Leeds&within=abc", "within", "abc"),
    ],
)
def test_a_bad_place_or_radius_is_shown_inside_the_form_with_what_was_typed(
    client, network, query, field, typed
):
    response = client.get(f"/network/events?{query}")
    html = response.get_data(as_text=True)

    assert response.status_code == 400
    assert 'role="search"' in html  # the form, not a bare error page
    assert f'id="filter-{field}-error"' in html
    box = re.search(rf'<input id="filter-{field}"[^>]*>', html).group(0)
    assert f'value="{typed}"' in box and 'aria-invalid="true"' in box
    if field == "near":
        assert "We cannot find “Narnia”" in html
    assert "Headingley door knock" not in html


def test_an_aggregators_home_page_is_the_national_view(client, group, network):
    group.role = "aggregator"
    db.session.commit()

    html = _page(client, "/")

    assert "Events near you" in html and 'action="/network/events"' in html
    for path in ("/network/needed", "/network/groups", "/network/campaigns", "/network/candidates"):
        assert f'href="{path}"' in html
    assert "Headingley door knock" in html
