"""Request limits counted in the node's database: shared by workers, atomic, and tidied up."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import Flask, jsonify
from limits import parse
from sqlalchemy import func, select

from node import create_app, request_limits
from node.config import Defaults
from node.extensions import db
from node.models import RequestCount, utcnow
from tests import factories
from tests.conftest import log_in, post_form


def _counts() -> list[RequestCount]:
    db.session.expire_all()
    return list(db.session.scalars(select(RequestCount).order_by(RequestCount.key)))


def _ask(client, event, n: int):
    return post_form(
        client,
        f"/events/{event.id}/guest-rsvp",
        {"name": "Sam", "email": f"visitor{n}@example.org"},
        page=f"/events/{event.id}",
    )


def test_the_counts_live_in_the_database_and_expired_ones_are_deleted(app, client):
    stale = utcnow() - timedelta(minutes=1)
    db.session.add_all(
        [
            RequestCount(key=f"LIMITER/old{n}/guests.ask/10/1/hour", count=3, expires_at=stale)
            for n in range(3)
        ]
    )
    db.session.commit()
    assert _ask(client, factories.event(), 1).status_code == 302
    counts = _counts()
    # One row for each of the three limits the ask spent; the stale rows are gone.
    assert len(counts) == 3 and all(found.expires_at > utcnow() for found in counts)
    assert {found.count for found in counts} == {1}
    # Keyed hashes: a copy of the database does not show who asked.
    assert all(found.key.startswith("hmac:") and "127.0.0.1" not in found.key for found in counts)


def test_an_ended_window_starts_again(app, client):
    app.config["GUEST_RSVP_PER_CLIENT_HOURLY"] = 1
    event = factories.event()
    assert _ask(client, event, 1).status_code == 302
    assert _ask(client, event, 2).status_code == 429
    db.session.execute(db.update(RequestCount).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert _ask(client, event, 3).status_code == 302
    assert {found.count for found in _counts()} == {1}


def test_two_apps_counting_one_key_at_once_never_pass_the_last_place(app, app_config, group):
    """Two apps on one database stand in for two workers; eight hits race for five places."""
    other = create_app(app_config)
    item = parse("5/hour")
    start = threading.Barrier(8)
    passed: list[bool] = []
    errors: list[BaseException] = []

    def hit(which: Flask) -> None:
        with which.test_request_context("/"):
            try:
                start.wait()
                passed.append(request_limits.limiter_of(which).limiter.hit(item, "shared-key"))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=hit, args=((app, other)[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(passed) == [False] * 3 + [True] * 5
    assert db.session.scalar(select(func.max(RequestCount.count))) == 8


def test_a_limit_setting_that_is_not_a_whole_number_stops_the_node_starting(app_config):
    for bad in ("lots", -1, 2.5, True):
        with pytest.raises(ValueError, match="GUEST_RSVP_PER_EVENT_HOURLY"):
            create_app({**app_config, "GUEST_RSVP_PER_EVENT_HOURLY": bad})


def test_a_limit_set_to_zero_is_off(app, client):
    app.config["GUEST_RSVP_PER_CLIENT_HOURLY"] = 0
    event = factories.event()
    assert all(_ask(client, event, n).status_code == 302 for n in range(12))
    assert len(_counts()) == 2  # the event's and the node's counts, not the client's


def test_any_route_can_be_limited_and_is_answered_with_429_and_retry_after(app_config):
    """How another route (a log-in form, reset requests) uses the same limiter."""
    other = Flask("limited")
    other.config.from_object(Defaults)
    other.config["SQLALCHEMY_DATABASE_URI"] = app_config["DATABASE_URL"]
    other.secret_key = "a secret for this test"
    db.init_app(other)

    @request_limits.limit("2/hour", key_func=lambda: "everyone")
    def ping():
        return jsonify(ok=True)

    other.add_url_rule("/api/v1/ping", view_func=ping, methods=["POST"])
    request_limits.init_app(other)
    caller = other.test_client()
    answers = [caller.post("/api/v1/ping") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[-1].get_json()["error"].startswith("Too many")
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 3600


def test_a_member_posting_the_guest_form_spends_no_count(app, client, member):
    log_in(client, member)
    assert _ask(client, factories.event(), 1).status_code == 302
    assert _counts() == []


def test_an_application_wide_limit_still_counts_pages_no_view_limits(app_config):
    # Unmarked views skip the limiter only while no default or application-wide limit is set.
    app = create_app(dict(app_config, RATELIMIT_APPLICATION="2/hour"))
    with app.app_context():
        factories.group()
        client = app.test_client()
        assert [client.get("/news").status_code for _ in range(3)] == [200, 200, 429]
