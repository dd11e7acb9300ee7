"""Counters behind request limits: one row per key, counted atomically, deleted once expired.

Each function takes a Connection and runs in the caller's transaction. The limiter's storage
(node/request_limits.py) gives every count a short transaction of its own, apart from the
request's unit of work, so a request that fails later has still spent its count.

`add` is one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` statement on SQLite and on
PostgreSQL alike: the database serialises writers to one key (SQLite's write lock,
PostgreSQL's row lock), so two processes spending the same key each get a different count
back and never both take the last place.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Connection, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ..models import RequestCount

_TABLE = RequestCount.__table__
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def stored_key(key: str) -> str:
    """Return ``key`` as the table holds it: a hash keyed with the node's secret.

    Keys hold client addresses; keyed, a copy of the database shows none of them (a plain
    hash of an IPv4 address is undone by trying all four billion).
    """
    secret = current_app.secret_key
    secret = secret.encode() if isinstance(secret, str) else secret
    return "hmac:" + hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def add(conn: Connection, key: str, amount: int, window: float, now: datetime) -> int:
    """Add ``amount`` to ``key``'s count and return the new count.

    A key with no row, or whose window has ended, starts a new window of ``window``
    seconds from ``now`` at ``amount``.
    """
    insert = _INSERTS[conn.dialect.name](_TABLE)
    ended = _TABLE.c.expires_at <= now
    statement = (
        insert.values(key=stored_key(key), count=amount, expires_at=now + timedelta(seconds=window))
        .on_conflict_do_update(
            index_elements=[_TABLE.c.key],
            # Both SET expressions see the row as it was, so a window that has ended
            # starts again from this request, and one still open only counts up.
            set_={
                "count": case(
                    (ended, insert.excluded.count), else_=_TABLE.c.count + insert.excluded.count
                ),
                "expires_at": case((ended, insert.excluded.expires_at), else_=_TABLE.c.expires_at),
            },
        )
        .returning(_TABLE.c.count)
    )
    return conn.execute(statement).scalar_one()


def count(conn: Connection, key: str, now: datetime) -> int:
    """Return ``key``'s count in its current window (0 when it has none)."""
    found = conn.execute(
        select(_TABLE.c.count).where(_TABLE.c.key == stored_key(key), _TABLE.c.expires_at > now)
    ).scalar()
    return found or 0


def window_end(conn: Connection, key: str, now: datetime) -> datetime | None:
    """Return when ``key``'s current window ends, or None when it has none."""
    return conn.execute(
        select(_TABLE.c.expires_at).where(
            _TABLE.c.key == stored_key(key), _TABLE.c.expires_at > now
        )
    ).scalar()


def clear(conn: Connection, key: str) -> None:
    """Forget ``key``'s count."""
    conn.execute(delete(_TABLE).where(_TABLE.c.key == stored_key(key)))


def clear_all(conn: Connection) -> int:
    """Forget every count; return how many keys there were."""
    return conn.execute(delete(_TABLE)).rowcount or 0


def forget_expired(conn: Connection, now: datetime) -> int:
    """Delete the counts whose window has ended; return how many."""
    return conn.execute(delete(_TABLE).where(_TABLE.c.expires_at <= now)).rowcount or 0
