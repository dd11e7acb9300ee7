"""The "what next" checklist on the Manage dashboard: ticked from the database, put away."""

from __future__ import annotations

import re

from node.extensions import db
from node.models import Following, Invite, Peer
from node.services import checklist
from tests import factories
from tests.conftest import log_in, post_form


def _ticks(client) -> dict[str, bool]:
    html = client.get("/manage/").get_data(as_text=True)
    return {
        key: state == "done"
        for state, key in re.findall(r'class="(done|todo)" id="step-(\w+)"', html)
    }


def test_each_step_is_ticked_once_the_database_holds_it(client, group, admin):
    group.summary = ""
    db.session.commit()
    log_in(client, admin)
    assert _ticks(client) == {"profile": False, "event": False, "invite": False, "network": False}

    group.summary = "Members in Chapel Allerton and Roundhay."
    factories.event(title="First meeting")
    db.session.add(
        Invite(token_hash="a" * 64, email="new@example.org", expires_at=factories.soon(7))
    )
    db.session.commit()
    assert _ticks(client) == {"profile": True, "event": True, "invite": True, "network": False}

    peer = Peer(actor_id="https://calder.example/actor")
    db.session.add(peer)
    db.session.flush()
    db.session.add(Following(peer_id=peer.id, follow_activity_id="https://x.example/f/1"))
    db.session.commit()
    # Every step done: the checklist has nothing left to say and goes.
    assert _ticks(client) == {}
    assert "What next" not in client.get("/manage/").get_data(as_text=True)


def test_an_admin_puts_the_checklist_away(client, group, admin):
    log_in(client, admin)
    assert "What next" in client.get("/manage/").get_data(as_text=True)

    response = post_form(client, "/manage/checklist/dismiss", page="/manage/")

    assert response.status_code == 302
    assert group.checklist_dismissed_at is not None
    assert "What next" not in client.get("/manage/").get_data(as_text=True)


def test_dismissing_needs_an_organiser_and_a_csrf_token(client, group):
    member = factories.member()
    log_in(client, member)
    assert post_form(client, "/manage/checklist/dismiss", page="/account").status_code == 403
    assert client.post("/manage/checklist/dismiss").status_code == 400
    assert group.checklist_dismissed_at is None


def test_the_steps_say_what_to_do_and_where(group):
    steps = checklist.steps(group)
    assert [step.key for step in steps] == ["profile", "event", "invite", "network"]
    assert checklist.pending(group) == steps
