"""Repeated errors: the first logged in full, the rest counted, the count logged when it ends."""

from __future__ import annotations

import logging

from node.services.repeats import RepeatedErrors

log = logging.getLogger("tests.repeats")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _fail(repeats: RepeatedErrors, slot: str, message: str = "database is down") -> bool:
    try:
        raise ConnectionError(message)
    except ConnectionError as error:
        return repeats.error(slot, "worker pass failed", error)


def test_the_same_error_98_times_is_one_traceback_and_one_count(caplog):
    caplog.set_level(logging.ERROR, logger=log.name)
    repeats = RepeatedErrors(log, clock=Clock())

    logged = [_fail(repeats, "pass") for _ in range(98)]
    repeats.ok("pass")

    assert logged.count(True) == 1
    first, count = caplog.records
    assert first.getMessage() == "worker pass failed" and first.exc_info is not None
    assert count.getMessage() == (
        "worker pass failed: ConnectionError: database is down (same error ×97 more)"
    )
    assert count.exc_info is None


def test_a_different_error_is_logged_and_ends_the_count(caplog):
    caplog.set_level(logging.ERROR, logger=log.name)
    repeats = RepeatedErrors(log, clock=Clock())

    for message in ("database is down", "database is down", "disk full"):
        _fail(repeats, "pass", message)

    assert [r.getMessage() for r in caplog.records] == [
        "worker pass failed",
        "worker pass failed: ConnectionError: database is down (same error ×1 more)",
        "worker pass failed",
    ]
    assert "disk full" in str(caplog.records[-1].exc_info[1])


def test_slots_count_apart_and_a_long_run_is_logged_again_after_the_window(caplog):
    caplog.set_level(logging.ERROR, logger=log.name)
    clock = Clock()
    repeats = RepeatedErrors(log, window=300, clock=clock)

    assert _fail(repeats, "mail") and _fail(repeats, "pass")  # one each: different slots
    clock.now = 299
    assert not _fail(repeats, "mail")
    clock.now = 300
    assert _fail(repeats, "mail")  # still down five minutes on: said again, with the count
    assert "(same error ×1 more)" in caplog.records[-2].getMessage()


def test_ok_except_ends_only_the_slots_that_worked(caplog):
    caplog.set_level(logging.ERROR, logger=log.name)
    repeats = RepeatedErrors(log, clock=Clock())
    for _ in range(3):
        _fail(repeats, "mail")
        _fail(repeats, "ballots")

    repeats.ok_except({"ballots"})

    counts = [r.getMessage() for r in caplog.records if "more)" in r.getMessage()]
    assert counts == ["worker pass failed: ConnectionError: database is down (same error ×2 more)"]
    assert not _fail(repeats, "ballots")  # still the same run
