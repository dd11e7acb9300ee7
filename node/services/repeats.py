"""Repeated errors, logged once: the first in full, then a count ("same error ×98").

A database that is down for 15 s makes every step of every worker pass fail the same way;
one traceback says what happened, the next 97 only bury it. ``RepeatedErrors`` logs an
error the first time it is seen in a slot (a step of the worker, a peer), counts the same
error after that, and logs the count when a different error or a success ends the run, or
when ``window`` seconds have passed, so a long outage still leaves a line now and then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Run:
    text: str
    repeats: int
    since: float


class RepeatedErrors:
    """Log errors in named slots, collapsing a run of the same error into one count line."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        window: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.window = window
        self.clock = clock
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()

    def error(self, slot: str, message: str, error: BaseException | None = None) -> bool:
        """Log ``message`` (with ``error``'s traceback) unless it repeats; say if it logged it."""
        text = f"{message}: {type(error).__name__}: {error}" if error is not None else message
        now = self.clock()
        with self._lock:
            run = self._runs.get(slot)
            if run is not None and run.text == text and now - run.since < self.window:
                run.repeats += 1
                return False
            self._runs[slot] = _Run(text, 0, now)
        if run is not None and run.repeats:
            self._say_repeats(run)
        exc_info = (type(error), error, error.__traceback__) if error is not None else None
        self.logger.error("%s", message, exc_info=exc_info)
        return True

    def ok(self, slot: str) -> None:
        """End the slot's run of errors: log how often the last one repeated, if it did."""
        with self._lock:
            run = self._runs.pop(slot, None)
        if run is not None and run.repeats:
            self._say_repeats(run)

    def ok_except(self, failing: set[str]) -> None:
        """End the runs of every slot but ``failing`` (those that worked this time)."""
        with self._lock:
            slots = [slot for slot in self._runs if slot not in failing]
        for slot in slots:
            self.ok(slot)

    def _say_repeats(self, run: _Run) -> None:
        self.logger.error("%s (same error ×%d more)", run.text, run.repeats)
