"""The delivery and catch-up worker: publish due posts, send queued mail and due deliveries,
poll due peers, sleep, repeat.

It runs either as a background thread of `branchline run` (the default, so one process
serves a small group) or as `branchline worker` processes, as many as the queue needs: on
PostgreSQL they share it through `FOR UPDATE SKIP LOCKED` claims, and each claims a peer's
poll before making it, so no row is sent twice and no peer polled twice at once.

On starting it makes every followed peer's poll and every waiting delivery due now: the
node may have been down while its peers published, or while they came back. A delivery
queued in its own process (`branchline run`) wakes it at once rather than after
WORKER_IDLE_SECONDS. A step that
fails is logged once, then counted while it keeps failing the same way (``RepeatedErrors``);
every DELIVERY_SUMMARY_SECONDS it logs what waits to be delivered, per peer.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from .extensions import db
from .models.federation import Delivery
from .models.types import utcnow
from .services import feed, mail, workers
from .services.aggregator import sources
from .services.asks import replies as ask_replies
from .services.messaging import announcements, digest, notices, rate, reminders
from .services.organising import guests, series
from .services.peering import deliveries, sync
from .services.recovery import guard
from .services.repeats import RepeatedErrors
from .services.voting import ballot_box, ballots

log = logging.getLogger(__name__)

# One pass keeps sending while whole batches come back, but not for ever, so polls and a
# stop request are never starved by a deep queue.
MAX_BATCHES_PER_PASS = 50


@dataclass
class PassReport:
    """What one pass of the worker did."""

    deliveries: deliveries.SendReport = field(default_factory=deliveries.SendReport)
    polled: int = 0
    applied: int = 0
    published: int = 0  # scheduled posts whose time came, appended to the feed
    aggregated: int = 0  # on an aggregator: entries pulled from sources and admitted
    mailed: int = 0  # queued messages taken and tried (sent, logged, retrying or failed)
    counted: int = 0  # ballots whose time was up, closed and counted
    erased: int = 0  # sealed ballots whose sealed papers were erased after the challenge period
    occurrences: int = 0  # recurring events' occurrences made as the horizon moved on
    forgotten: int = 0  # guests whose name and address were erased, long after the event
    answered: int = 0  # asks from other groups answered (passed on and sent, or declined)
    announced: int = 0  # scheduled announcements whose time came, queued to their audience
    noticed: int = 0  # notices, reminders and digests queued (messages, not yet sent)

    @property
    def busy(self) -> bool:
        """Tell whether the pass found any work (so the next one should not sleep first)."""
        return bool(
            self.deliveries.sent
            or self.deliveries.released
            or self.polled
            or self.published
            or self.aggregated
            or self.mailed
            or self.announced
            or self.counted
            or self.occurrences
            or self.answered
            or self.noticed
        )


class Worker:
    """Send deliveries and catch up with peers for ``app`` until ``stop`` is called."""

    def __init__(self, app: Flask, *, concurrency: int | None = None) -> None:
        self.app = app
        self.concurrency = max(1, int(concurrency or app.config.get("WORKER_CONCURRENCY", 8)))
        self.idle_seconds = float(app.config.get("WORKER_IDLE_SECONDS", 2.0))
        self.stopping = threading.Event()
        self.wake = threading.Event()  # set when this process queues a delivery
        self.rng = random.Random()
        self.errors = RepeatedErrors(log)
        self.failing: set[str] = set()  # the steps that failed in this pass
        self.held = False  # publishing held after a restore, as last seen
        self.summary_every = timedelta(
            seconds=float(app.config.get("DELIVERY_SUMMARY_SECONDS", 600))
        )
        self.summary_since: datetime = utcnow()
        self.digest_every = timedelta(seconds=float(app.config.get("DIGEST_CHECK_SECONDS", 600)))
        self.digest_due_at: datetime | None = None

    def stop(self) -> None:
        """Ask the loop to finish the batch in hand and return."""
        self.stopping.set()
        self.wake.set()

    def _note_queued(self, session: Session, _context: object) -> None:
        if any(isinstance(row, Delivery) for row in session.new):
            session.info["queued_delivery"] = True

    def _wake_if_queued(self, session: Session) -> None:
        # A post published in this process wakes its worker at once, rather than after
        # up to WORKER_IDLE_SECONDS: a burst's first deliveries leave straight away.
        if session.info.pop("queued_delivery", False):
            self.wake.set()

    def run_once(self, executor: ThreadPoolExecutor | None = None) -> PassReport:
        """Make one pass: publish due posts, send queued mail and due deliveries, poll peers."""
        report = PassReport()
        batch = int(self.app.config.get("DELIVERY_BATCH_SIZE", 100))
        with self.app.app_context():
            try:
                workers.beat(self, report)  # the heartbeat, and this pass's id on its lines
                if self._may_publish():
                    report.published = self._publish_due()
                    report.counted = self._close_ballots()
                    report.occurrences = self._extend_series()
                report.erased = self._erase_sealed_papers()
                report.forgotten = self._forget_guests()
                report.announced = self._expand_announcements()
                report.noticed = self._queue_notices()
                report.mailed = self._send_mail()
                report.answered = self._answer_asks()
                for _ in range(MAX_BATCHES_PER_PASS):
                    sent = deliveries.send_due(limit=batch, executor=executor, rng=self.rng)
                    report.deliveries.add(sent)
                    if sent.sent < batch or self.stopping.is_set():
                        break
                if not self.stopping.is_set():
                    for synced in sync.poll_due():
                        report.polled += 1
                        report.applied += synced.applied
                if not self.stopping.is_set():
                    report.aggregated = self._aggregate()
            finally:
                db.session.remove()
        return report

    def _may_publish(self) -> bool:
        # A node restored from a backup publishes nothing until it has reconciled its feed
        # (services/recovery/guard.py): the steps that would append wait, said once, not
        # failed and logged every pass. Deliveries, mail and polls go on.
        held = guard.pending() is not None
        if held and not self.held:
            log.warning(
                "publishing is held after a restore: scheduled posts, ballot closes and "
                "recurring events' dates wait until `branchline recover` reconciles the feed"
            )
        self.held = held
        return not held

    def _publish_due(self) -> int:
        # A post scheduled ahead changes nothing when its time comes, so nothing else would
        # put it on the feed (and so to followers) until the group's next change.
        try:
            return feed.publish_due()
        except Exception:
            # Deliveries and polls must not wait on it: log, and try again next pass.
            return self._failed("publishing scheduled posts failed")

    def _close_ballots(self) -> int:
        # A ballot's close is its count and its result on the feed: at its time, not at
        # whoever next opens its page.
        try:
            return ballots.close_due()
        except Exception:
            return self._failed("closing ballots failed")

    def _erase_sealed_papers(self) -> int:
        # After the challenge period not even k tellers together may link a member to a
        # choice: the sealed papers go, the trackers and opened papers stay.
        try:
            return ballot_box.erase_due()
        except Exception:
            return self._failed("erasing sealed ballot papers failed")

    def _extend_series(self) -> int:
        # Recurring events are made a horizon ahead; as days pass the next dates are made
        # here (and federated), so the weekly stall never runs out of dates.
        try:
            return series.extend_due()
        except Exception:
            return self._failed("making recurring events' dates failed")

    def _forget_guests(self) -> int:
        try:
            return guests.forget_past()
        except Exception:
            return self._failed("erasing past guests' details failed")

    def _answer_asks(self) -> int:
        # Before deliveries: an answer queued here leaves in the same pass.
        try:
            return ask_replies.send_due()
        except Exception:
            return self._failed("answering asks from other groups failed")

    def _expand_announcements(self) -> int:
        # A scheduled announcement becomes its queued messages at its time; the claim makes
        # sure only one worker does it, and all its messages come in one commit.
        try:
            return announcements.expand_due()
        except Exception:
            return self._failed("queueing scheduled announcements failed")

    def _queue_notices(self, now: datetime | None = None) -> int:
        # Notices, reminders and the digest are queued here, once each (their keys are
        # taken in the same commit), and sent by _send_mail just after. Each part fails
        # alone: a broken digest must not hold up tomorrow's reminders.
        steps = [
            (notices.send_due, "queueing notices failed"),
            (reminders.send_due, "queueing reminders failed"),
        ]
        # The digest reads every member's choices: once every DIGEST_CHECK_SECONDS is
        # plenty for a weekly mail (and for a member who turns it on mid-week).
        clock = now or utcnow()
        if self.digest_due_at is None or clock >= self.digest_due_at:
            self.digest_due_at = clock + self.digest_every
            steps.append((digest.send_due, "queueing the weekly digest failed"))
        queued = 0
        for step, what in steps:
            try:
                queued += step(now)
            except Exception:
                self._failed(what)
        return queued

    def _send_mail(self) -> int:
        # Reset links go out from here, never from the request that asked for one, so a slow
        # or absent SMTP server neither holds up a page nor loses a message.
        batch = int(self.app.config.get("MAIL_BATCH_SIZE", 20))
        per_minute = int(self.app.config.get("MAIL_RATE_PER_MINUTE") or 0)
        taken = 0
        try:
            for _ in range(MAX_BATCHES_PER_PASS):
                # The admin's limit holds across all workers: take no more than is left of it.
                left = rate.allowance(per_minute)
                db.session.rollback()  # end the count's read before the claim
                limit = batch if left is None else min(batch, left)
                if limit <= 0:
                    break
                sent = mail.send_due(limit=limit, rng=self.rng)
                taken += sent.taken
                if sent.taken < limit or self.stopping.is_set():
                    break
        except Exception:
            # Deliveries and polls must not wait on it: log, and try again next pass.
            self._failed("sending queued mail failed")
        return taken

    def _aggregate(self) -> int:
        # An aggregator pulls the combined feeds of its sources and admits what it holds to
        # its own combined feed (node/services/aggregator/sources.py); elsewhere a no-op.
        try:
            return sources.run_due()
        except Exception:
            return self._failed("the aggregator's step failed")

    def _failed(self, what: str) -> int:
        # Called from an except block: a database that is down fails every step of every
        # pass alike, so the same error is logged once and then counted.
        db.session.rollback()
        self.failing.add(what)
        self.errors.error(what, what, sys.exc_info()[1])
        return 0

    def start_up(self) -> None:
        """Make every followed peer's poll and every waiting delivery due now."""
        with self.app.app_context():
            try:
                polls = sync.pull_all_now()
                retries = deliveries.retry_now()
                log.info("worker started: %d peers to poll, %d deliveries to retry", polls, retries)
            except Exception:
                self._failed("making polls and deliveries due at start failed")
            finally:
                db.session.remove()

    def log_summary(self) -> None:
        """Every DELIVERY_SUMMARY_SECONDS, log what waits to be delivered and what failed."""
        now = utcnow()
        if now - self.summary_since < self.summary_every:
            return
        with self.app.app_context():
            try:
                deliveries.summary(self.summary_since)
                self.summary_since = now
            except Exception:
                self._failed("summarising deliveries failed")
            finally:
                db.session.remove()

    def run(self) -> None:
        """Loop until stopped, sleeping briefly whenever a pass finds nothing to do."""
        self.start_up()
        event.listen(Session, "after_flush", self._note_queued)
        event.listen(Session, "after_commit", self._wake_if_queued)
        try:
            self._loop()
        finally:
            event.remove(Session, "after_flush", self._note_queued)
            event.remove(Session, "after_commit", self._wake_if_queued)

    def _loop(self) -> None:
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="delivery") as executor:
            while not self.stopping.is_set():
                self.failing = set()
                try:
                    busy = self.run_once(executor).busy
                except Exception as error:
                    # A database hiccup must not kill the worker: log it and try again later.
                    self.failing.add("worker pass failed")
                    self.errors.error("worker pass failed", "worker pass failed", error)
                    busy = False
                self.errors.ok_except(
                    self.failing
                )  # a step that worked again says how often it failed
                self.log_summary()
                if not busy and not self.stopping.is_set():
                    self.wake.wait(self.idle_seconds)
                self.wake.clear()


def start_in_background(app: Flask) -> Worker | None:
    """Start the worker on a daemon thread of this process unless WORKER_IN_PROCESS is off."""
    if not app.config.get("WORKER_IN_PROCESS", True):
        return None
    worker = Worker(app)
    thread = threading.Thread(target=worker.run, name="branchline-worker", daemon=True)
    thread.start()
    return worker
