"""First-run setup, log-in and log-out through the HTML forms."""

from __future__ import annotations

from sqlalchemy import func, select

from node.extensions import db
from node.models import Group, Member
from node.services import groups
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.pages_support import field_error, text_of

GOOD_SETUP = {
    "name": "Leeds North Momentum",
    "handle": "leedsnorth",
    "base_url": "https://leedsnorth.example.org",
    "admin_email": "Admin@Example.org",
    "admin_name": "Sam",
    "password": "a long enough password",
    "password_confirm": "a long enough password",
}


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _logged_in_member_id(client):
    with client.session_transaction() as session:
        return session.get("member_id")


# First run ---------------------------------------------------------------------------


def test_setup_without_the_code_is_a_403_saying_where_to_find_it(app):
    client = app.test_client()
    for path in ("/setup", "/setup?code=wrong"):
        response = client.get(path)
        assert response.status_code == 403
        assert "branchline run" in text_of(response)
        assert "setup_code" in text_of(response)


def test_setup_form_carries_the_code_and_prefills_the_address(app):
    client = app.test_client()
    code = groups.setup_code()
    response = client.get(f"/setup?code={code}")
    html = text_of(response)
    assert response.status_code == 200
    assert f'name="code" value="{code}"' in html
    assert 'value="http://localhost/"' in html


def test_setup_post_with_a_wrong_code_is_refused_and_writes_nothing(app):
    client = app.test_client()
    code = groups.setup_code()
    response = post_form(
        client, "/setup", {**GOOD_SETUP, "code": "nope"}, page=f"/setup?code={code}"
    )
    assert response.status_code == 403
    assert _count(Group) == 0 and _count(Member) == 0


def test_setup_with_bad_input_is_a_400_with_field_errors_and_writes_nothing(app):
    client = app.test_client()
    code = groups.setup_code()
    bad = {**GOOD_SETUP, "handle": "Not OK!", "password_confirm": "different", "code": code}
    response = post_form(client, "/setup", bad, page=f"/setup?code={code}")
    html = text_of(response)
    assert response.status_code == 400
    assert field_error(html, "handle") and field_error(html, "password_confirm")
    assert 'role="alert"' in html and 'href="#f-handle"' in html
    assert 'value="Leeds North Momentum"' in html  # what was typed comes back
    assert "a long enough password" not in html  # passwords never do
    assert _count(Group) == 0 and _count(Member) == 0


def test_setup_refuses_a_short_password_on_its_field(app):
    client = app.test_client()
    code = groups.setup_code()
    short = {**GOOD_SETUP, "password": "short", "password_confirm": "short", "code": code}
    response = post_form(client, "/setup", short, page=f"/setup?code={code}")
    assert response.status_code == 400
    assert field_error(text_of(response), "password")
    assert _count(Group) == 0 and _count(Member) == 0


def test_setup_creates_group_and_admin_and_logs_them_in(app):
    client = app.test_client()
    code = groups.setup_code()
    response = post_form(client, "/setup", {**GOOD_SETUP, "code": code}, page=f"/setup?code={code}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/manage/"  # the "what next" checklist
    db.session.expire_all()
    admin = db.session.scalar(select(Member))
    group = db.session.scalar(select(Group))
    assert (group.name, group.handle, group.base_url) == (
        "Leeds North Momentum",
        "leedsnorth",
        "https://leedsnorth.example.org",
    )
    assert (admin.email, admin.role, admin.display_name) == ("admin@example.org", "admin", "Sam")
    assert _logged_in_member_id(client) == admin.id
    again = client.get(f"/setup?code={code}")
    assert again.status_code == 302 and again.headers["Location"] == "/"


def test_setup_without_csrf_token_is_refused(app):
    client = app.test_client()
    code = groups.setup_code()
    response = client.post("/setup", data={**GOOD_SETUP, "code": code})
    assert response.status_code == 400
    assert _count(Group) == 0


# Log-in ------------------------------------------------------------------------------


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert 'autocomplete="current-password"' in text_of(response)


def test_login_with_the_right_password_starts_a_session(client, member):
    response = log_in(client, member)
    assert response.headers["Location"] == "/"
    assert _logged_in_member_id(client) == member.id
    assert "Person" in text_of(client.get("/events"))  # the display name in the header


def test_login_with_a_wrong_password_is_refused_on_the_form(client, member):
    response = post_form(client, "/login", {"email": member.email, "password": "wrong"})
    assert response.status_code == 401
    html = text_of(response)
    assert "do not match" in html and f'value="{member.email}"' in html
    assert _logged_in_member_id(client) is None


def test_login_with_blank_fields_is_a_400(client, member):
    response = post_form(client, "/login", {"email": "", "password": ""})
    assert response.status_code == 400
    assert field_error(text_of(response), "email")


def test_sixth_attempt_is_refused_even_with_the_right_password(client, member):
    for _ in range(5):
        response = post_form(client, "/login", {"email": member.email, "password": "wrong"})
        assert response.status_code == 401
    response = post_form(client, "/login", {"email": member.email, "password": factories.PASSWORD})
    assert response.status_code == 429
    assert "Too many failed log-ins" in text_of(response)
    assert _logged_in_member_id(client) is None


def test_suspended_member_is_told_and_not_logged_in(client, group):
    suspended = factories.member(status="suspended")
    response = post_form(
        client, "/login", {"email": suspended.email, "password": factories.PASSWORD}
    )
    assert response.status_code == 403
    assert "not active" in text_of(response)
    assert _logged_in_member_id(client) is None


def test_login_follows_a_relative_next(client, member):
    data = {"email": member.email, "password": factories.PASSWORD, "next": "/events?when=past"}
    response = post_form(client, "/login", data)
    assert response.headers["Location"] == "/events?when=past"


def test_login_ignores_next_pointing_off_site(client, member):
    for target in (
        "https://evil.example.org/",
        "//evil.example.org/",
        "/\\evil.example.org",
        "javascript:alert(1)",
        "http:/evil.example.org",
    ):
        fresh = client.application.test_client()
        data = {"email": member.email, "password": factories.PASSWORD, "next": target}
        response = post_form(fresh, "/login", data)
        assert response.status_code == 302
        assert response.headers["Location"] == "/", target


def test_login_page_does_not_echo_an_off_site_next(client):
    html = text_of(client.get("/login?next=//evil.example.org"))
    assert "evil.example.org" not in html


def test_pages_needing_a_login_send_visitors_to_it(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/account")


# Log-out -----------------------------------------------------------------------------


def test_logout_needs_post(client, member):
    log_in(client, member)
    assert client.get("/logout").status_code == 405
    assert _logged_in_member_id(client) == member.id


def test_logout_without_csrf_token_is_refused(client, member):
    log_in(client, member)
    assert client.post("/logout").status_code == 400
    assert _logged_in_member_id(client) == member.id


def test_logout_with_csrf_token_ends_the_session(client, member):
    log_in(client, member)
    response = post_form(client, "/logout", page="/events")
    assert response.status_code == 302
    assert _logged_in_member_id(client) is None
    assert "Log in" in text_of(client.get("/"))
