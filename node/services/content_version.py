"""A counter that goes up, in the same transaction, whenever public content changes.

Worker processes keep rendered copies of public pages (node/page_cache.py) and of the group
row (services/groups.py); they compare this counter, one indexed read, to know whether a
copy is still true. A process reads it at most once every RECHECK_SECONDS, so a page served
from a copy needs no database at all: a change committed by this process is seen by its
next request (every commit drops the reading it keeps), one committed by another worker
within RECHECK_SECONDS.
"""

from __future__ import annotations

import time

from flask import current_app, g, has_app_context
from sqlalchemy import event, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from ..extensions import db
from ..models import (
    Campaign,
    Candidate,
    Event,
    EventSeries,
    EventWaitlist,
    Group,
    Post,
    SeriesException,
    Shift,
    SiteState,
)

# What the public pages show: an event page shows its shifts' places, its series and how
# many wait for a place.
CONTENT = (Group, Campaign, Event, Candidate, Post, Shift, EventSeries, SeriesException)
CONTENT += (EventWaitlist,)


# Built once, and run on the connection rather than through the ORM: every page reads it,
# and building and running an ORM select cost six times the read itself.
_THE_VERSION = select(SiteState.__table__.c.content_version).where(SiteState.__table__.c.id == 1)


def current() -> int:
    """Return the content version (0 before anything was ever counted)."""
    return db.session.connection().execute(_THE_VERSION).scalar() or 0


RECHECK_SECONDS = 1.0
_READING = "branchline.content_version"
_clock = time.monotonic  # tests replace it


def at_start() -> int:
    """Return the content version for this request: read at most RECHECK_SECONDS ago.

    What a request keeps in a process-wide copy (the group, a page) is read after this, so
    the copy is at least as new as the version it is filed under.
    """
    if "content_version" not in g:
        kept, now = current_app.extensions.get(_READING), _clock()
        if kept is None or now - kept[1] >= RECHECK_SECONDS:
            kept = (current(), now)
            current_app.extensions[_READING] = kept
        g.content_version = kept[0]
    return g.content_version


def forget_reading() -> None:
    """Make this process read the version afresh on its next request."""
    if has_app_context():
        current_app.extensions.pop(_READING, None)


@event.listens_for(Session, "after_commit")
def _forget_reading(_session: Session) -> None:
    # Whatever this process committed (a content change, or a bump written by hand as
    # twinning does), its next request reads the version afresh.
    forget_reading()


def _bump(connection) -> None:
    bumped = connection.execute(
        update(SiteState.__table__)
        .where(SiteState.__table__.c.id == 1)
        .values(content_version=SiteState.__table__.c.content_version + 1)
    )
    if bumped.rowcount == 0:
        connection.execute(SiteState.__table__.insert().values(id=1, content_version=1))


def _changes_content(session: Session) -> bool:
    touched = (*session.new, *session.dirty, *session.deleted)
    return any(isinstance(item, CONTENT) for item in touched)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    # new/dirty/deleted still describe what this flush wrote.
    if _changes_content(session):
        _bump(session.connection())


@event.listens_for(Session, "do_orm_execute")
def _bulk_statements(state: ORMExecuteState) -> None:
    # UPDATE/DELETE statements (the RSVP place counter) bypass the flush.
    mapper = state.bind_mapper
    bulk = state.is_update or state.is_delete
    if bulk and mapper is not None and mapper.class_ in CONTENT:
        _bump(state.session.connection())
