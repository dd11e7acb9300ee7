"""``/held/entries``: a followed group's entries, served back to that group and no one else."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

from federation.httpsig import sign_request
from tests.node.federation_support import FakePeer, body_of, follow_peer


def _url(actor: str, **params) -> str:
    return "http://localhost/held/entries?" + urlencode({"actor": actor, **params})


def _signed_get(client, url: str, signer: FakePeer):
    headers = sign_request("GET", url, {}, None, signer.key_id, signer.http_key, datetime.now(UTC))
    return client.get(url, headers=headers)


def _holding(client, remote, count: int = 3) -> FakePeer:
    peer = FakePeer(2)
    follow_peer(peer, remote)
    for n in range(count):
        entry = peer.entry("Create", peer.event(f"e{n}", f"Event {n}"))
        body = body_of(entry)
        answer = client.post("/inbox", data=body, headers=peer.signed_headers(body))
        assert answer.status_code == 202, answer.get_json()
    return peer


def test_the_group_gets_its_own_entries_back_verbatim(client, remote):
    peer = _holding(client, remote)

    answer = _signed_get(client, _url(peer.actor, after=1, limit=1), peer)

    assert answer.status_code == 200, answer.get_json()
    page = json.loads(answer.get_data(as_text=True))
    assert page["heldSeq"] == 3
    assert [entry["seq"] for entry in page["orderedItems"]] == [2]
    assert page["orderedItems"][0] == peer.entries[1]
    assert "after=2" in page["next"]


def test_an_unsigned_request_is_refused(client, remote):
    peer = _holding(client, remote, 1)

    answer = client.get(_url(peer.actor))

    assert answer.status_code == 401


def test_another_actor_may_not_read_what_this_node_holds(client, remote):
    peer = _holding(client, remote, 1)
    stranger = FakePeer(3)
    stranger.serve(remote)

    answer = _signed_get(client, _url(peer.actor), stranger)

    assert answer.status_code == 403
    assert "orderedItems" not in answer.get_data(as_text=True)


def test_bad_parameters_are_named(client, remote):
    peer = _holding(client, remote, 1)

    assert client.get("/held/entries").get_json()["fields"] == {
        "actor": ["Give the group's actor URL."]
    }
    answer = client.get(_url(peer.actor, after="-1", limit="9999"))
    assert answer.status_code == 400
    assert set(answer.get_json()["fields"]) == {"after", "limit"}


def test_a_group_this_node_holds_nothing_of_is_a_404(client, remote):
    stranger = FakePeer(3)
    stranger.serve(remote)

    answer = _signed_get(client, _url(stranger.actor), stranger)

    assert answer.status_code == 404
