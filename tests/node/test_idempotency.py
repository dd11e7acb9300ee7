"""Idempotency-Key on API writes: a retry gets the first answer, never a second write."""

from __future__ import annotations

from datetime import timedelta

from node.models import FeedEntry, IdempotentRequest, Post, utcnow
from node.services import idempotency
from node.views.api.idempotency import fingerprint
from tests import factories
from tests.node.api_support import assert_error, count

KEY = {"Idempotency-Key": "8e03978e-40d5-43e8-bc93-6894a57f9324"}


def test_a_retry_after_a_lost_answer_gets_the_first_answer_and_writes_once(api, organiser_token):
    entries = count(FeedEntry)
    first = api.post("/posts", organiser_token, json={"title": "Rally"}, headers=KEY)
    assert first.status_code == 201
    retry = api.post("/posts", organiser_token, json={"title": "Rally"}, headers=KEY)
    assert retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers.get("Location") == first.headers.get("Location")
    assert "Idempotent-Replayed" not in first.headers
    assert count(Post) == 1
    assert count(FeedEntry) == entries + 1


def test_writes_without_a_key_are_not_deduplicated(api, organiser_token):
    for _ in range(2):
        assert api.post("/posts", organiser_token, json={"title": "Rally"}).status_code == 201
    assert count(Post) == 2


def test_the_same_key_with_another_request_is_refused_with_422(api, organiser_token):
    assert api.post("/posts", organiser_token, json={"title": "A"}, headers=KEY).status_code == 201
    response = api.post("/posts", organiser_token, json={"title": "B"}, headers=KEY)
    assert_error(response, 422, "Idempotency-Key")
    assert count(Post) == 1


def test_a_duplicate_while_the_first_is_in_flight_is_refused_with_409(
    app, api, organiser, organiser_token
):
    body = b'{"title": "Rally"}'
    with app.test_request_context(
        "/api/v1/posts", method="POST", data=body, content_type="application/json"
    ):
        claimed = idempotency.claim(organiser.id, KEY["Idempotency-Key"], fingerprint(), utcnow())
    assert isinstance(claimed, int)  # the first request holds the key and has no answer yet
    response = api.post(
        "/posts", organiser_token, data=body, content_type="application/json", headers=KEY
    )
    assert_error(response, 409, "Idempotency-Key")
    assert count(Post) == 0


def test_keys_belong_to_one_member(api, organiser_token, admin_token):
    for token in (organiser_token, admin_token):
        assert api.post("/posts", token, json={"title": "Rally"}, headers=KEY).status_code == 201
    assert count(Post) == 2


def test_a_refused_write_is_not_kept_so_the_corrected_retry_runs(api, organiser_token):
    refused = api.post("/posts", organiser_token, json={"title": ""}, headers=KEY)
    assert refused.status_code == 400
    corrected = api.post("/posts", organiser_token, json={"title": "Rally"}, headers=KEY)
    assert corrected.status_code == 201
    assert count(Post) == 1


def test_a_delete_retried_replays_its_answer_instead_of_404(api, organiser_token):
    post = factories.post(title="Old news")
    first = api.delete(f"/posts/{post.id}", organiser_token, headers=KEY)
    assert first.status_code == 204
    retry = api.delete(f"/posts/{post.id}", organiser_token, headers=KEY)
    assert retry.status_code == 204
    assert retry.headers["Idempotent-Replayed"] == "true"


def test_answers_are_replayed_for_a_day_then_the_key_is_free(api, organiser, organiser_token):
    day_ago = utcnow() - idempotency.REPLAYED_FOR - timedelta(minutes=1)
    claimed = idempotency.claim(organiser.id, KEY["Idempotency-Key"], "0" * 64, day_ago)
    idempotency.record(claimed, idempotency.Answer(201, {}, b"{}"))
    response = api.post("/posts", organiser_token, json={"title": "Rally"}, headers=KEY)
    assert response.status_code == 201  # not 422: the day-old request under this key expired
    assert count(Post) == 1
    assert count(IdempotentRequest) == 1  # the expired row was pruned


def test_a_malformed_key_is_a_400_naming_the_header(api, organiser_token):
    for bad in ("", "x" * 256, "naïve"):
        response = api.post(
            "/posts", organiser_token, json={"title": "Rally"}, headers={"Idempotency-Key": bad}
        )
        assert_error(response, 400, "Idempotency-Key")
    assert count(Post) == 0


def test_reads_ignore_the_key(api, organiser_token):
    assert api.get("/posts", organiser_token, headers={"Idempotency-Key": ""}).status_code == 200
