"""Prometheus metrics (prometheus-client): what each process counts, and what a scrape reads.

Counted as requests are served, in the process serving them:

- ``branchline_http_requests_total{method, route, status}`` and
  ``branchline_http_request_duration_seconds{method, route}``, by the Flask route
  (``/events/<int:item_id>``), never the raw path, so the number of series stays fixed;
- ``branchline_inbox_activities_total{result, reason}``: what the inbox accepted and
  refused, the reason one of a fixed few (`inbox_reason`).

Read from the database at each scrape (`DatabaseCollector`), so every process and worker
sees the same figures: deliveries pending and failed per peer host (the busiest
PEERS_SHOWN hosts, the rest as ``other``), the mail queue, the age of the newest worker
heartbeat, the feed's head seq, and whether the database answered at all.

Under gunicorn each worker process counts for itself. With PROMETHEUS_MULTIPROC_DIR set
(an empty folder, before the server starts) prometheus-client keeps the counts in files
there and a scrape of any worker adds them all up; deploy/gunicorn.conf.py tells it when a
worker exits. docs/operations.md says how to set it up.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .services import feed, health, workers

PEERS_SHOWN = 20  # delivery series per state: the busiest hosts, then "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a request no route matched (a 404, a 405)
STARTED = "branchline.metrics_started"
MIN_TOKEN_LENGTH = 24

REQUESTS = Counter(
    "branchline_http_requests_total",
    "HTTP requests answered, by method, route and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "branchline_http_request_duration_seconds",
    "Time from the first request hook to the response, by method and route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
INBOX = Counter(
    "branchline_inbox_activities_total",
    "Activities POSTed to the inbox, by result (accepted, refused) and reason.",
    ["result", "reason"],
)

# Refusals by status, with the few messages told apart that an operator acts on differently.
REFUSED_BY_STATUS = {
    400: "invalid",
    401: "signature",
    403: "forbidden",
    404: "no_group",
    413: "too_large",
    415: "media_type",
    429: "rate_limited",
    503: "unavailable",
}
REFUSED_BY_PREFIX = (
    ("entry refused", "entry_refused"),
    ("malformed signature", "malformed_signature"),
)
ACCEPTED = {
    "accepted": "accepted",
    "already received": "duplicate",
    "applied": "entry_applied",
    "duplicate": "duplicate",
    "behind": "entry_behind",
}


def inbox_reason(status: int, message: str) -> tuple[str, str]:
    """Return the (result, reason) labels of an inbox answer: a fixed few, never free text."""
    if status < 400:
        if message.startswith("ignored"):
            return "accepted", "ignored"
        return "accepted", ACCEPTED.get(message, "other")
    lowered = message.lower()
    if "block" in lowered:
        return "refused", "blocked"
    for prefix, reason in REFUSED_BY_PREFIX:
        if lowered.startswith(prefix):
            return "refused", reason
    return "refused", REFUSED_BY_STATUS.get(status, "other")


def count_inbox(status: int, message: str) -> None:
    """Count one inbox answer."""
    INBOX.labels(*inbox_reason(status, message)).inc()


def init_app(app: Flask) -> None:
    """Check the metrics settings, and time and count every request ``app`` serves.

    Call it before the blueprints are registered: the clock starts before their hooks run,
    and the count is taken after theirs (Flask runs after-request hooks in reverse order).
    """
    allowed_networks(app.config)  # a typo in the allow-list stops the start, not a scrape
    token = app.config.get("METRICS_TOKEN")
    if token and len(str(token)) < MIN_TOKEN_LENGTH:
        raise ValueError(f"METRICS_TOKEN must be at least {MIN_TOKEN_LENGTH} characters")
    app.before_request(_start_clock)
    app.after_request(_count_request)


def _start_clock() -> None:
    request.environ[STARTED] = time.perf_counter()


def _count_request(response: Response) -> Response:
    started = request.environ.get(STARTED)
    rule = request.url_rule
    route = rule.rule if rule is not None else UNMATCHED
    method = request.method if request.method in METHODS else "other"
    REQUESTS.labels(method, route, str(response.status_code)).inc()
    if started is not None:
        LATENCY.labels(method, route).observe(time.perf_counter() - started)
    return response


class DatabaseCollector:
    """Figures read from the database at each scrape (the app context's session)."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "branchline_database_up", "1 if the database answered this scrape, else 0."
        )
        try:
            figures = list(self._figures())
        except SQLAlchemyError:
            db.session.rollback()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from figures

    def _figures(self) -> Iterator[Metric]:
        pending = GaugeMetricFamily(
            "branchline_deliveries",
            "Deliveries still to land (pending) or given up (failed), by peer host.",
            labels=["peer", "state"],
        )
        for (peer, state), count in sorted(health.deliveries_by_peer(PEERS_SHOWN).items()):
            pending.add_metric([peer, state], count)
        yield pending

        queue = GaugeMetricFamily(
            "branchline_mail_queue", "Outbound mail by status.", labels=["status"]
        )
        for status, count in health.mail_by_state().items():
            queue.add_metric([status], count)
        yield queue

        beat = workers.latest()
        age = GaugeMetricFamily(
            "branchline_worker_heartbeat_age_seconds",
            "Seconds since the newest worker heartbeat (absent before the first).",
        )
        if beat.age_seconds is not None:
            age.add_metric([], beat.age_seconds)
        yield age
        yield GaugeMetricFamily(
            "branchline_workers_live",
            "Workers that beat within WORKER_HEARTBEAT_STALE_SECONDS.",
            value=beat.live_workers,
        )
        yield GaugeMetricFamily(
            "branchline_feed_head_seq",
            "The seq of the newest entry of this group's feed.",
            value=feed.head_seq(),
        )


class _ThisProcess:
    """Forward to the default registry: this process's counts, and Python's own figures."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition() -> tuple[bytes, str]:
    """Return the body and content type of a scrape, this process's or all workers' counts."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


def allowed_networks(
    config: Mapping[str, Any],
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Return METRICS_ALLOW_NETWORKS (a list, or a comma-separated string) as networks."""
    raw = config.get("METRICS_ALLOW_NETWORKS") or []
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    networks = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(
                f"METRICS_ALLOW_NETWORKS: {text!r} is not an address or a network"
            ) from None
    return networks


def from_allowed_network(address: str | None, config: Mapping[str, Any]) -> bool:
    """Say whether ``address`` lies in one of METRICS_ALLOW_NETWORKS."""
    networks = allowed_networks(config)
    if not networks or not address:
        return False
    try:
        found = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        found = found.ipv4_mapped
    return any(found in network for network in networks)
