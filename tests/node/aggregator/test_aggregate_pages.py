"""/manage/aggregate: the directory page, for admins of an aggregator, with plain forms."""

from __future__ import annotations

import pytest

from node.services.aggregator import directory
from tests.conftest import csrf_token, log_in, post_form
from tests.node.aggregate_support import (
    AGGREGATOR,
    FakeGroup,
    listing,
    web,  # noqa: F401 - a fixture
)
from tests.node.federation_support import OUR_ACTOR

PAGE = "/manage/aggregate"


@pytest.fixture
def app_config(app_config):
    return {**app_config, **AGGREGATOR}


@pytest.fixture
def as_admin(client, admin):
    log_in(client, admin)
    return client


def test_only_admins_see_the_directory(client, organiser):
    assert client.get(PAGE).status_code == 302  # visitors log in first
    log_in(client, organiser)
    assert client.get(PAGE).status_code == 403
    assert "Aggregator" not in client.get("/manage/").get_data(as_text=True)


def test_admins_find_it_in_the_menu(as_admin):
    menu = as_admin.get("/manage/").get_data(as_text=True)

    assert f'href="{PAGE}"' in menu


def test_adding_a_group_by_handle(as_admin, web):  # noqa: F811
    hull = FakeGroup(2)
    hull.serve(web)

    response = post_form(as_admin, PAGE, {"target": "acct:group2@127.0.0.2"})

    assert response.status_code == 302 and response.headers["Location"].endswith(PAGE)
    page = as_admin.get(PAGE).get_data(as_text=True)
    assert "Listed Group 2." in page
    assert "group2@127.0.0.2" in page
    assert listing(hull.actor).state == "listed"
    assert listing(hull.actor).peer.held_seq == 0  # the worker back-fills it


@pytest.mark.parametrize(
    ("target", "message"),
    [("", "Give a handle or an actor URL."), ("not a handle", "Give a handle like")],
)
def test_a_bad_target_is_a_400_on_the_field(as_admin, target, message):
    response = post_form(as_admin, PAGE, {"target": target})

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and 'aria-invalid="true"' in page


def test_forms_need_the_csrf_token(as_admin):
    response = as_admin.post(PAGE, data={"target": "acct:group2@127.0.0.2"})

    assert response.status_code == 400


def _ask(client, web, n: int) -> FakeGroup:  # noqa: F811
    peer = FakeGroup(n)
    peer.serve(web)
    assert peer.post(client, peer.activity("Follow", OUR_ACTOR)).status_code == 202
    return peer


def test_requests_are_approved_or_refused_from_the_page(as_admin, web):  # noqa: F811
    hull, york = _ask(as_admin, web, 2), _ask(as_admin, web, 3)
    page = as_admin.get(PAGE).get_data(as_text=True)
    assert "Asking to be listed" in page and "Group 2" in page and "Group 3" in page

    hull_id, york_id = listing(hull.actor).id, listing(york.actor).id
    approved = post_form(as_admin, f"{PAGE}/{hull_id}/approve", page=PAGE)
    refused = post_form(as_admin, f"{PAGE}/{york_id}/refuse", {"reason": "Spam."}, page=PAGE)

    assert approved.status_code == refused.status_code == 302
    assert listing(hull.actor).state == "listed"
    assert (listing(york.actor).state, listing(york.actor).reason) == ("refused", "Spam.")
    page = as_admin.get(PAGE).get_data(as_text=True)
    assert "Spam." in page and "No group is waiting" in page


def test_removing_from_the_page_and_refusals_that_do_not_apply(as_admin, web):  # noqa: F811
    hull = FakeGroup(2)
    hull.serve(web)
    directory.add(hull.actor)
    found = listing(hull.actor)

    wrong = post_form(as_admin, f"{PAGE}/{found.id}/refuse", page=PAGE)
    removed = post_form(as_admin, f"{PAGE}/{found.id}/remove", {"reason": "Closed."}, page=PAGE)
    missing = post_form(as_admin, f"{PAGE}/9999/remove", page=PAGE)

    assert wrong.status_code == 409 and "remove it instead" in wrong.get_data(as_text=True)
    assert removed.status_code == 302
    assert (listing(hull.actor).state, listing(hull.actor).reason) == ("removed", "Closed.")
    assert missing.status_code == 404


def test_organisers_cannot_post_either(client, organiser):
    log_in(client, organiser)
    token = csrf_token(client, "/account")

    response = client.post(PAGE, data={"target": "acct:group2@127.0.0.2", "csrf_token": token})

    assert response.status_code == 403
