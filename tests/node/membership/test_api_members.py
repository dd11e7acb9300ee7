"""Members through the API (organisers, scope `members`), /me, and the group profile."""

from __future__ import annotations

from node.extensions import db
from node.models import Group, Invite, Member, Rsvp
from node.services.membership import invitations
from tests import factories
from tests.node.api_support import API, assert_error, count


def test_me_describes_the_tokens_member_and_its_effective_scopes(api, member, organiser):
    me = api.get("/me", factories.token(member, "rsvp"))
    assert me.status_code == 200
    assert me.get_json()["email"] == member.email
    assert me.get_json()["scopes"] == ["rsvp"]
    assert "password_hash" not in me.get_json()
    assert api.get("/me", factories.token(organiser)).get_json()["scopes"] == sorted(
        ["read", "rsvp", "vote", "mail", "write", "members", "group", "announce"]
    )
    assert_error(api.get("/me"), 401)


def test_organiser_lists_and_filters_members(api, organiser_token, organiser, member, admin):
    factories.member(status="suspended")
    everyone = api.get("/members", organiser_token).get_json()
    assert everyone["total"] == 4
    organisers = api.get("/members?role=organiser", organiser_token).get_json()
    assert [m["id"] for m in organisers["items"]] == [organiser.id]
    suspended = api.get("/members?status=suspended", organiser_token).get_json()
    assert suspended["total"] == 1
    assert_error(api.get("/members?role=boss", organiser_token), 400, "role")
    got = api.get(f"/members/{member.id}", organiser_token)
    assert got.get_json()["email"] == member.email
    assert_error(api.get("/members/999", organiser_token), 404)


def test_adding_a_member_returns_an_invitation_link(api, organiser_token):
    made = api.post(
        "/members",
        organiser_token,
        json={"email": "New.Person@Example.org", "display_name": "New Person"},
    )
    assert made.status_code == 201, made.get_json()
    document = made.get_json()
    assert document["email"] == "new.person@example.org"
    assert document["role"] == "member" and document["status"] == "active"
    assert made.headers["Location"] == f"http://localhost{API}/members/{document['id']}"
    assert document["invite_url"].startswith("http://localhost/")
    token = document["invite_url"].rstrip("/").rsplit("/", 1)[-1]
    assert invitations.find_invite(token).email == "new.person@example.org"
    assert count(Invite) == 1


def test_adding_a_taken_address_is_a_409_and_writes_nothing(api, organiser_token, member):
    before = (count(Member), count(Invite))
    taken = api.post(
        "/members", organiser_token, json={"email": member.email, "display_name": "Again"}
    )
    assert_error(taken, 409, "email")
    assert (count(Member), count(Invite)) == before


def test_only_admins_grant_or_touch_the_admin_role(api, organiser_token, admin_token, admin):
    refused = api.post(
        "/members",
        organiser_token,
        json={"email": "a@example.org", "display_name": "A", "role": "admin"},
    )
    assert_error(refused, 403)
    assert count(Member) == 2  # the admin and the organiser
    assert_error(
        api.patch(f"/members/{admin.id}", organiser_token, json={"status": "suspended"}), 403
    )
    assert_error(api.delete(f"/members/{admin.id}", organiser_token), 403)
    granted = api.post(
        "/members",
        admin_token,
        json={"email": "a@example.org", "display_name": "A", "role": "admin"},
    )
    assert granted.status_code == 201 and granted.get_json()["role"] == "admin"


def test_the_last_admin_cannot_be_demoted(api, admin_token, admin):
    assert_error(api.patch(f"/members/{admin.id}", admin_token, json={"role": "member"}), 409)
    db.session.expire_all()
    assert db.session.get(Member, admin.id).role == "admin"


def test_organiser_changes_name_role_and_status(api, organiser_token, member):
    changed = api.patch(
        f"/members/{member.id}",
        organiser_token,
        json={"display_name": "Renamed", "role": "organiser"},
    )
    assert changed.status_code == 200
    assert changed.get_json()["display_name"] == "Renamed"
    assert changed.get_json()["role"] == "organiser"


def test_suspending_a_member_stops_their_tokens(api, organiser_token, member, member_token):
    assert api.get("/me", member_token).status_code == 200
    suspended = api.patch(f"/members/{member.id}", organiser_token, json={"status": "suspended"})
    assert suspended.get_json()["status"] == "suspended"
    assert_error(api.get("/me", member_token), 401)


def test_erasing_a_member_frees_their_places(api, organiser_token, member, member_token):
    event = factories.event(capacity=1)
    api.put(f"/events/{event.id}/rsvp", member_token, json={"response": "going"})
    assert api.delete(f"/members/{member.id}", organiser_token).status_code == 204
    assert count(Rsvp) == 0
    db.session.expire_all()
    assert db.session.get(Member, member.id) is None
    assert db.session.get(type(event), event.id).going_count == 0
    assert_error(api.get(f"/members/{member.id}", organiser_token), 404)


def test_group_profile_is_public_and_organisers_change_it(api, organiser):
    shown = api.get("/group")
    assert shown.status_code == 200
    assert shown.get_json()["handle"] == "leedsnorth"
    assert shown.get_json()["url"] == "http://localhost/"
    assert "contact_email" in shown.get_json()

    token = factories.token(organiser, "group")
    changed = api.patch("/group", token, json={"summary": "New summary", "seat_majority": 812})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["summary"] == "New summary"
    assert changed.get_json()["name"] == "Leeds North Momentum"  # untouched
    db.session.expire_all()
    assert db.session.get(Group, 1).seat_majority == 812

    writer = factories.token(organiser, "write")
    assert_error(api.patch("/group", writer, json={"summary": "x"}), 403)


def test_a_null_display_name_is_refused_and_the_name_kept(client, organiser, member):
    token = factories.token(organiser)
    response = client.patch(
        f"/api/v1/members/{member.id}",
        json={"display_name": None},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert "display_name" in response.get_json()["fields"]
    assert member.display_name != ""
