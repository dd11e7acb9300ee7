"""Invitations by mail: "Add a member" and "Invite" mail the link (real SMTP, aiosmtpd), the
pending list shows expiry and state, Resend kills the old link, Revoke stops it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import Invite, Member, OutboundMail
from node.services import mail
from node.services.membership import invitations
from node.services.messaging import deliverability
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.mail_support import smtp_settings

NEW_PASSWORD = "a long enough passphrase 42"
LINK = re.compile(r"(http://localhost/invite/[A-Za-z0-9_-]+)")


@pytest.fixture
def app_config(app_config, mailbox):
    return smtp_settings(app_config, mailbox)


@pytest.fixture
def as_organiser(client, organiser):
    log_in(client, organiser)
    return client


def _deliver() -> None:
    mail.send_due(limit=100)


def _mailed_link(mailbox, address: str) -> str:
    found = [m for _, to, m in mailbox.received if to == [address]]
    assert found, f"no mail to {address}"
    plain = found[-1].get_body(("plain",)).get_content()
    return LINK.search(plain).group(1)


def _join(client, link: str, email: str):
    return post_form(
        client,
        link.removeprefix("http://localhost"),
        {
            "email": email,
            "display_name": "Nia",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
    )


def test_adding_a_member_mails_the_link_and_it_works(app, as_organiser, mailbox):
    response = post_form(
        as_organiser,
        "/manage/members/new",
        {"display_name": "Nia New", "email": "nia@example.org", "role": "member"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "We have mailed the invitation to nia@example.org" in html
    shown = LINK.search(html).group(1)  # the fallback, for when the mail does not arrive

    _deliver()
    [(_, to, message)] = mailbox.received
    assert to == ["nia@example.org"]
    assert "invitation" in message["Subject"].lower()
    assert _mailed_link(mailbox, "nia@example.org") == shown
    assert message.get_body(("html",)) is not None
    row = db.session.scalar(select(OutboundMail))
    assert row.kind == "account" and row.source.startswith("invitation:")

    fresh = app.test_client()
    assert fresh.get(shown.removeprefix("http://localhost")).status_code == 200
    assert _join(fresh, shown, "nia@example.org").status_code == 302
    db.session.expire_all()
    joined = db.session.scalar(select(Member).where(Member.email == "nia@example.org"))
    assert joined.password_hash is not None


def test_invite_with_an_address_mails_it_and_names_the_inviter(as_organiser, organiser, mailbox):
    response = post_form(
        as_organiser,
        "/manage/members/invite",
        {"role": "organiser", "email": "Sam@Example.org", "display_name": "Sam"},
    )
    assert response.status_code == 200
    _deliver()
    plain = mailbox.received[0][2].get_body(("plain",)).get_content()
    assert mailbox.received[0][1] == ["sam@example.org"]
    assert organiser.display_name in plain and "as an organiser" in plain
    assert "Hello Sam" in plain


def test_invite_without_an_address_stays_an_open_link_and_mails_nothing(as_organiser, mailbox):
    response = post_form(as_organiser, "/manage/members/invite", {"role": "member"})
    assert response.status_code == 200
    assert "Anyone who opens this link" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(OutboundMail)) == 0


def test_invite_with_a_bad_address_is_a_400_naming_the_field(as_organiser):
    response = post_form(
        as_organiser, "/manage/members/invite", {"role": "member", "email": "not-an-address"}
    )
    assert response.status_code == 400
    assert 'id="f-email-error"' in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Invite)) == 0


def test_inviting_an_address_twice_says_resend_instead(as_organiser):
    post_form(as_organiser, "/manage/members/invite", {"role": "member", "email": "a@example.org"})
    again = post_form(
        as_organiser, "/manage/members/invite", {"role": "member", "email": "a@example.org"}
    )
    assert again.status_code == 409 and "resend it" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Invite)) == 1


def test_members_page_lists_pending_invitations_with_sender_and_expiry(as_organiser, organiser):
    invitations.invite(organiser, email="pending@example.org")
    found = db.session.scalar(select(Invite))
    html = as_organiser.get("/manage/members/").get_data(as_text=True)
    assert "Invitations sent" in html and "pending@example.org" in html
    assert organiser.display_name in html
    assert found.expires_at.strftime("%d %b %Y") in html  # shown, 14 days on
    assert found.expires_at - found.created_at == timedelta(days=14)
    assert "state-pending" in html


def test_expired_and_bounced_invitations_say_so(as_organiser, organiser):
    invitations.invite(organiser, email="late@example.org")
    invitations.invite(organiser, email="gone@example.org")
    late = db.session.scalar(select(Invite).where(Invite.email == "late@example.org"))
    late.expires_at = late.created_at - timedelta(seconds=1)
    deliverability.bounced("gone@example.org", "550 5.1.1 no such user")
    db.session.commit()

    states = {row.invite.email: row.state for row in invitations.sent_invitations()}
    assert states == {"late@example.org": "expired", "gone@example.org": "bounced"}
    html = as_organiser.get("/manage/members/").get_data(as_text=True)
    assert "state-expired" in html and "state-bounced" in html
    assert "Bounced 1×" in html


def test_resend_mails_a_new_link_and_the_old_one_stops_working(app, as_organiser, mailbox):
    post_form(as_organiser, "/manage/members/invite", {"role": "member", "email": "r@example.org"})
    _deliver()
    old = _mailed_link(mailbox, "r@example.org")
    found = db.session.scalar(select(Invite))
    found.expires_at = found.created_at + timedelta(days=1)  # nearly out
    db.session.commit()

    response = post_form(
        as_organiser, f"/manage/members/invitations/{found.id}/resend", page="/manage/members/"
    )
    assert response.status_code == 200
    _deliver()
    new = _mailed_link(mailbox, "r@example.org")
    assert new != old and len(mailbox.received) == 2
    db.session.refresh(found)
    assert found.expires_at - found.created_at == timedelta(days=14)

    fresh = app.test_client()
    assert fresh.get(old.removeprefix("http://localhost")).status_code == 404
    assert fresh.get(new.removeprefix("http://localhost")).status_code == 200


def test_revoke_stops_the_link(app, as_organiser, organiser):
    token = invitations.invite(organiser, email="x@example.org")
    found = db.session.scalar(select(Invite))
    response = post_form(
        as_organiser, f"/manage/members/invitations/{found.id}/revoke", page="/manage/members/"
    )
    assert response.status_code == 302
    assert app.test_client().get(f"/invite/{token}").status_code == 404
    html = as_organiser.get("/manage/members/").get_data(as_text=True)
    assert "Revoked the invitation to x@example.org" in html and "No invitations waiting" in html


def test_an_organiser_cannot_resend_or_revoke_an_admin_invitation(as_organiser, admin):
    invitations.invite(admin, role="admin", email="boss@example.org")
    found = db.session.scalar(select(Invite))
    for action in ("resend", "revoke"):
        response = post_form(
            as_organiser,
            f"/manage/members/invitations/{found.id}/{action}",
            page="/manage/members/",
        )
        assert response.status_code == 403
    assert db.session.get(Invite, found.id) is not None


def test_members_get_403_on_invitation_pages(client, member, organiser):
    invitations.invite(organiser, email="y@example.org")
    found = db.session.scalar(select(Invite))
    log_in(client, member)
    assert client.get("/manage/members/import").status_code == 403
    assert client.get("/manage/members/mail-problems").status_code == 403
    response = client.post(f"/manage/members/invitations/{found.id}/revoke")
    assert response.status_code in (400, 403)  # no CSRF token: refused either way
    assert db.session.get(Invite, found.id) is not None


def test_resend_without_csrf_is_refused(as_organiser, organiser):
    invitations.invite(organiser, email="z@example.org")
    found = db.session.scalar(select(Invite))
    response = as_organiser.post(f"/manage/members/invitations/{found.id}/resend")
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(OutboundMail)) == 1


def test_suppressed_address_is_marked_on_members_list_and_invitations(as_organiser, organiser):
    factories.member(email="bouncy@example.org", display_name="Bo")
    invitations.invite(organiser, email="dead@example.org")
    for _ in range(3):
        deliverability.bounced("bouncy@example.org", "550 5.1.1 user unknown")
        deliverability.bounced("dead@example.org", "550 5.1.1 user unknown")
    db.session.commit()
    html = as_organiser.get("/manage/members/").get_data(as_text=True)
    assert html.count("Mail suppressed") == 2
