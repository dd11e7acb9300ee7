"""Finding the group: WebFinger, NodeInfo, host-meta, and the Group actor document."""

from __future__ import annotations

import pytest

from federation import feed as signed_feed
from federation.keys import load_public_key_pem
from node.services import profile
from node.services.organising import events
from tests import factories
from tests.node.activitypub_support import ACTOR, AS_JSON, BASE, BROWSER, LD_JSON, event_data


def _actor(client, accept: str = AS_JSON):
    return client.get("/actor", headers={"Accept": accept})


@pytest.mark.parametrize(
    "resource",
    ["acct:leedsnorth@localhost", "acct:LeedsNorth@LOCALHOST", f"{ACTOR}", f"{BASE}/"],
)
def test_webfinger_finds_the_group_by_handle_or_url(client, resource):
    response = client.get("/.well-known/webfinger", query_string={"resource": resource})
    assert response.status_code == 200
    assert response.mimetype == "application/jrd+json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    found = response.get_json(force=True)
    assert found["subject"] == "acct:leedsnorth@localhost"
    assert {"rel": "self", "type": AS_JSON, "href": ACTOR} in found["links"]
    profile = next(link for link in found["links"] if link["type"] == "text/html")
    assert profile["href"] == f"{BASE}/"


@pytest.mark.parametrize(
    "resource",
    ["acct:someoneelse@localhost", "acct:leedsnorth@elsewhere.example", f"{BASE}/events/1"],
)
def test_webfinger_answers_404_for_anyone_else(client, resource):
    response = client.get("/.well-known/webfinger", query_string={"resource": resource})
    assert response.status_code == 404
    assert response.get_json()["error"]


@pytest.mark.parametrize("query", [{}, {"resource": ""}, {"resource": "leedsnorth"}])
def test_webfinger_without_a_usable_resource_is_a_400(client, query):
    response = client.get("/.well-known/webfinger", query_string=query)
    assert response.status_code == 400
    assert set(response.get_json()) == {"error", "fields"}


@pytest.mark.parametrize("resource", ["acct:nohost", "acct:@localhost", "ftp://localhost/actor"])
def test_webfinger_refuses_malformed_resources(client, resource):
    response = client.get("/.well-known/webfinger", query_string={"resource": resource})
    assert response.status_code == 400


