"""Browser sessions stored on the server: logging out ends them, here or everywhere."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from node.extensions import db
from node.models import MemberSession
from tests.conftest import log_in, post_form
from tests.node.pages_support import text_of

COOKIE = "branchline_session"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def _browser(client, user_agent: str = FIREFOX):
    browser = client.application.test_client()
    browser.environ_base["HTTP_USER_AGENT"] = user_agent
    return browser


def _copy_of_cookie(browser):
    """Another browser holding a copy of ``browser``'s session cookie, as a thief would."""
    thief = browser.application.test_client()
    thief.set_cookie(COOKIE, browser.get_cookie(COOKIE).value, domain="localhost")
    return thief


def test_a_cookie_copied_before_log_out_stops_working(client, member):
    log_in(client, member)
    copied = _copy_of_cookie(client)
    assert copied.get("/account").status_code == 200
    assert post_form(client, "/logout", page="/events").status_code == 302
    assert copied.get("/account").status_code == 302  # sent to log in
    assert "Log in" in text_of(copied.get("/"))


def test_logging_out_on_one_device_keeps_the_others(client, member):
    laptop, phone = _browser(client), _browser(client, IPHONE)
    log_in(laptop, member)
    log_in(phone, member)
    post_form(laptop, "/logout", page="/events")
    assert laptop.get("/account").status_code == 302
    assert phone.get("/account").status_code == 200


def test_log_out_everywhere_ends_every_session(client, member):
    laptop, phone = _browser(client), _browser(client, IPHONE)
    log_in(laptop, member)
    log_in(phone, member)
    copied = _copy_of_cookie(laptop)
    response = post_form(laptop, "/account/sessions/end-all", page="/account")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    for browser in (laptop, phone, copied):
        assert browser.get("/account").status_code == 302
    assert log_in(phone, member).status_code == 302  # and they can log in again


def test_account_page_lists_devices_and_logs_one_out(client, member):
    laptop, phone = _browser(client), _browser(client, IPHONE)
    log_in(laptop, member)
    log_in(phone, member)
    page = text_of(laptop.get("/account"))
    assert "Firefox on Linux" in page and "Safari on iPhone" in page
    assert "Log out everywhere" in page
    assert re.search(r"Firefox on Linux <span class=\"badge\">This device", page)
    ids = [int(n) for n in re.findall(r"/account/sessions/(\d+)/end", page)]
    phone_row = db.session.scalar(select(MemberSession).where(MemberSession.device.like("Safari%")))
    assert phone_row.id in ids
    response = post_form(laptop, f"/account/sessions/{phone_row.id}/end", page="/account")
    assert response.status_code == 302
    assert phone.get("/account").status_code == 302
    assert laptop.get("/account").status_code == 200


def test_a_member_cannot_end_someone_elses_session(client, member, organiser):
    theirs = _browser(client)
    log_in(theirs, organiser)
    their_session = db.session.scalar(
        select(MemberSession).where(MemberSession.member_id == organiser.id)
    )
    log_in(client, member)
    response = post_form(client, f"/account/sessions/{their_session.id}/end", page="/account")
    assert response.status_code == 404
    assert theirs.get("/account").status_code == 200


def test_the_database_holds_only_a_hash_of_the_session_key(client, member):
    log_in(client, member)
    with client.session_transaction() as cookie:
        key = cookie["key"]
    stored = db.session.scalars(select(MemberSession.key_hash)).all()
    assert len(stored) == 1 and key not in stored[0] and len(stored[0]) == 64


def test_suspending_a_member_ends_their_sessions(client, member, admin):
    from node.services.membership import members

    log_in(client, member)
    members.change(member, {"status": "suspended"}, actor=admin)
    assert client.get("/account").status_code == 302
    assert db.session.scalars(select(MemberSession)).all() == []


def test_a_session_from_before_stored_sessions_is_logged_out(client, member):
    # Cookies signed before this change held only the member id and a version.
    with client.session_transaction() as cookie:
        cookie["member_id"], cookie["version"] = member.id, member.session_version
    assert client.get("/account").status_code == 302
    assert log_in(client, member).status_code == 302


def _move_last_seen_back(by: timedelta) -> None:
    for row in db.session.scalars(select(MemberSession)):
        row.last_seen_at -= by
    db.session.commit()


def test_last_seen_is_noted_at_most_every_few_minutes(client, member):
    log_in(client, member)
    _move_last_seen_back(timedelta(minutes=10))
    before = db.session.scalar(select(MemberSession.last_seen_at))
    assert client.get("/events").status_code == 200  # a page that writes nothing
    db.session.expire_all()
    seen = db.session.scalar(select(MemberSession.last_seen_at))
    assert seen > before + timedelta(minutes=9)


def test_a_session_unused_for_its_lifetime_is_over(client, member):
    log_in(client, member)
    lifetime = client.application.config["PERMANENT_SESSION_LIFETIME"]
    _move_last_seen_back(timedelta(seconds=lifetime + 60))
    assert client.get("/account").status_code == 302
