"""A real node: an API write whose answer is lost, retried with its Idempotency-Key."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from .support import Api, outbox_entries, query, wait_until

pytestmark = pytest.mark.integration


def _send_and_hang_up(node, token: str, key: str, body: bytes) -> None:
    """Send a POST and close the connection before the answer comes: the answer is lost."""
    head = (
        f"POST /api/v1/posts HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\n"
        f"Authorization: Bearer {token}\r\nIdempotency-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)


def test_a_retry_after_a_lost_answer_creates_one_post_and_one_feed_entry(start_node):
    node = start_node("Leeds North Momentum", "leedsnorth")
    api = Api(node)
    entries_before = len(outbox_entries(node))
    body = json.dumps({"title": "Rally on Saturday", "body": "Meet at noon."}).encode()
    key = "0b0f4bd4-5bde-4d34-9a9f-3a1b5c0e7d11"
    _send_and_hang_up(node, api.token, key, body)
    # The node carries the write out though nobody is left to hear the answer.
    wait_until(
        lambda: query(node, "SELECT status FROM idempotent_request WHERE status IS NOT NULL"),
        "the node answers the request whose caller hung up",
        explain=lambda: node.output()[-3000:],
    )

    def retried() -> requests.Response | None:
        answer = requests.post(
            f"{node.url}/api/v1/posts",
            data=body,
            headers={
                "Authorization": f"Bearer {api.token}",
                "Idempotency-Key": key,
                "Content-Type": "application/json",
            },
            timeout=30,
        )
        return answer if answer.status_code != 409 else None  # 409: the first is in flight

    answer = wait_until(retried, "the retry is answered", explain=lambda: node.output()[-3000:])
    assert answer.status_code == 201, answer.text
    assert answer.headers.get("Idempotent-Replayed") == "true"
    assert answer.json()["title"] == "Rally on Saturday"
    assert query(node, "SELECT count(*) FROM post")[0][0] == 1
    assert len(outbox_entries(node)) == entries_before + 1
