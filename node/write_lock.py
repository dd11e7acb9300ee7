"""One writer at a time on SQLite, across this node's threads and processes, without polling.

SQLite lets one connection write at a time. A connection that finds the database locked
sleeps and looks again (1, 2, 5 … up to 100 ms a step), so under gunicorn's several worker
processes a busy write path (the inbox, a catch-up page) spends its time asleep rather than
waiting its turn. ``writing()`` queues those writers instead: a lock within the process,
then an ``flock`` on a file beside the database, which the kernel hands to the next waiter
the moment it is released. The transaction is committed (or rolled back) before the lock is
let go, so the next writer never meets SQLite's own lock.

On PostgreSQL (or an in-memory SQLite database) only the transaction handling remains:
PostgreSQL locks the rows a writer touches, and writers to different rows go on together.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .extensions import db

_local = threading.local()  # how deep this thread is in writing()
_thread_lock = threading.Lock()
_files: dict[tuple[int, str], int] = {}  # (process id, lock path) -> open descriptor


def lock_path(database: str | None) -> str | None:
    """Return the lock file for a SQLite database file, or None when there is no file."""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return f"{database}.write-lock"


def _descriptor(path: str) -> int:
    # One descriptor per process: an flock belongs to the open file, and a descriptor
    # inherited across fork would let parent and child hold the lock at once.
    key = (os.getpid(), path)
    if key not in _files:
        _files[key] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return _files[key]


def _sqlite_lock_path() -> str | None:
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or _writing_already():
        return None
    return lock_path(url.database)


def _writing_already() -> bool:
    # A transaction that has written holds SQLite's own lock. Waiting for the file lock then
    # could deadlock with its holder, who waits for SQLite's: go on as the writer it is.
    if not db.session().in_transaction():
        return False
    connection = db.session.connection().connection.dbapi_connection
    return bool(getattr(connection, "in_transaction", False))


@contextmanager
def _exclusive(path: str | None) -> Iterator[None]:
    if path is None:
        yield
        return
    with _thread_lock:
        descriptor = _descriptor(path)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)


@contextmanager
def writing() -> Iterator[None]:
    """Run the block as this node's only writer and commit it; roll back if it raises.

    Nested use joins the outer block: only the outermost commits and releases.
    """
    depth = getattr(_local, "depth", 0)
    if depth:
        _local.depth = depth + 1
        try:
            yield
        finally:
            _local.depth = depth
        return
    path = _sqlite_lock_path()
    with _exclusive(path):
        _local.depth = 1
        try:
            yield
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        finally:
            _local.depth = 0
