"""The Network page, the organisers' follow pages, and the follow commands."""

from __future__ import annotations

import json

from sqlalchemy import select

from node.cli.follow import follow as follow_command
from node.cli.follow import following_list as following_command
from node.cli.follow import unfollow as unfollow_command
from node.extensions import db
from node.models import Delivery, Follower, Following
from node.services.peering.remote_feed import apply_entry
from tests.conftest import log_in, post_form
from tests.node.federation_support import (  # noqa: F401
    OUR_ACTOR,
    FakePeer,
    body_of,
    follow_peer,
    remote,
)


def _publish(stored_peer, peer: FakePeer, kind: str, obj: dict) -> None:
    entry = peer.entry(kind, obj)
    assert apply_entry(stored_peer, entry, body_of(entry).decode()).applied
    db.session.commit()


def test_network_page_shows_followed_groups_items_with_their_state(
    client,
    member,
    remote,  # noqa: F811
):
    peer = FakePeer(2)
    stored = follow_peer(peer, remote)
    _publish(stored, peer, "Create", peer.event("rally", "Rally <b>at</b> the hall"))
    log_in(client, member)

    html = client.get("/network/").get_data(as_text=True)

    assert "Rally at the hall" in html and "<b>at" not in html  # remote text is never markup
    assert "Group 2" in html and "Verified" in html

    stored.state = "chain_broken"
    db.session.commit()
    assert "Chain broken" in client.get("/network/?kind=events").get_data(as_text=True)


def test_network_page_hides_unfollowed_and_deleted_items(client, member, remote):  # noqa: F811
    peer = FakePeer(2)
    stored = follow_peer(peer, remote)
    event = peer.event("rally", "Rally")
    _publish(stored, peer, "Create", event)
    _publish(stored, peer, "Create", peer.event("march", "March"))
    _publish(stored, peer, "Delete", event["id"])
    log_in(client, member)

    html = client.get("/network/").get_data(as_text=True)
    assert "March" in html and "Rally" not in html

    db.session.delete(db.session.scalar(select(Following)))
    db.session.commit()
    assert "March" not in client.get("/network/").get_data(as_text=True)


def test_network_page_shows_plain_fediverse_posts_as_signature_only(
    client,
    member,
    remote,  # noqa: F811
):
    person = FakePeer(4, actor_type="Person", branchline=False)
    follow_peer(person, remote)
    note = {
        "id": f"{person.base}/notes/1",
        "type": "Note",
        "content": "<p>Door knocking <script>alert(1)</script></p>",
        "attributedTo": person.actor,
    }
    assert person.post(client, person.activity("Create", note)).status_code == 202
    log_in(client, member)

    html = client.get("/network/?kind=posts").get_data(as_text=True)

    assert "Door knocking" in html and "Signature only" in html
    assert "<script>alert" not in html


def test_unknown_network_kind_is_not_found(client, member):
    log_in(client, member)
    assert client.get("/network/?kind=secrets").status_code == 404


def test_organiser_follows_a_group_from_the_page(client, organiser, remote):  # noqa: F811
    peer = FakePeer(3)
    peer.serve(remote)
    log_in(client, organiser)

    response = post_form(client, "/network/following", {"target": "acct:group3@127.0.0.3"})

    assert response.status_code == 302
    following = db.session.scalar(select(Following))
    assert following.state == "pending" and following.peer.actor_id == peer.actor
    page = client.get("/network/following").get_data(as_text=True)
    assert "Group 3" in page and "Pending" in page


def test_follow_form_explains_what_went_wrong(client, organiser, remote):  # noqa: F811
    log_in(client, organiser)
    blank = post_form(client, "/network/following", {"target": ""})
    assert blank.status_code == 400 and "Give a handle" in blank.get_data(as_text=True)
    nonsense = post_form(client, "/network/following", {"target": "not a handle"})
    assert nonsense.status_code == 400
    unreachable = post_form(client, "/network/following", {"target": "http://127.0.0.7/actor"})
    assert unreachable.status_code == 400 and "Could not fetch" in unreachable.get_data(
        as_text=True
    )
    assert db.session.scalar(select(Following)) is None


def test_organiser_unfollows_with_the_button(client, organiser, remote):  # noqa: F811
    peer = FakePeer(3)
    follow_peer(peer, remote)
    following = db.session.scalar(select(Following))
    log_in(client, organiser)

    response = post_form(
        client, f"/network/following/{following.id}/unfollow", page="/network/following"
    )

    assert response.status_code == 302
    assert db.session.scalar(select(Following)) is None
    assert json.loads(db.session.scalar(select(Delivery)).body)["type"] == "Undo"


def test_organiser_approves_and_rejects_waiting_followers(
    client,
    group,
    organiser,
    remote,  # noqa: F811
):
    group.follow_approval = True
    db.session.commit()
    first, second = FakePeer(2), FakePeer(3)
    for peer in (first, second):
        peer.serve(remote)
        peer.post(client, peer.activity("Follow", OUR_ACTOR))
    waiting = {f.peer.actor_id: f.id for f in db.session.scalars(select(Follower))}
    log_in(client, organiser)
    assert "Approve" in client.get("/network/followers").get_data(as_text=True)

    post_form(
        client, f"/network/followers/{waiting[first.actor]}/approve", page="/network/followers"
    )
    post_form(
        client, f"/network/followers/{waiting[second.actor]}/reject", page="/network/followers"
    )

    (left,) = db.session.scalars(select(Follower))
    assert left.peer.actor_id == first.actor and left.state == "accepted"
    sent = [json.loads(d.body) for d in db.session.scalars(select(Delivery).order_by(Delivery.id))]
    assert [(d["type"], d["to"][0]) for d in sent] == [
        ("Accept", first.actor),
        ("Reject", second.actor),
    ]


def test_follow_commands(app, remote):  # noqa: F811
    peer = FakePeer(3)
    peer.serve(remote)
    runner = app.test_cli_runner()

    followed = runner.invoke(follow_command, ["acct:group3@127.0.0.3"])
    listed = runner.invoke(following_command, [])
    dropped = runner.invoke(unfollow_command, [peer.actor])
    empty = runner.invoke(following_command, [])
    missing = runner.invoke(unfollow_command, [peer.actor])

    assert followed.exit_code == 0 and "Group 3" in followed.output
    assert "group3@127.0.0.3\tpending" in listed.output
    assert dropped.exit_code == 0 and "No longer following" in dropped.output
    assert "follows nobody" in empty.output
    assert missing.exit_code != 0 and "does not follow" in missing.output


def test_follow_command_explains_a_failure(app, remote):  # noqa: F811
    result = app.test_cli_runner().invoke(follow_command, ["http://127.0.0.7/actor"])
    assert result.exit_code != 0 and "Could not fetch" in result.output
