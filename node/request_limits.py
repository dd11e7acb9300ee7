"""Request limits: Flask-Limiter, counting in the node's own database so every worker shares them.

A limit has to hold across all the gunicorn workers of a node. Flask-Limiter's own storages
are memory (one count per process, so N workers let N times as much through), Redis,
Memcached and MongoDB, none of which a node has. So this module registers a storage for
the ``branchline-db://`` scheme with the ``limits`` package Flask-Limiter is built on,
keeping the counts in the ``request_counts`` table (node/services/request_counts.py), and
makes it the default ``RATELIMIT_STORAGE_URI``. An operator who runs Redis can point
BRANCHLINE_RATELIMIT_STORAGE_URI at it instead.

Flask-Limiter keeps its storage and settings on the ``Limiter`` object rather than per app,
so one module-level limiter attached to two apps would count both in the second app's
storage. Each app therefore gets a limiter of its own in `init_app`, and a view asks for
limits with `limit`, which only marks the view: `init_app` applies the marks with the app's
own limiter (Flask-Limiter's ``Limiter.limit``; every keyword it takes can be passed).

A route elsewhere is limited the same way, for example a log-in form by address::

    @bp.post("/login")
    @request_limits.limit(request_limits.per_hour("LOGIN_POSTS_PER_CLIENT_HOURLY"))
    def login(): ...

(``key_func`` defaults to `client_address`; pass another, such as the e-mail address
posted, for a second count). A refused request raises Flask-Limiter's ``RateLimitExceeded``:
the node answers it with a 429 and a Retry-After header, on the error page (or as JSON under
the API), or with the page the limit's ``on_breach`` callback returns. The view itself does
not run, so nothing is written or sent.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, request
from flask_limiter import Limiter, RateLimitExceeded
from limits.storage import Storage
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .errors import error_response
from .extensions import db
from .models.types import utcnow
from .services import request_counts

View = TypeVar("View", bound=Callable[..., Any])

EXTENSION = "branchline_limiter"
MARKS = "branchline_request_limits"
# Settings that `per_hour` reads; `init_app` refuses to start with a bad value in one.
HOURLY_SETTINGS: set[str] = set()


class DatabaseStorage(Storage):
    """Counts for the ``limits`` package in the node's own database (``branchline-db://``).

    It holds no connection of its own: each call uses the current app's engine, in a
    transaction of its own, so the counts of every worker process meet in one table.
    Flask-Limiter's fixed-window strategy needs only `incr`, `get` and `get_expiry`.
    """

    STORAGE_SCHEME = ["branchline-db"]
    # Expired counts are deleted by the first count after this many seconds, in a
    # transaction of its own (deleting them in the counting transaction could deadlock two
    # PostgreSQL workers each holding the row the other's delete wants).
    FORGET_EVERY = 60.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._forgot_at: float | None = None
        self._forgetting = threading.Lock()

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        with db.engine.begin() as conn:
            found = request_counts.add(conn, key, amount, expiry, utcnow())
        self._forget_expired()
        return found

    def get(self, key: str) -> int:
        with db.engine.connect() as conn:
            return request_counts.count(conn, key, utcnow())

    def get_expiry(self, key: str) -> float:
        with db.engine.connect() as conn:
            ends = request_counts.window_end(conn, key, utcnow())
        return ends.timestamp() if ends is not None else time.time()

    def check(self) -> bool:
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with db.engine.begin() as conn:
            return request_counts.clear_all(conn)

    def clear(self, key: str) -> None:
        with db.engine.begin() as conn:
            request_counts.clear(conn, key)

    def _forget_expired(self) -> None:
        now = time.monotonic()
        with self._forgetting:
            if self._forgot_at is not None and now - self._forgot_at < self.FORGET_EVERY:
                return
            self._forgot_at = now
        with db.engine.begin() as conn:
            request_counts.forget_expired(conn, utcnow())


def client_address() -> str:
    """Return who a request comes from, as limits count it: an IPv4 address, or an IPv6 /64.

    The address is ``request.remote_addr``, which ProxyFix sets from the reverse proxy's
    X-Forwarded-For when BRANCHLINE_PROXY_FIX is on (deploy/). One IPv6 host usually holds
    a whole /64, so its addresses count together.
    """
    raw = request.remote_addr or ""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


def per_hour(setting: str) -> Callable[[], str]:
    """Return a limit of the number of requests an hour the setting holds (0: no limit)."""
    HOURLY_SETTINGS.add(setting)

    def value() -> str:
        from flask import current_app

        amount = int(current_app.config[setting])
        return f"{amount}/hour" if amount > 0 else ""

    return value


def limit(value: str | Callable[[], str], **options: Any) -> Callable[[View], View]:
    """Mark a view to be limited by ``value`` (Flask-Limiter's limit string) in every app."""

    def mark(view: View) -> View:
        # Decorators apply from the bottom up: keep the marks in the order they are written,
        # which is the order the limits are spent in.
        view.__dict__.setdefault(MARKS, []).insert(0, (value, options))
        return view

    return mark


def limiter_of(app: Flask) -> Limiter:
    """Return ``app``'s own limiter."""
    return app.extensions[EXTENSION]


def init_app(app: Flask) -> None:
    """Give ``app`` a limiter of its own and apply the limits its views are marked with.

    Call it once every blueprint is registered.
    """
    for setting in sorted(HOURLY_SETTINGS):
        _check_count(setting, app.config.get(setting))
    limiter = Limiter(key_func=client_address)
    limiter.init_app(app)
    app.extensions[EXTENSION] = limiter
    marked = {name for name, view in app.view_functions.items() if view.__dict__.get(MARKS)}
    manager = limiter.limit_manager
    if not (
        manager.default_limits or manager.application_limits or app.config.get("RATELIMIT_META")
    ):
        _check_marked_views_only(app, limiter, marked)
    for endpoint, view in list(app.view_functions.items()):
        marks = view.__dict__.get(MARKS, ())
        limited = view
        # Flask-Limiter spends a view's limits in the order they were declared and stops at
        # the first one refused: declare them in the order they are written.
        for value, options in marks:
            limited = limiter.limit(value, **options)(limited)
        app.view_functions[endpoint] = limited

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded) -> Response:
        response = exc.response or app.make_response(error_response(429))
        response.status_code = 429
        response.headers["Retry-After"] = str(_seconds_to_wait(limiter))
        return response


def _check_marked_views_only(app: Flask, limiter: Limiter, marked: set[str]) -> None:
    # No limit covers a view that is not marked: Flask-Limiter would still work out, for
    # every such request, that there is nothing to count (a sixth of the time of a page
    # served from a copy). With a default, application-wide or meta limit set, every request
    # is checked as Flask-Limiter does.
    check = limiter._check_request_limit
    hooks = app.before_request_funcs.setdefault(None, [])
    if check not in hooks:  # another Flask-Limiter: it keeps checking every request
        return

    def check_marked_view() -> None:
        if request.endpoint in marked:
            check()

    hooks[hooks.index(check)] = check_marked_view


def _seconds_to_wait(limiter: Limiter) -> int:
    breached = limiter.current_limit
    if breached is None:
        return 60
    return max(1, math.ceil(breached.window.reset_time - time.time()))


def _check_count(setting: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"{setting} must be a whole number of requests an hour (0 for no limit), not {value!r}"
        )
