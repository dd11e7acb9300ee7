"""Organisers add, invite, change and remove members; the role rules hold in the forms."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import Invite, Member
from tests import factories
from tests.conftest import log_in, post_form

INVITE_LINK = re.compile(r'value="(http://localhost/invite/[^"]+)"')


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def as_organiser(client, organiser):
    log_in(client, organiser)
    return client


@pytest.fixture
def as_admin(client, admin):
    log_in(client, admin)
    return client


def test_members_list_filters_by_role_and_status(as_organiser):
    factories.member(display_name="Olu Organiser", role="organiser")
    factories.member(display_name="Sid Suspended", status="suspended")

    organisers = as_organiser.get("/manage/members/?role=organiser").get_data(as_text=True)
    suspended = as_organiser.get("/manage/members/?status=suspended").get_data(as_text=True)

    assert "Olu Organiser" in organisers and "Sid Suspended" not in organisers
    assert "Sid Suspended" in suspended and "Olu Organiser" not in suspended


def test_adding_a_member_shows_their_invite_link_once(as_organiser, client):
    response = post_form(
        as_organiser,
        "/manage/members/new",
        {"display_name": "Nia New", "email": "Nia@Example.org", "role": "member"},
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    added = db.session.scalar(select(Member).where(Member.email == "nia@example.org"))
    assert added is not None and added.password_hash is None and added.role == "member"
    link = INVITE_LINK.search(html).group(1)
    assert client.get(link.removeprefix("http://localhost")).status_code == 200
    assert link not in as_organiser.get("/manage/members/").get_data(as_text=True)


def test_adding_a_member_with_a_bad_address_writes_nothing(as_organiser):
    before = count(Member), count(Invite)

    response = post_form(
        as_organiser,
        "/manage/members/new",
        {"display_name": "Nia", "email": "not-an-address", "role": "member"},
    )

    assert response.status_code == 400
    assert (count(Member), count(Invite)) == before
    assert 'value="not-an-address"' in response.get_data(as_text=True)


def test_adding_an_existing_address_is_shown_on_the_field(as_organiser, member):
    before = count(Member)

    response = post_form(
        as_organiser,
        "/manage/members/new",
        {"display_name": "Again", "email": member.email, "role": "member"},
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert count(Member) == before
    assert "already exists" in html
    assert 'id="f-email-error"' in html


def test_organiser_cannot_add_an_admin(as_organiser):
    before = count(Member)

    response = post_form(
        as_organiser,
        "/manage/members/new",
        {"display_name": "Ada", "email": "ada@example.org", "role": "admin"},
    )

    assert response.status_code == 403
    assert count(Member) == before
    assert "Only an admin can" in response.get_data(as_text=True)


def test_organiser_is_not_offered_the_admin_role(as_organiser):
    html = as_organiser.get("/manage/members/new").get_data(as_text=True)
    assert '<option value="organiser"' in html
    assert '<option value="admin"' not in html


@pytest.mark.parametrize("role", ["member", "organiser"])
def test_organiser_makes_an_invitation_link_for_a_role(as_organiser, role):
    before = count(Invite)

    response = post_form(as_organiser, "/manage/members/invite", {"role": role})

    assert response.status_code == 200
    assert INVITE_LINK.search(response.get_data(as_text=True))
    assert count(Invite) == before + 1
    assert db.session.scalars(select(Invite)).all()[-1].role == role


def test_organiser_cannot_make_an_admin_invitation(as_organiser):
    before = count(Invite)
    response = post_form(as_organiser, "/manage/members/invite", {"role": "admin"})
    assert response.status_code == 403
    assert count(Invite) == before


def test_admin_can_make_an_admin_invitation(as_admin):
    response = post_form(as_admin, "/manage/members/invite", {"role": "admin"})
    assert response.status_code == 200
    assert INVITE_LINK.search(response.get_data(as_text=True))


def test_unknown_role_in_an_invitation_is_a_400(as_organiser):
    before = count(Invite)
    response = post_form(as_organiser, "/manage/members/invite", {"role": "owner"})
    assert response.status_code == 400
    assert count(Invite) == before


def test_organiser_promotes_a_member_to_organiser(as_organiser, member):
    response = post_form(
        as_organiser,
        f"/manage/members/{member.id}",
        {"display_name": member.display_name, "role": "organiser", "status": "active"},
    )

    assert response.status_code == 302
    db.session.refresh(member)
    assert member.role == "organiser"


def test_organiser_cannot_make_anyone_admin(as_organiser, member):
    response = post_form(
        as_organiser,
        f"/manage/members/{member.id}",
        {"display_name": member.display_name, "role": "admin", "status": "active"},
    )

    assert response.status_code == 403
    assert "Only an admin can" in response.get_data(as_text=True)
    db.session.refresh(member)
    assert member.role == "member"


def test_organiser_sees_an_admins_role_but_cannot_change_it(as_organiser, admin):
    page = as_organiser.get(f"/manage/members/{admin.id}").get_data(as_text=True)
    assert re.search(r'<select id="f-role"[^>]*disabled', page)

    # A hand-made request is refused by the service all the same.
    response = post_form(
        as_organiser,
        f"/manage/members/{admin.id}",
        {"display_name": admin.display_name, "role": "member", "status": "suspended"},
    )

    assert response.status_code == 302  # the disabled fields are not read: only the name
    db.session.refresh(admin)
    assert (admin.role, admin.status) == ("admin", "active")


def test_admin_makes_a_member_admin(as_admin, member):
    response = post_form(
        as_admin,
        f"/manage/members/{member.id}",
        {"display_name": member.display_name, "role": "admin", "status": "active"},
    )
    assert response.status_code == 302
    db.session.refresh(member)
    assert member.role == "admin"


def test_last_admin_cannot_be_demoted(as_admin, admin):
    response = post_form(
        as_admin,
        f"/manage/members/{admin.id}",
        {"display_name": admin.display_name, "role": "organiser", "status": "active"},
    )

    assert response.status_code == 409
    assert "at least one active admin" in response.get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.role == "admin"


def test_bad_status_rerenders_with_the_error(as_organiser, member):
    response = post_form(
        as_organiser,
        f"/manage/members/{member.id}",
        {"display_name": "", "role": "member", "status": "vanished"},
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="f-status-error"' in html and 'id="f-display_name-error"' in html
    db.session.refresh(member)
    assert member.status == "active"


def test_remove_asks_first_then_erases_the_member(as_organiser, member):
    confirm = as_organiser.get(f"/manage/members/{member.id}/remove")
    assert confirm.status_code == 200
    assert member.email in confirm.get_data(as_text=True)

    response = post_form(
        as_organiser,
        f"/manage/members/{member.id}/remove",
        page=f"/manage/members/{member.id}/remove",
    )

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Member, member.id) is None


def test_last_admin_cannot_be_removed(as_admin, admin):
    response = post_form(
        as_admin, f"/manage/members/{admin.id}/remove", page=f"/manage/members/{admin.id}/remove"
    )

    assert response.status_code == 409
    assert "at least one active admin" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Member, admin.id) is not None


def test_organiser_cannot_remove_an_admin(as_organiser, admin):
    response = post_form(
        as_organiser,
        f"/manage/members/{admin.id}/remove",
        page=f"/manage/members/{admin.id}/remove",
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Member, admin.id) is not None


def test_organiser_who_steps_down_is_sent_to_the_group_page(as_organiser, organiser):
    response = post_form(
        as_organiser,
        f"/manage/members/{organiser.id}",
        {"display_name": organiser.display_name, "role": "member", "status": "active"},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert as_organiser.get("/manage/").status_code == 403
