"""Deliveries: claimed once, sent signed, retried with backoff, ended on 2xx, 4xx or old age."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from federation.httpsig import verify_request
from node.extensions import db
from node.models.federation import Delivery, FeedEntry, Peer
from node.models.types import utcnow
from node.services.peering import deliveries, reachability
from node.services.peering.deliveries import RetryPolicy
from tests.federation.local_http import LocalServer, Reply
from tests.node import sync_support as support

NOW = datetime.now(UTC).replace(microsecond=0)
LEASE = timedelta(minutes=5)


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8",
        "FETCH_READ_TIMEOUT": 0.5,
        "FETCH_TOTAL_TIMEOUT": 2,
        "PEER_UNREACHABLE_AFTER": 3,
    }


@pytest.fixture
def server():
    running = LocalServer()
    yield running
    running.stop()


class Clock:
    def __init__(self, now: datetime | None = None) -> None:
        # Rows are queued "now" by default: start the clock just after them.
        self.now = now or datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now


def _send(clock=None, rng=None, **kwargs) -> deliveries.SendReport:
    return deliveries.send_due(clock=clock or Clock(), rng=rng or random.Random(1), **kwargs)


def _row(delivery_id: int) -> Delivery:
    db.session.expire_all()
    return db.session.get(Delivery, delivery_id)


def test_delivery_lands_signed_by_the_node(app, group, server, node_keys):
    server.routes["/inbox"] = Reply(202)
    row = support.queue(server.url("/inbox"))

    report = _send()

    assert (report.sent, report.done) == (1, 1)
    stored = _row(row.id)
    assert (stored.state, stored.attempts, stored.last_status) == ("done", 1, 202)
    [request] = server.received
    assert request.body == support.ACTIVITY
    verified = verify_request(
        "POST",
        request.path,
        request.headers,
        request.body,
        lookup_key=lambda key_id: node_keys.http.public_key(),
        now=datetime.now(UTC),
    )
    assert verified.key_id == "http://localhost/actor#main-key"
    assert "digest" in verified.covered_headers


def test_feed_entry_is_delivered_byte_for_byte(app, group, server):
    server.routes["/inbox"] = Reply(202)
    body = '{"seq":1,"type":"Create","z":"\u00e9"}'
    entry = FeedEntry(
        seq=1, activity_id="http://localhost/a/1", activity_type="Create", body=body, entry_hash="x"
    )
    db.session.add(entry)
    db.session.commit()
    db.session.add(Delivery(inbox=server.url("/inbox"), feed_entry_id=entry.id))
    db.session.commit()

    _send()

    assert server.received[0].body == body.encode("utf-8")


def test_server_error_is_retried_on_a_jittered_exponential_schedule(app, group, server):
    server.routes["/inbox"] = Reply(500)
    row = support.queue(server.url("/inbox"))
    clock, policy = Clock(), RetryPolicy()
    worker_rng, expected = random.Random(7), random.Random(7)  # one worker keeps one for life

    for attempt in range(1, 7):
        report = _send(clock, rng=worker_rng)
        assert report.retrying == 1
        stored = _row(row.id)
        wait = (stored.next_attempt_at - clock.now).total_seconds()
        assert wait == pytest.approx(policy.delay(attempt, expected))
        assert 1 <= wait <= min(policy.cap, policy.base * 2 ** (attempt - 1))
        assert (stored.state, stored.attempts, stored.last_status) == ("pending", attempt, 500)
        assert _send(clock).sent == 0  # not due yet
        clock.now = stored.next_attempt_at
    assert len(server.received) == 6


def test_backoff_is_capped():
    policy = RetryPolicy(base=30, cap=6 * 3600)
    draws = [policy.delay(40, random.Random(seed)) for seed in range(200)]
    assert max(draws) <= 6 * 3600
    assert min(draws) >= 1


def test_retry_after_from_a_429_is_honoured(app, group, server):
    server.routes["/inbox"] = Reply(429, {"Retry-After": "3600"})
    row = support.queue(server.url("/inbox"))
    clock = Clock()

    _send(clock)

    stored = _row(row.id)
    assert stored.state == "pending"
    assert stored.next_attempt_at >= clock.now + timedelta(seconds=3600)
    assert stored.last_status == 429


def test_delivery_is_given_up_only_after_three_days(app, group, server):
    server.routes["/inbox"] = Reply(503)
    row = support.queue(server.url("/inbox"), created_at=NOW)
    deadline = NOW + timedelta(days=3)
    clock = Clock(deadline - timedelta(seconds=10))

    _send(clock)
    stored = _row(row.id)
    assert stored.state == "pending"
    assert stored.next_attempt_at <= deadline  # the last try falls on the deadline itself

    clock.now = deadline
    report = _send(clock)

    assert report.given_up == 1
    assert _row(row.id).state == "given_up"


def test_permanent_client_error_fails_at_once(app, group, server):
    server.routes["/inbox"] = Reply(410)
    target = support.peer(state="in_step", held_seq=3)
    row = support.queue(server.url("/inbox"), target.id)

    report = _send()

    assert report.failed == 1
    stored = _row(row.id)
    assert (stored.state, stored.attempts, stored.last_status) == ("failed", 1, 410)
    assert db.session.get(Peer, target.id).contact_failures == 0  # it answered: it is up


def test_hanging_inbox_times_out_and_is_retried(app, group, server):
    server.routes["/inbox"] = Reply(202, delay=10)
    row = support.queue(server.url("/inbox"))

    _send()

    stored = _row(row.id)
    assert stored.state == "pending"
    assert stored.last_status is None
    assert "time" in stored.last_error


def test_refused_connection_is_retried(app, group):
    closed = LocalServer()
    inbox = closed.url("/inbox")
    closed.stop()
    row = support.queue(inbox)

    _send()

    stored = _row(row.id)
    assert (stored.state, stored.attempts) == ("pending", 1)
    assert stored.last_error


def test_private_address_refused_by_policy_fails(app, group):
    app.config["ALLOW_PRIVATE_ADDRESSES"] = None
    row = support.queue("http://127.0.0.1:9/inbox")

    _send()

    assert _row(row.id).state == "failed"


def test_peer_is_marked_unreachable_keeps_its_backlog_and_recovers(app, group, server):
    # Three inboxes of one peer (one row each): a failed row holds back later rows to its
    # own inbox (test_failed_send_holds_back_the_rest_of_its_inbox), not to the others.
    paths = [f"/inbox/{n}" for n in range(3)]
    for path in paths:
        server.routes[path] = Reply(500)
    target = support.peer(state="in_step", held_seq=4, head_seq=4)
    rows = [support.queue(server.url(path), target.id) for path in paths]
    clock = Clock()

    _send(clock, limit=2)
    assert db.session.get(Peer, target.id).state == "in_step"  # two failures: not yet
    _send(clock)

    db.session.expire_all()
    down = db.session.get(Peer, target.id)
    assert down.state == "unreachable"
    assert down.unreachable_since == clock.now
    assert "500" in down.state_reason
    assert {_row(r.id).state for r in rows} == {"pending"}  # the backlog is kept

    for path in paths:
        server.routes[path] = Reply(202)
    clock.now += timedelta(days=1)
    report = _send(clock)

    assert report.done == 3
    db.session.expire_all()
    up = db.session.get(Peer, target.id)
    assert (up.state, up.unreachable_since, up.contact_failures) == ("in_step", None, 0)
    assert up.next_poll_at == clock.now  # catch up straight away
    assert up.last_contact_at == clock.now


def test_unreachable_does_not_hide_a_broken_chain(app, group, server):
    target = support.peer(state="chain_broken", state_reason="seq 3: bad-proof")
    for n in range(3):
        server.routes[f"/inbox/{n}"] = Reply(502)
        support.queue(server.url(f"/inbox/{n}"), target.id)

    _send()

    db.session.expire_all()
    found = db.session.get(Peer, target.id)
    assert found.state == "chain_broken"
    assert found.unreachable_since is not None


def test_expired_lease_puts_a_row_back_in_the_queue(app, group):
    row = support.queue("http://127.0.0.1:9/inbox", next_attempt_at=NOW)
    lease = timedelta(minutes=5)
    [claimed] = deliveries.QUEUE.claim_due(10, now=NOW, lease=lease)
    assert claimed.id == row.id
    assert _row(row.id).state == "sending"
    assert deliveries.QUEUE.claim_due(10, now=NOW + timedelta(minutes=1), lease=lease) == []

    assert deliveries.QUEUE.release_expired(NOW + timedelta(minutes=4)) == 0
    assert deliveries.QUEUE.release_expired(NOW + timedelta(minutes=5)) == 1  # the worker died

    assert _row(row.id).state == "pending"
    [again] = deliveries.QUEUE.claim_due(10, now=NOW + timedelta(minutes=5), lease=lease)
    assert again.id == row.id


def test_two_claimers_never_take_the_same_row(app, group):
    ids = {
        support.queue(f"http://127.0.0.1:9/inbox/{n}", next_attempt_at=NOW).id for n in range(120)
    }
    taken: list[list[int]] = [[], [], []]
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def claimer(mine: list[int]) -> None:
        try:
            with app.app_context():
                start.wait()
                while batch := deliveries.QUEUE.claim_due(7, now=NOW, lease=timedelta(minutes=5)):
                    mine.extend(item.id for item in batch)
                db.session.remove()
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=claimer, args=(mine,)) for mine in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors
    everything = [i for mine in taken for i in mine]
    assert len(everything) == len(set(everything))  # nobody took a row twice
    assert set(everything) == ids
    states = db.session.scalars(select(Delivery.state).distinct()).all()
    assert states == ["sending"]


def test_concurrent_senders_deliver_every_row_once(app, group, server):
    from concurrent.futures import ThreadPoolExecutor

    # This test is about claims, not timeouts: eight senders on a busy machine can wait longer
    # than the half second the other tests allow for a read.
    app.config.update(FETCH_READ_TIMEOUT=30, FETCH_TOTAL_TIMEOUT=60)
    server.routes.update({f"/inbox/{n}": Reply(202) for n in range(30)})
    for n in range(30):
        support.queue(server.url(f"/inbox/{n}"))

    with ThreadPoolExecutor(8) as pool:
        report = _send(executor=pool)

    assert report.done == 30
    assert sorted(r.path for r in server.received) == sorted(f"/inbox/{n}" for n in range(30))


def test_oldest_undelivered_is_reported_per_peer(app, group):
    target = support.peer()
    support.queue("http://127.0.0.1:9/a", target.id, created_at=NOW - timedelta(hours=2))
    support.queue("http://127.0.0.1:9/b", target.id, created_at=NOW - timedelta(hours=1))
    support.queue(
        "http://127.0.0.1:9/c", target.id, created_at=NOW - timedelta(days=9), state="done"
    )

    assert deliveries.oldest_undelivered() == {target.id: NOW - timedelta(hours=2)}


# Order, hold-back and leases --------------------------------------------------------------


def _numbered(n: int) -> bytes:
    return json.dumps({"type": "Create", "seq": n}).encode()


def test_deliveries_to_one_inbox_arrive_in_feed_order_while_inboxes_go_at_once(app, group, server):
    # About order, not timeouts: on a busy machine a 0.5 s read can time out and be retried.
    app.config.update(FETCH_READ_TIMEOUT=30, FETCH_TOTAL_TIMEOUT=60)
    for path in ("/a", "/b"):
        server.routes[path] = Reply(202, delay=0.01)
    for n in range(1, 13):  # as the feed queues them: entry n to each follower in turn
        support.queue(server.url("/a"), body=_numbered(n))
        support.queue(server.url("/b"), body=_numbered(n))

    with ThreadPoolExecutor(8) as pool:
        report = _send(executor=pool)

    assert report.done == 24
    for path in ("/a", "/b"):
        seqs = [json.loads(r.body)["seq"] for r in server.received if r.path == path]
        assert seqs == list(range(1, 13))


def test_failed_send_holds_back_the_rest_of_its_inbox(app, group, server):
    server.routes["/down"] = Reply(503)
    server.routes["/up"] = Reply(202)
    down = [support.queue(server.url("/down"), body=_numbered(n)) for n in (1, 2, 3)]
    up = [support.queue(server.url("/up"), body=_numbered(n)) for n in (1, 2)]
    queued_later = support.queue(server.url("/down"), body=_numbered(4))
    clock = Clock()

    report = _send(clock, limit=5)

    assert (report.sent, report.done, report.retrying, report.held_back) == (3, 2, 1, 2)
    assert [r.path for r in server.received].count("/down") == 1  # not 3 tries in a row
    first = _row(down[0].id)
    assert (first.state, first.attempts) == ("pending", 1)
    for row in (*down[1:], queued_later):
        waiting = _row(row.id)
        # They go after the first, not before it: due when it is, never tried.
        assert (waiting.state, waiting.attempts) == ("pending", 0)
        assert waiting.next_attempt_at == first.next_attempt_at
    assert {_row(r.id).state for r in up} == {"done"}


def test_a_slow_batch_keeps_its_claim_while_the_worker_renews_it(app, group, server):
    app.config.update(DELIVERY_LEASE_SECONDS=0.6, FETCH_READ_TIMEOUT=5, FETCH_TOTAL_TIMEOUT=10)
    server.routes["/slow"] = Reply(202, delay=1.5)  # longer than two leases
    row = support.queue(server.url("/slow"))
    rival: dict[str, object] = {}

    def other_worker() -> None:
        time.sleep(1.0)  # the first lease has run out by now, but was renewed
        with app.app_context():
            rival["released"] = deliveries.QUEUE.release_expired(utcnow())
            rival["claimed"] = deliveries.QUEUE.claim_due(10, now=utcnow(), lease=LEASE)
            db.session.remove()

    thread = threading.Thread(target=other_worker)
    thread.start()
    with ThreadPoolExecutor(2) as pool:
        report = deliveries.send_due(executor=pool)
    thread.join()

    assert rival == {"released": 0, "claimed": []}
    assert report.done == 1 and _row(row.id).state == "done"
    assert len(server.received) == 1


# What the operator reads ------------------------------------------------------------------

REACHABILITY = "node.services.peering.reachability"


def test_a_peer_that_stops_and_starts_answering_is_logged_once_each_way(app, group, server, caplog):
    caplog.set_level(logging.INFO)
    server.routes["/inbox"] = Reply(500)
    target = support.peer(state="in_step", held_seq=4, head_seq=4)
    support.queue(server.url("/inbox"), target.id)
    clock = Clock()

    for _ in range(6):  # three failures mark it (PEER_UNREACHABLE_AFTER), three more follow
        clock.now += timedelta(hours=7)  # past any backoff, within max age
        _send(clock)

    lines = [r.getMessage() for r in caplog.records if r.name == REACHABILITY]
    assert len(lines) == 1
    assert "reachable → failing" in lines[0] and "after 3 failed contacts" in lines[0]
    assert "500" in lines[0]

    caplog.clear()
    server.routes["/inbox"] = Reply(202)
    clock.now += timedelta(hours=7)  # past any backoff, within max age
    _send(clock)

    lines = [r.getMessage() for r in caplog.records if r.name == REACHABILITY]
    assert len(lines) == 1 and "failing → reachable" in lines[0] and "6 failed" in lines[0]


def test_deliveries_that_end_unsent_are_logged_one_line_per_inbox(app, group, server, caplog):
    caplog.set_level(logging.INFO)
    server.routes["/inbox"] = Reply(400)
    for n in range(5):
        support.queue(server.url("/inbox"), body=_numbered(n))

    _send()

    lines = [r.getMessage() for r in caplog.records if r.name == deliveries.__name__]
    assert len(lines) == 1
    assert f"deliveries to {server.url('/inbox')}: 5 failed" in lines[0]
    assert "answered 400" in lines[0]


def test_summary_says_what_waits_and_what_failed_per_peer(app, group, caplog):
    caplog.set_level(logging.INFO)
    target = support.peer(state="unreachable")
    since = datetime.now(UTC) - timedelta(minutes=10)
    for state in ("pending", "pending", "sending", "failed", "done"):
        support.queue("http://127.0.0.1:9/inbox", target.id, state=state)
    support.queue("http://127.0.0.1:9/other-inbox", state="given_up")

    lines = deliveries.summary(since)

    assert lines == [
        "acct:other@127.0.0.1: 3 pending, 1 failed",
        "http://127.0.0.1:9/other-inbox: 0 pending, 1 failed",
    ]
    [record] = [r for r in caplog.records if r.name == deliveries.__name__]
    assert "; ".join(lines) in record.getMessage()


def test_a_peer_that_answers_again_has_its_waiting_deliveries_sent_now(app, group):
    target = support.peer(state="unreachable", contact_failures=7, unreachable_since=NOW)
    later = support.queue("http://127.0.0.1:9/inbox", target.id, next_attempt_at=NOW + LEASE)
    other = support.queue("http://127.0.0.1:9/elsewhere", next_attempt_at=NOW + LEASE)

    reachability.contact_made(target.id, NOW)
    db.session.commit()

    assert _row(later.id).next_attempt_at == NOW
    assert _row(other.id).next_attempt_at == NOW + LEASE  # not that peer's
    assert db.session.get(Peer, target.id).next_poll_at == NOW


def test_starting_makes_every_waiting_delivery_due_in_queue_order(app, group):
    rows = [
        support.queue("http://127.0.0.1:9/inbox", next_attempt_at=NOW + timedelta(hours=n))
        for n in (3, 1, 2)
    ]

    assert deliveries.retry_now(clock=lambda: NOW) == 3

    assert {_row(r.id).next_attempt_at for r in rows} == {NOW}
    assert deliveries.QUEUE.claim_due(10, now=NOW, lease=LEASE)[0].id == rows[0].id
