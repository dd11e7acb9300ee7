"""Twinning between groups: proposals, answers and endings as signed feed entries."""

from __future__ import annotations

from sqlalchemy import func, select

from federation.proofs import verify_object
from node.extensions import db
from node.models import Delivery, FeedEntry, Following, Peer, Twinning
from node.services.twins import twinning
from tests.conftest import log_in, post_form
from tests.node.federation_support import OUR_ACTOR, FakePeer, follow_peer, remote  # noqa: F401
from tests.node.pages_support import field_error, text_of
from tests.node.twinning_support import (
    TWIN,
    offer_entry,
    our_entries,
    push,
    sent_to,
    twin_with,
)


def _twin() -> Twinning:
    db.session.expire_all()
    return db.session.scalar(select(Twinning))


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _propose_from_the_page(client, target: str, note: str = ""):
    return post_form(client, "/manage/twins", {"target": target, "note": note})


# Proposing ----------------------------------------------------------------------------


def test_organiser_proposes_and_a_signed_offer_goes_to_the_group_and_the_feed(
    client,
    organiser,
    remote,  # noqa: F811
    node_keys,
):
    peer = FakePeer(2)
    peer.serve(remote)
    log_in(client, organiser)

    answer = _propose_from_the_page(client, "acct:group2@127.0.0.2", "Safe seat, marginal seat")

    assert answer.status_code == 302, text_of(answer)[:1000]
    twin = _twin()
    assert (twin.state, twin.direction, twin.proposed_by_id) == (
        "proposed",
        "outgoing",
        organiser.id,
    )
    (offer,) = our_entries("Offer")
    assert offer["actor"] == OUR_ACTOR and offer["target"] == peer.actor
    assert peer.actor in offer["to"]
    relation = offer["object"]
    assert relation["type"] == "Relationship" and relation["relationship"] == TWIN
    assert (relation["subject"], relation["object"]) == (OUR_ACTOR, peer.actor)
    assert relation["summary"] == "Safe seat, marginal seat"
    assert twin.offer_activity_id == offer["id"] and twin.relationship_id == relation["id"]
    verify_object(offer, lambda _key_id: node_keys.proof.public_key())
    # Delivered to the other group's inbox (it does not follow us yet), and nothing else.
    assert [body["id"] for body in sent_to(peer)] == [offer["id"]]
    page = text_of(client.get("/manage/twins"))
    assert "Group 2" in page and "Proposed by us" in page


def test_proposal_from_the_command_line(app, group, remote):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    runner = app.test_cli_runner()
    from node.cli.twin import twin_group

    done = runner.invoke(twin_group, ["propose", peer.actor, "--note", "Let's twin"])

    assert done.exit_code == 0, done.output
    assert "Proposed twinning to Group 2" in done.output
    listed = runner.invoke(twin_group, ["list"])
    assert listed.output.splitlines() == ["1\tproposed\twe proposed\tgroup2@127.0.0.2\tGroup 2"]
    assert _twin().note == "Let's twin"


def test_proposal_with_bad_input_is_a_400_on_the_field_and_writes_nothing(
    client,
    organiser,
    remote,  # noqa: F811
):
    log_in(client, organiser)
    cases = [
        ({"target": ""}, "target"),
        ({"target": "not a handle"}, "target"),
        ({"target": "x" * 2001}, "target"),
        ({"target": "acct:group2@127.0.0.2", "note": "n" * 501}, "note"),
        ({"target": "acct:group2@127.0.0.2", "note": "bell \x07"}, "note"),
    ]
    for form, field in cases:
        answer = post_form(client, "/manage/twins", form)
        assert answer.status_code == 400, (form, answer.status_code)
        assert field_error(text_of(answer), field), form
    assert _count(Twinning) == _count(FeedEntry) == _count(Delivery) == 0


def test_a_plain_fediverse_account_cannot_be_twinned(client, organiser, remote):  # noqa: F811
    person = FakePeer(4, actor_type="Person", branchline=False)
    person.serve(remote)
    log_in(client, organiser)

    answer = _propose_from_the_page(client, person.actor)

    assert answer.status_code == 400 and field_error(text_of(answer), "target")
    assert _count(Twinning) == _count(FeedEntry) == 0