def test_nodeinfo_is_discoverable_and_carries_no_personal_data(client, member, organiser):
    links = client.get("/.well-known/nodeinfo").get_json()["links"]
    assert links == [
        {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": f"{BASE}/nodeinfo/2.1"}
    ]
    factories.post()
    factories.post(visibility="members")
    response = client.get("/nodeinfo/2.1")
    assert response.status_code == 200
    assert 'profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"' in response.content_type
    info = response.get_json(force=True)
    assert info["version"] == "2.1"
    assert info["software"]["name"] == "branchline"
    assert info["software"]["version"]
    assert info["protocols"] == ["activitypub"]
    assert info["openRegistrations"] is False
    assert info["usage"]["localPosts"] == 1
    assert info["usage"]["users"]["total"] == 1  # the group: members are not counted out loud
    assert info["metadata"]["nodeName"] == "Leeds North Momentum"
    text = response.get_data(as_text=True)
    assert member.email not in text and organiser.display_name not in text


def test_host_meta_points_at_webfinger(client):
    response = client.get("/.well-known/host-meta")
    assert response.status_code == 200
    assert response.mimetype == "application/xrd+xml"
    assert f"{BASE}/.well-known/webfinger?resource={{uri}}" in response.get_data(as_text=True)


def test_actor_document_has_what_fediverse_software_needs(client, group, node_keys):
    response = _actor(client)
    assert response.status_code == 200
    assert response.mimetype == AS_JSON
    actor = response.get_json()
    context = actor["@context"]
    for url in (
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/data-integrity/v1",
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
    ):
        assert url in context
    assert context[-1]["feedHead"] == "branchline:feedHead"
    assert actor["id"] == ACTOR
    assert actor["type"] == "Group"
    assert actor["preferredUsername"] == "leedsnorth"
    assert actor["name"] == "Leeds North Momentum"
    assert actor["summary"] == "<p>Organising in Leeds North East.</p>"
    assert actor["url"] == f"{BASE}/"
    assert actor["inbox"] == actor["endpoints"]["sharedInbox"] == f"{BASE}/inbox"
    assert actor["outbox"] == f"{BASE}/outbox"
    assert actor["followers"] == f"{BASE}/followers"
    assert actor["following"] == f"{BASE}/following"
    assert actor["manuallyApprovesFollowers"] is False
    key = actor["publicKey"]
    assert key["id"] == f"{ACTOR}#main-key" and key["owner"] == ACTOR
    assert load_public_key_pem(key["publicKeyPem"]) == node_keys.http.public_key()
    assert actor["assertionMethod"] == [
        {
            "id": f"{ACTOR}#ed25519-key",
            "type": "Multikey",
            "controller": ACTOR,
            "publicKeyMultibase": node_keys.proof_multikey,
        }
    ]
    assert actor["feedHead"] == {"seq": 0}


def test_actor_names_the_feed_head(client, group):
    events.create(event_data())
    events.create(event_data())
    head = _actor(client).get_json()["feedHead"]
    from node.services import feed

    assert head == {"seq": 2, "hash": feed.head()[1]}
    assert head["hash"].startswith("sha256:")


def test_actor_shows_follow_approval_and_the_logo(client, group):
    profile.update(group, {"follow_approval": True})
    group.logo_filename = "logo-abc.png"
    actor = _actor(client).get_json()
    assert actor["manuallyApprovesFollowers"] is True
    assert actor["icon"] == {
        "type": "Image",
        "mediaType": "image/png",
        "url": f"{BASE}/logo?v=logo-abc.png",
    }


def test_actor_answers_ld_json_too(client):
    response = _actor(client, LD_JSON)
    assert response.status_code == 200
    assert response.get_json()["type"] == "Group"


def test_browser_asking_for_the_actor_is_sent_to_the_group_page(client):
    response = _actor(client, BROWSER)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/")


def test_context_document_is_served_as_json_ld(client):
    response = client.get("/ns")
    assert response.status_code == 200
    assert response.mimetype == "application/ld+json"
    assert response.get_json(force=True) == signed_feed.context_document()


def test_followers_and_following_give_counts_only(client, group):
    for name in ("followers", "following"):
        found = client.get(f"/{name}", headers={"Accept": AS_JSON}).get_json()
        assert found == {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{BASE}/{name}",
            "type": "OrderedCollection",
            "totalItems": 0,
        }


def test_node_that_is_not_set_up_has_no_actor(app):
    client = app.test_client()
    query = {"resource": "acct:leedsnorth@localhost"}
    assert client.get("/.well-known/webfinger", query_string=query).status_code == 404
    assert client.get("/.well-known/nodeinfo").status_code == 404
    # Other addresses lead to the first-run form until there is a group to serve.
    assert client.get("/actor", headers={"Accept": AS_JSON}).status_code != 200


@pytest.mark.parametrize(
    "path", ["/actor", "/outbox", "/outbox?after=0", "/outbox/1", "/followers", "/following"]
)
def test_activitypub_addresses_answer_json_not_the_setup_form_before_setup(app, path):
    response = app.test_client().get(path, headers={"Accept": AS_JSON})
    assert response.status_code == 404
    assert response.is_json
    assert "error" in response.get_json()


def test_inbox_of_a_node_not_set_up_answers_404_in_json(app):
    follow = {
        "id": "http://127.0.0.2/follows/1",
        "type": "Follow",
        "actor": "http://127.0.0.2/actor",
        "object": ACTOR,
    }
    response = app.test_client().post("/inbox", json=follow, content_type=AS_JSON)
    assert response.status_code == 404
    assert response.is_json


def test_context_document_is_served_before_setup(app):
    response = app.test_client().get("/ns")
    assert response.status_code == 200
    assert response.get_json()["@context"]["seq"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/inbox", 405),
        ("POST", "/actor", 405),
        ("POST", "/outbox", 405),
        ("GET", "/outbox/not-a-seq", 404),
        ("GET", "/outbox/99", 404),
        ("GET", "/nodeinfo/9.9", 404),
    ],
)
def test_activitypub_errors_are_json_for_peers(client, group, method, path, status):
    response = client.open(path, method=method, headers={"Accept": AS_JSON})
    assert response.status_code == status
    assert response.is_json
    assert set(response.get_json()) == {"error", "fields"}
