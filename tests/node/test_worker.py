"""The worker loop, its commands (`worker`, `backfill`, `peers`), and where it runs."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from node import create_app
from node.cli.sync import backfill, peers, worker
from node.extensions import db
from node.models.federation import Delivery, Follower
from node.services.organising import posts
from node.services.recovery import guard
from node.worker import Worker, start_in_background
from tests import factories
from tests.federation.local_http import LocalServer, Reply
from tests.node import sync_support as support


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8",
        "FETCH_TOTAL_TIMEOUT": 3,
        "SYNC_PAGE_SIZE": 4,
        "WORKER_IDLE_SECONDS": 0.05,
    }


@pytest.fixture
def server():
    running = LocalServer()
    yield running
    running.stop()


def test_one_pass_sends_due_deliveries_and_polls_due_peers(app, group, server):
    server.routes["/inbox"] = Reply(202)
    for _ in range(12):
        support.queue(server.url("/inbox"))
    feed = support.RemoteFeed(server, size=6)
    support.follow(feed.peer())

    report = Worker(app, concurrency=4).run_once()

    assert (report.deliveries.done, report.polled, report.applied) == (12, 1, 6)


def test_one_pass_publishes_a_scheduled_post_whose_time_has_come_to_followers(app, group, server):
    server.routes["/inbox"] = Reply(202)
    follower = support.peer(server.url("/actor"), inbox=server.url("/inbox"))
    db.session.add(Follower(peer_id=follower.id, state="accepted", follow_activity_id="f"))
    db.session.commit()
    post = posts.create({"title": "Polling day rota", "published_at": factories.soon(1)})
    assert Worker(app).run_once().published == 0
    # Its time comes: written a day ago for an hour ago.
    post.created_at = datetime.now(UTC) - timedelta(days=1)
    post.published_at = datetime.now(UTC) - timedelta(hours=1)
    db.session.commit()

    report = Worker(app).run_once()

    assert (report.published, report.deliveries.done, report.busy) == (1, 1, True)
    [sent] = [json.loads(found.body) for found in server.received]
    assert (sent["type"], sent["object"]["name"]) == ("Create", post.title)
    assert Worker(app).run_once().published == 0


def test_a_restored_node_holds_its_publishing_steps_saying_so_once(app, group, server, caplog):
    post = posts.create({"title": "Polling day rota", "published_at": factories.soon(1)})
    post.created_at = datetime.now(UTC) - timedelta(days=1)
    post.published_at = datetime.now(UTC) - timedelta(hours=1)
    db.session.commit()
    guard.hold(guard.mark_path().parent, {})
    worker = Worker(app)

    with caplog.at_level(logging.INFO, logger="node.worker"):
        held = [worker.run_once() for _ in range(3)]

    assert [report.published for report in held] == [0, 0, 0]
    said = [r for r in caplog.records if r.name == "node.worker" and r.levelno >= logging.WARNING]
    assert [r.getMessage().startswith("publishing is held") for r in said] == [True]
    assert not any(r.exc_info for r in caplog.records)
    guard.release("test")
    assert worker.run_once().published == 1


def test_worker_loop_runs_until_stopped(app, group, server):
    server.routes["/inbox"] = Reply(202)
    row = support.queue(server.url("/inbox"))
    running = Worker(app, concurrency=2)
    thread = threading.Thread(target=running.run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.received and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        running.stop()
        thread.join(5)
    assert not thread.is_alive()
    db.session.expire_all()
    assert db.session.get(Delivery, row.id).state == "done"


def test_creating_an_app_starts_no_thread(app_config, node_keys):
    before = {t.name for t in threading.enumerate()}
    made = create_app(app_config)
    assert {t.name for t in threading.enumerate()} == before
    with made.app_context():
        db.engine.dispose()


def test_in_process_worker_can_be_turned_off(app):
    app.config["WORKER_IN_PROCESS"] = 0  # BRANCHLINE_WORKER_IN_PROCESS=0
    assert start_in_background(app) is None


def test_in_process_worker_runs_on_a_daemon_thread(app):
    started = start_in_background(app)
    try:
        [thread] = [t for t in threading.enumerate() if t.name == "branchline-worker"]
        assert thread.daemon
    finally:
        started.stop()
        thread.join(5)


def test_worker_once_command_reports_what_it_did(app, group, server):
    server.routes["/inbox"] = Reply(202)
    support.queue(server.url("/inbox"))

    result = app.test_cli_runner().invoke(worker, ["--once"])

    assert result.exit_code == 0, result.output
    assert "sent 1: 1 delivered" in result.output


def test_worker_command_stops_cleanly_on_sigterm(tmp_path, database_url):
    env = {
        **os.environ,
        "BRANCHLINE_INSTANCE_PATH": str(tmp_path / "instance"),
        "BRANCHLINE_DATABASE_URL": database_url,
        "BRANCHLINE_SECRET_KEY": "worker-test",
        "BRANCHLINE_WORKER_IDLE_SECONDS": "0.1",
    }
    command = [str(Path(sys.executable).with_name("branchline")), "worker"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert "Branchline worker" in process.stdout.readline()
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "Worker stopped." in output


def test_backfill_command_fetches_the_whole_history_with_progress(app, group, server):
    feed = support.RemoteFeed(server, size=9)
    target = feed.peer()
    support.follow(target)

    result = app.test_cli_runner().invoke(backfill, [target.handle])

    assert result.exit_code == 0, result.output
    assert "Applied 9 entries; holding seq 9/9." in result.output
    again = app.test_cli_runner().invoke(backfill, [feed.actor])
    assert "Applied 0 entries; holding seq 9/9." in again.output


def test_backfill_command_reports_a_broken_chain(app, group, server):
    feed = support.RemoteFeed(server, size=5)
    feed.tamper(3)
    support.follow(feed.peer())

    result = app.test_cli_runner().invoke(backfill, [feed.actor])

    assert result.exit_code == 1
    assert "Applied 2 entries" in result.output
    assert "chain does not verify" in result.output


def test_backfill_refuses_a_peer_not_followed(app, group):
    support.peer()
    result = app.test_cli_runner().invoke(backfill, ["acct:nobody@127.0.0.1"])
    assert result.exit_code == 1
    assert "No known peer" in result.output


def test_peers_command_lists_states_seqs_and_oldest_undelivered(app, group):
    now = datetime.now(UTC)
    rows = [
        ("acct:a@one.test", {"is_branchline": True, "held_seq": 7, "head_seq": 7}),
        ("acct:b@two.test", {"is_branchline": True, "held_seq": 3, "head_seq": 8}),
        ("acct:c@three.test", {"state": "unreachable", "unreachable_since": now}),
        ("acct:d@four.test", {"state": "chain_broken", "state_reason": "entry 4: bad-proof"}),
    ]
    made = [support.peer(f"https://{h.split('@')[1]}/actor", handle=h, **f) for h, f in rows]
    support.queue("https://three.test/inbox", made[2].id, created_at=now - timedelta(hours=5))

    result = app.test_cli_runner().invoke(peers, [])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["PEER", "STATE", "HELD", "HEAD", "UNDELIVERED"]
    assert "in step" in lines[1] and "7" in lines[1]
    assert "behind 5" in lines[2]
    assert "unreachable since" in lines[3] and lines[3].endswith("5h")
    assert "chain broken: entry 4: bad-proof" in lines[4]


def test_a_step_that_keeps_failing_is_logged_once_then_counted(app, group, monkeypatch, caplog):
    calls = []
    down = threading.Event()
    down.set()

    def publish_due():
        calls.append(1)
        if down.is_set():
            raise ConnectionError("could not connect to the database")
        return 0

    monkeypatch.setattr("node.worker.feed.publish_due", publish_due)
    caplog.set_level(logging.ERROR, logger="node.worker")
    running = Worker(app)
    thread = threading.Thread(target=running.run)
    thread.start()
    try:
        _wait(lambda: len(calls) >= 6)
        down.clear()
        seen = len(calls)
        _wait(lambda: len(calls) >= seen + 2)
    finally:
        running.stop()
        thread.join(timeout=10)

    lines = [r for r in caplog.records if "publishing scheduled posts" in r.getMessage()]
    assert len(lines) == 2
    assert lines[0].exc_info is not None  # the first in full
    assert (
        lines[1]
        .getMessage()
        .startswith("publishing scheduled posts failed: ConnectionError: could not connect")
    )
    assert "(same error ×" in lines[1].getMessage()


def test_starting_makes_followed_peers_polls_and_waiting_deliveries_due(app, group):
    later = datetime.now(UTC) + timedelta(hours=1)
    followed = support.peer(next_poll_at=later)
    support.follow(followed)
    not_followed = support.peer("http://127.0.0.1:9/other", next_poll_at=later)
    row = support.queue("http://127.0.0.1:9/inbox", next_attempt_at=later)

    Worker(app).start_up()

    db.session.expire_all()
    now = datetime.now(UTC)
    assert db.session.get(type(followed), followed.id).next_poll_at <= now
    assert db.session.get(type(followed), not_followed.id).next_poll_at == later
    assert db.session.get(Delivery, row.id).next_attempt_at <= now


def _wait(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.02)


def test_a_delivery_queued_in_the_process_wakes_the_idle_worker(app, group, server):
    app.config["WORKER_IDLE_SECONDS"] = 60  # it would otherwise sleep this long
    server.routes["/inbox"] = Reply(202)
    running = Worker(app)
    thread = threading.Thread(target=running.run)
    thread.start()
    try:
        time.sleep(0.5)  # its first pass found nothing: it is asleep
        support.queue(server.url("/inbox"))
        _wait(lambda: len(server.received) == 1, timeout=20)
    finally:
        running.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
