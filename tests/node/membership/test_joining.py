"""The public "Join us" form, and organisers deciding the requests in Manage."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import FeedEntry, Group, Invite, JoinRequest, Member
from node.services.membership import joining
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.mail_support import delivered, plain, smtp_settings

ROBIN = {"name": "Robin Hood", "email": "Robin@Example.org", "postcode": "ls7 3hb"}


@pytest.fixture
def app_config(app_config, mailbox):
    return smtp_settings(app_config, mailbox)


def _ask(client, **form):
    return post_form(client, "/join", {**ROBIN, **form}, page="/join")


def _requests() -> list[JoinRequest]:
    db.session.expire_all()
    return list(db.session.scalars(select(JoinRequest)))


def _set_questions(group, text: str, joining_open: bool = True) -> None:
    joining.save_settings(db.session.get(Group, group.id), joining_open, text)


def test_the_group_page_invites_visitors_to_join(client, group):
    page = client.get("/").get_data(as_text=True)

    assert 'href="/join"' in page and "Join us" in page


def test_a_visitor_asks_to_join_and_is_told_by_mail(client, group, mailbox):
    _set_questions(group, "What would you like to help with?")

    answer = _ask(client, answer_0="Leafleting")

    assert answer.status_code == 302
    (found,) = _requests()
    assert (found.name, found.email, found.postcode) == (
        "Robin Hood",
        "robin@example.org",
        "LS7 3HB",
    )
    assert [(a.question, a.answer) for a in joining.answers_of(found)] == [
        ("What would you like to help with?", "Leafleting")
    ]
    (message,) = delivered(mailbox)["robin@example.org"]
    assert "request to join" in message["Subject"]
    assert "organisers will look at your request" in plain(message)
    assert "Robin Hood" not in plain(message)  # only the node's words go to an unconfirmed address
    assert "we have your request to join" in client.get("/").get_data(as_text=True)


def test_the_form_shows_the_groups_questions(client, group):
    _set_questions(group, "Which ward do you live in?\nCan you drive?")

    page = client.get("/join").get_data(as_text=True)

    assert "Which ward do you live in?" in page and "Can you drive?" in page
    assert 'name="answer_1"' in page and 'name="answer_2"' not in page


def test_every_mistake_is_shown_at_once_with_what_was_typed_kept(client, group):
    answer = _ask(client, name="", email="not an address", postcode="nowhere")

    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="f-name-error"' in page and 'id="f-email-error"' in page
    assert "Enter a postcode like LS7 3HB" in page
    assert 'value="not an address"' in page and 'value="nowhere"' in page
    assert _requests() == []


def test_a_filled_robot_field_stores_nothing_and_sends_nothing(client, group, mailbox):
    answer = _ask(client, website="http://spam.example")

    assert answer.status_code == 302  # the same answer as a person gets
    assert _requests() == []
    assert delivered(mailbox) == {}


def test_a_members_address_or_one_already_waiting_gets_the_same_answer_and_no_mail(
    client, group, mailbox
):
    factories.member(email="robin@example.org")
    assert _ask(client).status_code == 302
    assert _ask(client, email="sam@example.org").status_code == 302
    delivered(mailbox)
    mailbox.received.clear()

    assert _ask(client, email="sam@example.org", name="Sam again").status_code == 302

    assert [found.email for found in _requests()] == ["sam@example.org"]
    assert delivered(mailbox) == {}


def test_when_joining_is_off_the_form_says_so_and_takes_nothing(client, group):
    _set_questions(group, "", joining_open=False)

    page = client.get("/join").get_data(as_text=True)
    answer = post_form(client, "/join", ROBIN, page="/login")  # a form kept open in a tab

    assert "not taking requests to join" in page and 'name="postcode"' not in page
    assert answer.status_code == 403
    assert _requests() == []
    assert 'href="/join"' not in client.get("/").get_data(as_text=True)


def test_requests_are_limited_per_client_and_the_form_is_kept(app, client, group):
    app.config["JOIN_REQUESTS_PER_CLIENT_HOURLY"] = 2
    for n in range(2):
        assert _ask(client, email=f"person{n}@example.org").status_code == 302

    answer = _ask(client, email="third@example.org", name="Third Person")

    assert answer.status_code == 429
    page = answer.get_data(as_text=True)
    assert "Too many requests to join" in page and 'value="Third Person"' in page
    assert len(_requests()) == 2


def test_the_form_refuses_a_post_without_its_csrf_token(client, group):
    answer = client.post("/join", data=ROBIN)

    assert answer.status_code == 400
    assert _requests() == []


def test_an_organiser_approves_and_the_person_gets_the_usual_invitation(
    client, group, organiser, mailbox
):
    joining.ask("Robin Hood", "robin@example.org", "LS7", [])
    log_in(client, organiser)
    overview = client.get("/manage/").get_data(as_text=True)
    assert re.search(r"<strong>1</strong> waiting to join", overview)
    listing = client.get("/manage/joining/").get_data(as_text=True)
    assert "Robin Hood" in listing and "robin@example.org" in listing
    assert re.search(r'aria-current="page">Members<', listing)  # under the Members tab
    (found,) = _requests()
    delivered(mailbox)
    mailbox.received.clear()

    answer = post_form(client, f"/manage/joining/{found.id}/approve", page="/manage/joining/")

    assert answer.status_code == 302
    assert _requests() == []
    member = db.session.scalar(select(Member).where(Member.email == "robin@example.org"))
    assert (member.display_name, member.role, member.password_hash) == (
        "Robin Hood",
        "member",
        None,
    )
    (message,) = delivered(mailbox)["robin@example.org"]
    assert "invitation" in message["Subject"].lower()
    link = re.search(r"http://localhost(/invite/[A-Za-z0-9_-]+)", plain(message)).group(1)
    post_form(client, "/logout", page="/")
    assert 'value="Robin Hood"' in client.get(link).get_data(as_text=True)


def test_approving_an_address_that_became_a_members_keeps_the_request(client, group, organiser):
    joining.ask("Robin Hood", "robin@example.org", "LS7", [])
    factories.member(email="robin@example.org")
    (found,) = _requests()
    log_in(client, organiser)

    answer = post_form(client, f"/manage/joining/{found.id}/approve", page="/manage/joining/")

    assert answer.status_code == 302
    assert "Could not approve Robin Hood" in client.get("/manage/joining/").get_data(as_text=True)
    assert [r.id for r in _requests()] == [found.id]
    assert db.session.scalar(select(func.count()).select_from(Invite)) == 0


@pytest.mark.parametrize(("tell", "mails"), [(None, 1), ("no", 0)])
def test_declining_deletes_the_request_and_mails_a_polite_answer_unless_told_not_to(
    client, group, organiser, mailbox, tell, mails
):
    joining.ask("Robin Hood", "robin@example.org", "LS7", [])
    (found,) = _requests()
    delivered(mailbox)
    mailbox.received.clear()
    log_in(client, organiser)

    form = {"tell": tell} if tell else {}
    post_form(client, f"/manage/joining/{found.id}/decline", form, page="/manage/joining/")

    assert _requests() == []
    assert db.session.scalar(select(Member).where(Member.email == "robin@example.org")) is None
    received = delivered(mailbox).get("robin@example.org", [])
    assert len(received) == mails
    if mails:
        assert "not able to accept" in plain(received[0])


def test_a_request_already_decided_is_a_404(client, group, organiser):
    log_in(client, organiser)

    answer = post_form(client, "/manage/joining/999/approve", page="/manage/joining/")

    assert answer.status_code == 404


def test_settings_refuse_too_many_questions_and_keep_what_was_typed(client, group, organiser):
    log_in(client, organiser)
    typed = "\n".join(f"Question {n}?" for n in range(6))

    answer = post_form(
        client,
        "/manage/joining/settings",
        {"joining_open": "1", "join_questions": typed},
        page="/manage/joining/",
    )

    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "5 questions at most" in page and "Question 5?" in page
    assert joining.questions() == []


def test_organisers_turn_joining_off_and_set_questions(client, group, organiser):
    log_in(client, organiser)

    post_form(
        client,
        "/manage/joining/settings",
        {"join_questions": " Can you drive? \n\n"},
        page="/manage/joining/",
    )

    db.session.expire_all()
    assert joining.is_open() is False
    assert joining.questions() == ["Can you drive?"]


def test_a_member_cannot_see_or_decide_requests(client, group, member):
    joining.ask("Robin Hood", "robin@example.org", "LS7", [])
    log_in(client, member)

    assert client.get("/manage/joining/").status_code == 403


def test_nothing_of_a_request_is_federated(client, group, organiser):
    joining.ask("Robin Hood", "robin@example.org", "LS7 3HB", ["Leafleting"])
    (found,) = _requests()
    log_in(client, organiser)
    post_form(client, f"/manage/joining/{found.id}/approve", page="/manage/joining/")

    bodies = " ".join(db.session.scalars(select(FeedEntry.body)))
    assert "robin@example.org" not in bodies and "Robin Hood" not in bodies


def test_the_same_address_sent_twice_at_once_keeps_one_request(group, mailbox, monkeypatch):
    joining.ask("Robin Hood", "robin@example.org", "LS7", [])
    # The second request checked before the first was stored: the database refuses the copy.
    monkeypatch.setattr(joining, "_pending_for", lambda _email: None)

    joining.ask("Robin Again", "robin@example.org", "LS7", [])

    assert [found.name for found in _requests()] == ["Robin Hood"]
    assert len(delivered(mailbox)["robin@example.org"]) == 1