def test_members_may_not_propose(client, member, remote):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    log_in(client, member)
    answer = post_form(client, "/manage/twins", {"target": peer.actor}, page="/account")
    assert answer.status_code == 403
    assert _count(Twinning) == _count(FeedEntry) == 0


# Their answer to our proposal ---------------------------------------------------------


def _proposed(peer: FakePeer, mock) -> Twinning:
    peer.serve(mock)
    return twinning.propose(peer.actor)


def test_their_accept_twins_us_and_each_shows_the_other(client, group, remote):  # noqa: F811
    peer = FakePeer(2)
    twin = _proposed(peer, remote)
    accept = peer.entry("Accept", {"id": twin.offer_activity_id, "type": "Offer"})
    assert "Twinned with" not in text_of(client.get("/"))  # visitors' copy, kept till a change

    assert push(client, peer, accept).status_code == 202

    twin = _twin()
    assert twin.state == "active" and twin.answer_activity_id == accept["id"]
    # Twins follow each other: now that it accepted, we ask to follow it.
    assert [body["object"] for body in sent_to(peer, "Follow")] == [peer.actor]
    assert db.session.scalar(select(Following)).state == "pending"
    home = text_of(client.get("/"))
    assert "Twinned with" in home and "Group 2" in home and f'href="{peer.base}/"' in home


def test_their_reject_declines(client, group, remote):  # noqa: F811
    peer = FakePeer(2)
    twin = _proposed(peer, remote)
    reject = peer.activity("Reject", twin.offer_activity_id)

    assert peer.post(client, reject).status_code == 202

    assert _twin().state == "declined"
    assert "Twinned with" not in text_of(client.get("/"))


def test_a_forged_answer_from_a_third_group_is_refused(client, group, remote):  # noqa: F811
    peer, intruder = FakePeer(2), FakePeer(3)
    twin = _proposed(peer, remote)
    intruder.serve(remote)

    for kind in ("Accept", "Reject"):
        forged = intruder.entry(kind, {"id": twin.offer_activity_id, "type": "Offer"})
        assert push(client, intruder, forged).status_code == 403

    assert _twin().state == "proposed"


# Their proposal to us -----------------------------------------------------------------


def test_their_proposal_waits_for_an_organiser_who_accepts_it_on_the_page(
    client,
    organiser,
    remote,  # noqa: F811
):
    peer = FakePeer(2)
    peer.serve(remote)
    offer = offer_entry(peer, note="<p>We are a safe seat &amp; you are not</p>")

    assert push(client, peer, offer).status_code == 202
    assert push(client, peer, offer).status_code == 202  # the same proposal twice: once

    twin = _twin()
    note = "We are a safe seat & you are not"
    assert (twin.state, twin.direction, twin.note) == ("incoming", "incoming", note)
    log_in(client, organiser)
    page = text_of(client.get("/manage/twins"))
    assert "Proposals waiting for your answer" in page
    assert "We are a safe seat &amp; you are not" in page

    answer = post_form(client, f"/manage/twins/{twin.id}/accept", page="/manage/twins")

    assert answer.status_code == 302
    twin = _twin()
    assert (twin.state, twin.answered_by_id) == ("active", organiser.id)
    (accept,) = our_entries("Accept")
    assert accept["object"]["id"] == offer["id"] and peer.actor in accept["to"]
    assert [body["id"] for body in sent_to(peer, "Accept")] == [accept["id"]]
    # Twins follow each other: we ask to follow the proposer.
    assert [body["object"] for body in sent_to(peer, "Follow")] == [peer.actor]
    assert "Group 2" in text_of(client.get("/"))


def test_organiser_declines_their_proposal(client, organiser, remote):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    push(client, peer, offer_entry(peer))
    log_in(client, organiser)

    answer = post_form(client, f"/manage/twins/{_twin().id}/decline", page="/manage/twins")

    assert answer.status_code == 302
    assert _twin().state == "declined"
    (reject,) = our_entries("Reject")
    assert reject["object"]["id"] == peer.entries[0]["id"]
    assert sent_to(peer, "Reject") and not sent_to(peer, "Follow")


