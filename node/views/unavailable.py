"""Answer 503 when the node cannot store data: a full disk, a locked or unreachable database.

Such a failure is the machine's state, not the request's fault, and it passes: the caller is
told so (503 with Retry-After; JSON under the API, a page elsewhere) instead of "Something went
wrong", and the transaction is rolled back so nothing is half written. A visitor asking for a
public page gets the last copy this process showed (node/views/last_copies.py), marked as
possibly out of date. The page is rendered without the database: the usual page frame asks it
who is logged in and what the group is called.
"""

from __future__ import annotations

import errno
import sqlite3
from datetime import UTC, datetime

from flask import Flask, current_app, request
from markupsafe import Markup
from sqlalchemy import exc as sa

from ..errors import error_response, wants_json
from ..extensions import db
from . import last_copies

RETRY_AFTER_SECONDS = 30
MESSAGE = (
    "This node cannot store data right now: its disk is full or its database is unavailable. "
    "Nothing was saved. Try again in a few minutes."
)
STALE_NOTICE = (
    "The site cannot reach its database right now: this is a copy of the page saved at {time} "
    "UTC and may be out of date."
)

# SQLite says what went wrong only in the message; these mean the storage, not the request.
SQLITE_STORAGE_MESSAGES = (
    "database or disk is full",
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk i/o error",
    "attempt to write a readonly database",
)
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def is_storage_failure(error: BaseException) -> bool:
    """Say whether ``error`` means the node cannot store or reach its data just now."""
    if isinstance(error, OSError) and not isinstance(error, sqlite3.Error):
        return error.errno in STORAGE_ERRNOS
    if isinstance(error, sa.DisconnectionError | sa.TimeoutError):
        return True  # the pool lost its connection, or waited too long for a free one
    if not isinstance(error, sa.OperationalError | sa.InterfaceError):
        return False
    if isinstance(error.orig, sqlite3.Error):
        message = str(error.orig).lower()
        return any(known in message for known in SQLITE_STORAGE_MESSAGES)
    # PostgreSQL's operational errors are the server's state: down, restarting, out of disk
    # or connections, a dropped connection.
    return True


def _page(status: int, message: str) -> str:
    # From the template alone, with no context processor: those ask the database.
    template = current_app.jinja_env.get_template("unavailable.html")
    return template.render(status=status, message=message)


def unavailable_response():
    """Build the 503 answer, in JSON under the API and as a page elsewhere."""
    if wants_json():
        response = error_response(503, MESSAGE)
    else:
        response = current_app.response_class(_page(503, MESSAGE), 503, mimetype="text/html")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _last_copy_response(copy: last_copies.Copy):
    body = copy.body
    saved = datetime.fromtimestamp(copy.saved_at, UTC)
    if copy.mimetype == "text/html":
        notice = Markup('<p class="flash error" role="status">{}</p>').format(
            STALE_NOTICE.format(time=saved.strftime("%d %b %Y %H:%M"))
        )
        body = body.replace(b'<main id="main">', b'<main id="main">' + str(notice).encode(), 1)
    response = current_app.response_class(body, 200, content_type=copy.content_type)
    age = max(0, int(datetime.now(UTC).timestamp() - copy.saved_at))
    response.headers["Age"] = str(age)
    response.headers[last_copies.COPY_HEADER] = f"saved {saved.isoformat(timespec='seconds')}"
    response.headers["Cache-Control"] = "no-store"
    return response


def _roll_back() -> None:
    # The transaction is abandoned whole; with the database gone the rollback itself may fail,
    # and then the connection is discarded by the pool, which abandons it just the same.
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - any failure here leaves nothing committed
        db.session.invalidate()


def init_app(app: Flask) -> None:
    """Answer storage failures with 503 (or a public page's last copy) instead of a 500."""
    last_copies.init_app(app)

    def _storage_failure(error: Exception):
        if not is_storage_failure(error):
            # Any other error of these classes is a bug: the usual 500, logged.
            db.session.rollback()
            app.logger.exception("Unhandled error on %s %s", request.method, request.path)
            return error_response(500)
        _roll_back()
        app.logger.warning(
            "Storage unavailable on %s %s: %s", request.method, request.path, _first_line(error)
        )
        copy = last_copies.find(app)
        if copy is not None:
            return _last_copy_response(copy)
        return unavailable_response()

    for kind in (
        sa.OperationalError,
        sa.InterfaceError,
        sa.DisconnectionError,
        sa.TimeoutError,
        OSError,
    ):
        app.register_error_handler(kind, _storage_failure)


def _first_line(error: Exception) -> str:
    return str(error).split("\n", 1)[0][:300]
