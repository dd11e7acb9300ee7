"""RSVPs without an account: ask by name and e-mail, confirm or cancel from the link."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

from sqlalchemy import func, select

from node import create_app
from node.extensions import db
from node.models import Event, GuestRsvp, OutboundMail, utcnow
from node.services.errors import Conflict, Invalid
from node.services.organising import events, guests
from node.worker import Worker
from tests import factories
from tests.conftest import csrf_token, log_in, post_form
from tests.node.pages_support import field_error

LINK = re.compile(r"/rsvp/(glt_[A-Za-z0-9_-]+)")


def _mail_to(address: str) -> list[OutboundMail]:
    return list(
        db.session.scalars(
            select(OutboundMail).where(OutboundMail.to_address == address).order_by(OutboundMail.id)
        )
    )


def _token(address: str) -> str:
    """The token in the newest link e-mailed to ``address``."""
    return LINK.findall(_mail_to(address)[-1].body)[-1]


def _guests() -> int:
    return db.session.scalar(select(func.count()).select_from(GuestRsvp))


def _going_count(event: Event) -> int:
    db.session.expire_all()
    return db.session.get(Event, event.id).going_count


def _ask(client, event, name="Sam Visitor", email="sam@example.org", page=None, **kwargs):
    return post_form(
        client,
        f"/events/{event.id}/guest-rsvp",
        {"name": name, "email": email},
        page=page or f"/events/{event.id}",
        **kwargs,
    )


def test_a_visitor_asks_and_gets_a_link_but_holds_no_place_until_confirming(client):
    event = factories.event(capacity=3)
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "E-mail me the link" in page
    asked = _ask(client, event, email="Sam@Example.org")
    assert asked.status_code == 302
    assert "e-mailed" in client.get(asked.headers["Location"]).get_data(as_text=True)
    [sent] = _mail_to("sam@example.org")
    assert sent.subject.startswith("Confirm you are coming") and "/rsvp/glt_" in sent.body
    guest = db.session.scalars(select(GuestRsvp)).one()
    assert guest.state == "pending" and _going_count(event) == 0
    assert _token("sam@example.org") not in guest.token_hash  # only the hash is kept

    token = _token("sam@example.org")
    shown = client.get(f"/rsvp/{token}")
    assert shown.status_code == 200 and "Confirm my place" in shown.get_data(as_text=True)
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in shown.headers["Cache-Control"]
    assert _going_count(event) == 0  # opening the link (a mail scanner) changes nothing

    confirmed = post_form(client, f"/rsvp/{token}", {"action": "confirm"})
    assert confirmed.status_code == 302
    assert "you are going" in client.get(f"/rsvp/{token}").get_data(as_text=True)
    assert _going_count(event) == 1
    assert db.session.scalars(select(GuestRsvp)).one().confirmed_at is not None


def test_the_guest_cancels_from_the_link_and_the_place_is_freed(client):
    event = factories.event(capacity=1)
    _ask(client, event)
    token = _token("sam@example.org")
    post_form(client, f"/rsvp/{token}", {"action": "confirm"})
    assert _going_count(event) == 1
    post_form(client, f"/rsvp/{token}", {"action": "cancel"})
    assert _going_count(event) == 0
    assert db.session.scalars(select(GuestRsvp.state)).one() == "cancelled"
    again = client.get(f"/rsvp/{token}").get_data(as_text=True)
    assert "you cancelled" in again and "I can come after all" in again


def test_bad_input_is_a_400_with_the_field_and_nothing_written(client):
    event = factories.event()
    for data, name in (
        ({"name": "", "email": "sam@example.org"}, "name"),
        ({"name": "Sam", "email": "not an address"}, "email"),
        ({"name": "Sam\x07", "email": "sam@example.org"}, "name"),
        ({"name": "Sam", "email": "x@" + "a" * 260 + ".org"}, "email"),
    ):
        refused = _ask(client, event, **data)
        assert refused.status_code == 400
        assert field_error(refused.get_data(as_text=True), name)
    assert _guests() == 0 and _mail_to("sam@example.org") == []


def test_a_full_event_refuses_the_confirmation_and_keeps_the_count(client):
    event = factories.event(capacity=1)
    _ask(client, event, email="first@example.org")
    _ask(client, event, email="second@example.org")
    post_form(client, f"/rsvp/{_token('first@example.org')}", {"action": "confirm"})
    token = _token("second@example.org")
    refused = post_form(client, f"/rsvp/{token}", {"action": "confirm"})
    assert refused.status_code == 409 and "full" in refused.get_data(as_text=True)
    assert _going_count(event) == 1
    state = db.session.scalar(
        select(GuestRsvp.state).where(GuestRsvp.email == "second@example.org")
    )
    assert state == "pending"


def test_forged_and_replaced_links_are_a_404(client):
    event = factories.event()
    _ask(client, event)
    old = _token("sam@example.org")
    assert client.get("/rsvp/glt_forged").status_code == 404
    assert client.get("/rsvp/not-a-token").status_code == 404
    assert (
        post_form(client, "/rsvp/glt_forged", {"action": "confirm"}, page="/login").status_code
        == 404
    )
    # Asking again (after the resend pause) sends a new link; the old one stops working.
    db.session.execute(db.update(GuestRsvp).values(mailed_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    _ask(client, event)
    assert _token("sam@example.org") != old
    assert client.get(f"/rsvp/{old}").status_code == 404


def test_asking_again_soon_sends_no_second_mail_and_says_the_same(client):
    event = factories.event()
    first = _ask(client, event)
    second = _ask(client, event)
    assert first.status_code == second.status_code == 302
    assert len(_mail_to("sam@example.org")) == 1 and _guests() == 1


def test_a_confirmed_guest_asking_again_gets_their_cancel_link(client):
    event = factories.event()
    _ask(client, event)
    post_form(client, f"/rsvp/{_token('sam@example.org')}", {"action": "confirm"})
    db.session.execute(db.update(GuestRsvp).values(mailed_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    _ask(client, event, name="Somebody Else")
    newest = _mail_to("sam@example.org")[-1]
    assert newest.subject.startswith("Your place at") and "cancel" in newest.body
    guest = db.session.scalars(select(GuestRsvp)).one()
    assert guest.state == "going" and guest.name == "Sam Visitor"  # the name stands
    assert _going_count(event) == 1


def test_members_only_cancelled_and_past_events_take_no_guests(client):
    hidden = factories.event(visibility="members")
    assert _ask(client, hidden, page="/login").status_code == 404
    cancelled = factories.event(status="cancelled")
    assert _ask(client, cancelled, page="/login").status_code == 409
    assert "RSVPs are closed" in client.get(f"/events/{cancelled.id}").get_data(as_text=True)
    past = factories.event(starts_at=utcnow() - timedelta(days=2))
    assert _ask(client, past, page="/login").status_code == 409
    assert _guests() == 0


def test_a_logged_in_member_is_sent_to_their_own_form(client, member):
    event = factories.event()
    log_in(client, member)
    assert "E-mail me the link" not in client.get(f"/events/{event.id}").get_data(as_text=True)
    assert _ask(client, event).status_code == 302 and _guests() == 0


def test_a_cancelled_event_refuses_confirmation_but_not_cancellation(client):
    event = factories.event()
    _ask(client, event)
    token = _token("sam@example.org")
    post_form(client, f"/rsvp/{token}", {"action": "confirm"})
    events.cancel(db.session.get(Event, event.id))
    form_page = f"/events/{factories.event().id}"  # the cancelled event's own page has none

    def post(action):
        return post_form(client, f"/rsvp/{token}", {"action": action}, page=form_page)

    assert post("cancel").status_code == 302
    assert post("confirm").status_code == 409
    assert post("other").status_code == 400


def test_guests_and_members_share_the_places(group, member):
    event = factories.event(capacity=1)
    guests.ask(event, "Sam", "sam@example.org")
    guest = db.session.scalars(select(GuestRsvp)).one()
    guests.confirm(guest)
    try:
        events.respond(db.session.get(Event, event.id), member, "going")
    except Conflict as exc:
        assert "full" in exc.message
    else:
        raise AssertionError("the member got a place the guest held")


def test_the_service_refuses_a_blank_name(group):
    event = factories.event()
    try:
        guests.ask(event, "   ", "sam@example.org")
    except Invalid as exc:
        assert "name" in exc.fields
    else:
        raise AssertionError("a blank name was accepted")
    assert _guests() == 0


def test_two_clicks_on_confirm_at_once_take_one_place(app, group):
    event = factories.event(capacity=5)
    guests.ask(event, "Sam", "sam@example.org")
    guest_id = db.session.scalars(select(GuestRsvp.id)).one()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def click() -> None:
        with app.app_context():
            try:
                found = db.session.get(GuestRsvp, guest_id)
                start.wait()
                guests.confirm(found)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _going_count(event) == 1


def test_guests_details_are_erased_long_after_the_event_and_the_counts_stay(app, group):
    old = factories.event(starts_at=utcnow() - timedelta(days=100))
    recent = factories.event(starts_at=utcnow() - timedelta(days=10))
    for event in (old, recent):
        db.session.add(
            GuestRsvp(
                event_id=event.id,
                name="Sam",
                email=f"sam{event.id}@example.org",
                state="going",
                token_hash=f"hash{event.id}",
                checked_in_at=event.starts_at,
            )
        )
    db.session.commit()
    report = Worker(app).run_once()
    assert report.forgotten == 1
    db.session.expire_all()
    erased = db.session.scalars(select(GuestRsvp).where(GuestRsvp.event_id == old.id)).one()
    assert (erased.name, erased.email, erased.token_hash) == ("", None, None)
    assert (erased.state, erased.checked_in_at is not None) == ("going", True)
    kept = db.session.scalars(select(GuestRsvp).where(GuestRsvp.event_id == recent.id)).one()
    assert kept.email == f"sam{recent.id}@example.org"
    assert Worker(app).run_once().forgotten == 0
    app.config["GUEST_RETENTION_DAYS"] = 0  # keep them
    assert guests.forget_past(utcnow() + timedelta(days=365)) == 0


# Request limits (finding 4 of issue 13): the form mails any address, so asks are counted
# per client address, per event and per node, in the database every worker shares.

PER_CLIENT = "GUEST_RSVP_PER_CLIENT_HOURLY"
PER_EVENT = "GUEST_RSVP_PER_EVENT_HOURLY"
PER_NODE = "GUEST_RSVP_PER_NODE_HOURLY"


def _mails() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(OutboundMail))


def _ask_from(client, event, n: int, address: str = "127.0.0.1"):
    """Ask for a place for visitor ``n`` from the client address ``address``."""
    return _ask(
        client, event, email=f"visitor{n}@example.org", environ_base={"REMOTE_ADDR": address}
    )


def test_a_flood_from_one_address_is_cut_at_the_limit_and_mails_nothing_more(app, client):
    app.config[PER_CLIENT] = 3
    event = factories.event()
    answers = [_ask_from(client, event, n) for n in range(6)]
    assert [answer.status_code for answer in answers] == [302, 302, 302, 429, 429, 429]
    assert _mails() == 3 and _guests() == 3
    refused = answers[-1]
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    page = refused.get_data(as_text=True)
    assert "Too many" in page and "Nothing was sent" in page and "E-mail me the link" in page
    assert _mail_to("visitor5@example.org") == []
    # Another client address is still served.
    assert _ask_from(client, event, 9, "192.0.2.7").status_code == 302
    assert _mails() == 4


def test_a_flood_across_many_addresses_is_cut_per_event_and_then_per_node(app, client):
    app.config[PER_EVENT] = 3
    app.config[PER_NODE] = 5
    first, second = factories.event(), factories.event()
    answers = [_ask_from(client, first, n, f"198.51.100.{n}") for n in range(5)]
    assert [answer.status_code for answer in answers] == [302, 302, 302, 429, 429]
    assert _mails() == 3
    # Another event has its own count, until the node's count is spent.
    answers = [_ask_from(client, second, n, f"203.0.113.{n}") for n in range(10, 14)]
    assert [answer.status_code for answer in answers] == [302, 302, 429, 429]
    assert _mails() == 5
    assert "Retry-After" in answers[-1].headers


def test_the_limit_holds_across_two_app_instances_sharing_one_database(
    app, app_config, node_keys, client
):
    """Two create_app() on one database stand in for two gunicorn workers."""
    app.config[PER_CLIENT] = 3
    other = create_app({**app_config, PER_CLIENT: 3})
    other.extensions["branchline_keys"] = node_keys
    event = factories.event()
    clients = (client, other.test_client())
    answers = [_ask_from(clients[n % 2], event, n).status_code for n in range(6)]
    assert answers == [302, 302, 302, 429, 429, 429]
    assert _mails() == 3


def test_addresses_in_one_ipv6_64_share_a_count(app, client):
    app.config[PER_CLIENT] = 2
    event = factories.event()
    answers = [_ask_from(client, event, n, f"2001:db8:1:2::{n + 1:x}") for n in range(3)]
    assert [answer.status_code for answer in answers] == [302, 302, 429]
    assert _ask_from(client, event, 7, "2001:db8:1:3::1").status_code == 302


def test_simultaneous_asks_never_both_take_the_last_place_in_the_count(app, client):
    app.config[PER_CLIENT] = 3
    event = factories.event()
    callers = [app.test_client() for _ in range(6)]
    tokens = [csrf_token(caller, f"/events/{event.id}") for caller in callers]
    start = threading.Barrier(len(callers))
    answers: dict[int, int] = {}

    def ask(n: int) -> None:
        start.wait()
        answers[n] = (
            callers[n]
            .post(
                f"/events/{event.id}/guest-rsvp",
                data={"name": "Sam", "email": f"v{n}@example.org", "csrf_token": tokens[n]},
            )
            .status_code
        )

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(len(callers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers.values()) == [302, 302, 302, 429, 429, 429]
    assert _mails() == 3


def test_the_mail_opens_with_the_nodes_own_words_not_the_visitors(client, group):
    event = factories.event(title="Canvass Chapel Allerton")
    spam = "Claim your prize at http://prize.example"
    _ask(client, event, name=spam, email="someone@example.org")
    [sent] = _mail_to("someone@example.org")
    first = sent.body.splitlines()[0]
    assert first.startswith("Someone asked") and event.title in first and group.name in first
    assert "prize" not in sent.body and "prize" not in sent.subject
    assert "Hello" not in sent.body
    # A confirmed guest asking again gets their cancel link, still with no typed text.
    post_form(client, f"/rsvp/{_token('someone@example.org')}", {"action": "confirm"})
    db.session.execute(db.update(GuestRsvp).values(mailed_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    _ask(client, event, name=spam, email="someone@example.org")
    newest = _mail_to("someone@example.org")[-1]
    assert newest.body.splitlines()[0].startswith("Someone asked") and "prize" not in newest.body