def test_a_proposal_naming_another_proposer_is_refused(client, group, remote):  # noqa: F811
    peer, other = FakePeer(2), FakePeer(3)
    peer.serve(remote)

    answer = push(client, peer, offer_entry(peer, subject=other.actor))

    assert answer.status_code == 403
    assert _count(Twinning) == 0


def test_a_proposal_to_another_group_is_not_ours_to_answer(client, group, remote):  # noqa: F811
    peer = FakePeer(2)
    follow_peer(peer, remote)

    answer = push(client, peer, offer_entry(peer, other="http://127.0.0.9/actor"))

    assert answer.status_code == 202
    assert _count(Twinning) == 0


def test_proposals_that_cross_twin_both_groups_at_once(client, group, remote):  # noqa: F811
    peer = FakePeer(2)
    _proposed(peer, remote)

    assert push(client, peer, offer_entry(peer)).status_code == 202

    twin = _twin()
    assert twin.state == "active"
    (accept,) = our_entries("Accept")
    assert accept["object"]["id"] == peer.entries[-1]["id"]


# Ending -------------------------------------------------------------------------------


def test_either_side_can_end_a_twinning(client, organiser, remote):  # noqa: F811
    peer = FakePeer(2)
    twin = twin_with(client, peer, remote)
    accept_id = twin.answer_activity_id
    log_in(client, organiser)
    assert "Group 2" in text_of(client.get("/"))

    answer = post_form(client, f"/manage/twins/{twin.id}/end", page="/manage/twins")

    assert answer.status_code == 302
    assert _twin().state == "ended"
    (undo,) = our_entries("Undo")
    assert undo["object"]["id"] == accept_id and undo["object"]["type"] == "Accept"
    assert [body["id"] for body in sent_to(peer, "Undo")] == [undo["id"]]
    post_form(client, "/logout", page="/account")
    assert "Twinned with" not in text_of(client.get("/"))


def test_their_undo_ends_the_twinning(client, group, remote):  # noqa: F811
    peer = FakePeer(2)
    twin_with(client, peer, remote)
    offer_id = peer.entries[0]["id"]

    undo = peer.entry("Undo", {"id": offer_id, "type": "Offer", "actor": peer.actor})
    assert push(client, peer, undo).status_code == 202

    assert _twin().state == "ended"
    assert twinning.twinned_peers() == []


def test_ending_can_be_followed_by_a_new_proposal(client, group, remote):  # noqa: F811
    peer = FakePeer(2)
    twin = twin_with(client, peer, remote)
    twinning.end(twin)

    again = twinning.propose(peer.actor)

    assert again.id == twin.id and again.state == "proposed"
    assert len(our_entries("Offer")) == 1 and len(our_entries("Undo")) == 1


def test_twinned_peers_lists_only_active_twins(client, group, remote):  # noqa: F811
    first, second = FakePeer(2), FakePeer(3)
    twin_with(client, first, remote)
    _proposed(second, remote)

    assert [peer.actor_id for peer in twinning.twinned_peers()] == [first.actor]
    assert db.session.scalar(select(Peer).where(Peer.actor_id == second.actor)) is not None


def test_answering_and_ending_from_the_command_line(app, client, group, remote):  # noqa: F811
    from node.cli.twin import twin_group

    peer = FakePeer(2)
    peer.serve(remote)
    push(client, peer, offer_entry(peer))
    runner = app.test_cli_runner()

    listed = runner.invoke(twin_group, ["list"]).output
    assert listed.startswith("1\tincoming\tthey proposed\tgroup2@127.0.0.2")
    accepted = runner.invoke(twin_group, ["accept", "1"])
    assert accepted.exit_code == 0 and "Twinned with Group 2." in accepted.output
    assert _twin().state == "active"
    again = runner.invoke(twin_group, ["decline", peer.actor])
    assert again.exit_code != 0 and "waiting for this group's answer" in again.output
    ended = runner.invoke(twin_group, ["end", peer.actor])
    assert ended.exit_code == 0 and "Ended the twinning with Group 2." in ended.output
    assert _twin().state == "ended"
    unknown = runner.invoke(twin_group, ["end", "acct:nobody@127.0.0.9"])
    assert unknown.exit_code != 0 and "no twinning" in unknown.output
