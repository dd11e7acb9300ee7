"""write_lock: one writer at a time across processes on SQLite, one transaction per block."""

from __future__ import annotations

import fcntl
import os
import threading

import pytest
from sqlalchemy import select

from node import write_lock
from node.extensions import db
from node.models import ReceivedActivity
from tests.conftest import TEST_DATABASE_URL

sqlite_only = pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="the file lock is for SQLite")


def _received(activity_id: str) -> ReceivedActivity:
    return ReceivedActivity(
        activity_id=activity_id, actor_id="http://127.0.0.2/actor", activity_type="Like"
    )


def _stored() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(ReceivedActivity.activity_id)))


def _held_elsewhere(app) -> int:
    """Take the lock as another process would: flock on a descriptor of its own."""
    path = write_lock.lock_path(db.engine.url.database)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return descriptor


def test_lock_file_sits_beside_a_database_file_and_memory_has_none():
    assert write_lock.lock_path("/srv/node/branchline.sqlite3") == (
        "/srv/node/branchline.sqlite3.write-lock"
    )
    assert write_lock.lock_path(":memory:") is None
    assert write_lock.lock_path(None) is None


def test_block_is_committed_and_a_failing_block_rolled_back(app, group):
    with write_lock.writing():
        db.session.add(_received("http://127.0.0.2/1"))
    with pytest.raises(RuntimeError), write_lock.writing():
        db.session.add(_received("http://127.0.0.2/2"))
        db.session.flush()
        raise RuntimeError("half-way")

    assert _stored() == ["http://127.0.0.2/1"]


def test_nested_block_joins_the_outer_one(app, group):
    with pytest.raises(RuntimeError), write_lock.writing():
        with write_lock.writing():
            db.session.add(_received("http://127.0.0.2/1"))
        raise RuntimeError("the outer block fails after the inner one ended")

    assert _stored() == []  # the inner block did not commit on its own


@sqlite_only
def test_writer_waits_while_another_process_holds_the_lock(app, group):
    descriptor = _held_elsewhere(app)
    done = threading.Event()

    def write() -> None:
        with app.app_context():
            with write_lock.writing():
                db.session.add(_received("http://127.0.0.2/1"))
            db.session.remove()
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert not done.wait(0.3), "wrote while another process held the lock"
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)
    writer.join(10)
    assert done.is_set()
    assert _stored() == ["http://127.0.0.2/1"]


@sqlite_only
def test_transaction_that_has_written_goes_on_without_the_file_lock(app, group):
    # It holds SQLite's own lock: waiting for the file lock could wait on a writer that
    # waits for SQLite. It must not wait.
    descriptor = _held_elsewhere(app)
    done = threading.Event()

    def write() -> None:
        with app.app_context():
            db.session.add(_received("http://127.0.0.2/1"))
            db.session.flush()  # SQLite's write lock is now this transaction's
            with write_lock.writing():
                db.session.add(_received("http://127.0.0.2/2"))
            db.session.remove()
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert done.wait(10), "waited for the file lock while holding SQLite's"
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)
    writer.join(10)
    assert sorted(_stored()) == ["http://127.0.0.2/1", "http://127.0.0.2/2"]
