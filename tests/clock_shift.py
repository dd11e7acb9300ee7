"""Run the tests with Python's clock moved, to catch tests that depend on today's date.

Not loaded by default: name it on the command line, with the shift in the environment::

    BRANCHLINE_TEST_DAYS_AHEAD=6 python -m pytest -p tests.clock_shift tests/node

or, for each day of a week in turn (today is 0)::

    for d in 0 1 2 3 4 5 6; do
        BRANCHLINE_TEST_DAYS_AHEAD=$d python -m pytest -q -p tests.clock_shift tests/node
    done

``BRANCHLINE_TEST_DAYS_AHEAD`` may be negative or fractional; ``BRANCHLINE_TEST_CLOCK``
(an ISO date-time, UTC if it names no offset) names a moment instead. The clock keeps
ticking from there. Only Python's clock moves: SQLite's CURRENT_TIMESTAMP, PostgreSQL's
now(), OpenSSL's certificate checks and other processes still read the real one, so read a
failing test before calling it date-dependent. Whole days keep the time of day: to try an
evening in summer (London an hour ahead of UTC), name the moment.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import time_machine

_travel: list[time_machine.travel] = []


def _destination() -> datetime | None:
    moment = os.environ.get("BRANCHLINE_TEST_CLOCK")
    if moment:
        found = datetime.fromisoformat(moment)
        return found if found.tzinfo else found.replace(tzinfo=UTC)
    days = os.environ.get("BRANCHLINE_TEST_DAYS_AHEAD")
    if days:
        return datetime.now(UTC) + timedelta(days=float(days))
    return None


def pytest_configure(config):
    # Before collection, so dates that test modules compute on import move too.
    destination = _destination()
    if destination is None:
        return
    traveller = time_machine.travel(destination, tick=True)
    traveller.start()
    _travel.append(traveller)


def pytest_report_header(config):
    if _travel:
        now = datetime.now(UTC)
        return f"clock moved to {now:%A %Y-%m-%d %H:%M} UTC (tests.clock_shift)"
    return None


def pytest_unconfigure(config):
    while _travel:
        _travel.pop().stop()
