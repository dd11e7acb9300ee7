""" "Last used" times written with the request's own commit, at most once every few minutes.

API tokens and browser sessions both show when they were last used. Writing that time on
every request would cost a write (and, on SQLite, the write lock) per page. Instead a
request notes the use in the database session's ``info``; the time is written inside the
request's own commit, just before it, so a vote or an RSVP stays one transaction and the
write lock is taken no earlier; ``settle`` writes it alone after a request that committed
nothing (a read, or a refusal that rolled back).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, event, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute, Session

from ...extensions import db
from ...models import utcnow


class UseStamp:
    """The "last used" column of one table, noted per request and stored with its commit."""

    def __init__(self, column: InstrumentedAttribute, granularity: timedelta, name: str):
        self.granularity = granularity
        self.noted_key = f"branchline.{name}"  # db session.info key: (row id, time) to store
        table = column.class_.__table__
        self._update = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({column.key: bindparam("used_at")})
        )
        event.listen(Session, "before_commit", self._store_noted)

    def note(self, row_id: int, last_used: datetime | None) -> None:
        """Note a use of row ``row_id``, unless its stored time is recent enough."""
        now = utcnow()
        if last_used is not None and now - last_used < self.granularity:
            return
        db.session().info[self.noted_key] = (row_id, now)

    def settle(self) -> None:
        """Store a noted use that no commit carried."""
        session = db.session()
        noted = session.info.pop(self.noted_key, None)
        if noted is None:
            return
        try:
            session.rollback()  # whatever the request left uncommitted would be dropped anyway
            self._write(session, noted)
            session.commit()
        except SQLAlchemyError:
            session.rollback()  # bookkeeping only: never fail the caller's request over it

    def _write(self, session: Session, noted: tuple[int, datetime]) -> None:
        row_id, when = noted
        session.execute(self._update, {"row_id": row_id, "used_at": when})

    def _store_noted(self, session: Session) -> None:
        noted = session.info.pop(self.noted_key, None)
        if noted is not None:
            self._write(session, noted)
