"""Column types shared by the models."""

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Store aware datetimes as naive UTC and hand them back aware, on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def utcnow_whole_seconds() -> datetime:
    """Return the current time, aware, in UTC, without its fraction of a second."""
    # For times written into signed documents and stored beside them: documents print whole
    # seconds, so the stored time is the one the document states.
    return utcnow().replace(microsecond=0)


# Table options for a table whose ids are public (page addresses, the signed feed, mail
# links): SQLite without AUTOINCREMENT hands a deleted row's id to the next row, so a
# calendar entry or a peer's tombstone for /events/4 would name a new event. PostgreSQL's
# sequences never go back, so the option only changes SQLite.
NEVER_REUSED_IDS = {"sqlite_autoincrement": True}
