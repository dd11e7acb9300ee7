"""Settings: defaults, BRANCHLINE_* environment variables, and the instance folder."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

ENV_PREFIX = "BRANCHLINE"


class Defaults:
    """Settings a node starts from before the environment or a test overrides them."""

    BASE_URL = "http://127.0.0.1:5000"
    ROLE = "node"
    TIMEZONE = "Europe/London"
    # The language of pages and mail (docs/translating.md); "en" needs no catalogue.
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_TRANSLATION_DIRECTORIES = "translations"  # beside node/__init__.py
    # The map tiles event maps draw (Leaflet, served from /static/leaflet/); the tile host
    # is added to the Content-Security-Policy's img-src and nothing else.
    MAP_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    MAP_ATTRIBUTION = (
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
    )
    DATABASE_URL: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
    MAX_CONTENT_LENGTH = 1024 * 1024
    # Pictures organisers upload (node/services/pictures.py): the largest file taken (forms
    # that carry a picture accept this much more than MAX_CONTENT_LENGTH), the widest a
    # picture is kept, and the most pixels an upload may decode to.
    PICTURE_MAX_BYTES = 10 * 1024 * 1024
    PICTURE_MAX_WIDTH = 1600
    PICTURE_MAX_PIXELS = 40_000_000
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "branchline_session"
    PERMANENT_SESSION_LIFETIME = 14 * 24 * 3600
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session
    SMTP_HOST: str | None = None
    SMTP_PORT = 587
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_STARTTLS = True
    MAIL_FROM = "branchline@localhost"
    SMTP_TIMEOUT = 10.0  # seconds for each step of talking to the SMTP server
    # Outbound mail is queued (node/models/mail.py) and sent by the worker.
    MAIL_BATCH_SIZE = 20  # messages claimed, and sent over one connection, at a time
    MAIL_LEASE_SECONDS = 900  # a claimed message not finished by then is tried again
    MAIL_MAX_ATTEMPTS = 8  # tries in all before a message that keeps failing is failed
    # Messages all workers together hand to the SMTP server in a minute; 0 is no limit.
    MAIL_RATE_PER_MINUTE = 0
    MAIL_BOUNCE_LIMIT = 3  # permanent failures in a row that stop mail to an address
    MAIL_BACKOFF_BASE_SECONDS = 60
    MAIL_BACKOFF_CAP_SECONDS = 30 * 60
    # Log-in limits (services/membership/logins.authenticate says how they work together).
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 5  # for one account from one client address, per window
    LOGIN_MAX_FAILURES_PER_ADDRESS = 20  # from one client address, whatever the accounts
    LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
    LOGIN_ACCOUNT_FREE_FAILURES = 5  # failures for one account from anywhere before it slows
    LOGIN_ACCOUNT_DELAY_SECONDS = 5  # the first wait after those; it doubles with each failure
    LOGIN_ACCOUNT_DELAY_CAP_SECONDS = 60  # ... up to this, so a stranger cannot lock anyone out
    PASSWORD_MIN_LENGTH = 10
    PASSWORD_HASH_PROFILE = "rfc9106-low-memory"  # noqa: S105 - a cost profile name, not a secret
    API_MAX_PAGE_SIZE = 100
    # "1" allows requests to private/loopback addresses; or a list such as "127.0.0.0/8".
    ALLOW_PRIVATE_ADDRESSES: str | None = None
    # Notices members opt into announce only what was published this recently (and after
    # the node began sending them); reminders go this long before an event or shift starts.
    NOTICE_WINDOW_HOURS = 48
    REMINDER_HOURS = 24
    DIGEST_CHECK_SECONDS = 600  # how often the worker looks for members due a digest
    GUEST_RETENTION_DAYS = 90  # guests' names and addresses are erased this long after
    # Request limits (node/request_limits.py) are counted in the node's own database, so
    # they hold across gunicorn workers; "redis://…" or "memory://" also work (memory
    # counts per process, so N workers let N times as much through).
    RATELIMIT_STORAGE_URI = "branchline-db://"
    # A visitor's RSVP e-mails the address they typed: asks an hour from one client address
    # (an IPv6 /64), for one event, and for the whole node. 0 turns a limit off.
    GUEST_RSVP_PER_CLIENT_HOURLY = 10
    GUEST_RSVP_PER_EVENT_HOURLY = 100
    GUEST_RSVP_PER_NODE_HOURLY = 300
    # Reset requests and open invitation links e-mail the address typed: posts an hour from
    # one client address and for the whole node, and reset mails to one address.
    MAIL_FORMS_PER_CLIENT_HOURLY = 10
    MAIL_FORMS_PER_NODE_HOURLY = 200
    RESET_MAILS_PER_ADDRESS_HOURLY = 5
    # The public "Join us" form mails the address typed: posts an hour from one client address
    # and for the whole node.
    JOIN_REQUESTS_PER_CLIENT_HOURLY = 5
    JOIN_REQUESTS_PER_NODE_HOURLY = 100
    BALLOT_CHALLENGE_DAYS = 7  # sealed papers are erased this long after a sealed ballot's count
    SERIES_HORIZON_DAYS = 90  # how far ahead a recurring event's dates are made
    PAGE_CACHE_SECONDS = 30  # visitors' copy of the group page; 0 turns it off
    TOKEN_LIFETIME_SECONDS = 3600  # OAuth client-credentials tokens
    # Delivery and catch-up (node/worker.py). `branchline run` sends deliveries from a
    # background thread unless this is off (separate `branchline worker` processes).
    WORKER_IN_PROCESS = True
    WORKER_CONCURRENCY = 8  # deliveries one worker sends at once
    WORKER_IDLE_SECONDS = 2.0  # sleep between looks at the queue when nothing is due
    DELIVERY_BATCH_SIZE = 100  # rows claimed per transaction
    DELIVERY_LEASE_SECONDS = 30  # a claim not renewed by its worker for this long is retried
    DELIVERY_SUMMARY_SECONDS = 600  # how often the worker logs pending/failed per peer
    EARLY_ENTRIES_PER_PEER = 500  # entries pushed ahead of a gap kept per peer until it fills
    DELIVERY_MAX_AGE = 3 * 24 * 3600  # retry for at least this long, then give up
    DELIVERY_BACKOFF_BASE_SECONDS = 30
    DELIVERY_BACKOFF_CAP_SECONDS = 6 * 3600
    PEER_UNREACHABLE_AFTER = 5  # consecutive failed contacts before a peer is unreachable
    POLL_INTERVAL_SECONDS = 300  # how often each followed peer's outbox is checked
    SYNC_PAGE_SIZE = 100  # outbox entries asked for per page when catching up
    # Monitoring (docs/operations.md). /readyz fails when no worker has begun a pass for
    # this long (0: it does not look); a worker's row is deleted after a day of silence.
    WORKER_HEARTBEAT_STALE_SECONDS = 180
    WORKER_HEARTBEAT_KEEP_SECONDS = 24 * 3600
    # /metrics answers a bearer holding this token (or an admin's API token), or a caller
    # from these networks ("10.0.0.0/8,127.0.0.1"); anyone else gets a 404.
    METRICS_TOKEN: str | None = None
    METRICS_ALLOW_NETWORKS: str | list[str] = ""
    LOG_FORMAT = "text"  # or "json": one JSON object per line (node/logs.py)
    LOG_LEVEL = "INFO"
    TESTING = False


def read_environment(prefix: str = ENV_PREFIX) -> dict[str, Any]:
    """Return BRANCHLINE_* variables as config keys, with JSON-looking values decoded."""
    import json

    settings: dict[str, Any] = {}
    for key, raw in os.environ.items():
        if not key.startswith(prefix + "_"):
            continue
        name = key[len(prefix) + 1 :]
        try:
            settings[name] = json.loads(raw)
        except ValueError:
            settings[name] = raw
        if name in {
            "SECRET_KEY",
            "BALLOT_KEY",
            "DATABASE_URL",
            "ADMIN_PASSWORD",
            "SMTP_PASSWORD",
            "METRICS_TOKEN",
        }:
            settings[name] = raw  # never reinterpret secrets or URLs
    return settings


def instance_path_from(settings: dict[str, Any]) -> Path:
    """Resolve the instance folder: INSTANCE_PATH or ./instance."""
    return Path(settings.get("INSTANCE_PATH") or "instance").resolve()


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (owner-only) if it is missing and return it."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` so that only the owner can read it, even while it is being written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def load_or_create_secret(instance: Path, name: str, nbytes: int = 32) -> str:
    """Read a generated secret from the instance folder, creating it on first use.

    Several processes may start at once (gunicorn workers): each writes its candidate to a
    private temporary file and hard-links it into place, which only one can win; the others
    read the winner's value.
    """
    path = instance / name
    if not path.exists():
        candidate = instance / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        write_private_file(candidate, secrets.token_urlsafe(nbytes).encode())
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass
        finally:
            candidate.unlink(missing_ok=True)
    return path.read_text().strip()


def keep_files_private() -> None:
    """Make every file this process creates from now on owner-only (umask 077).

    Called by the entry points (the ``branchline`` command, the WSGI module) before the app
    exists, so nothing in the instance folder (the SQLite database and its -wal and -shm
    files, keys, uploads, anything a library writes) is ever readable by other accounts.
    The app factory does not call it: tests and embedders keep their own umask, and
    ``private_database_files`` covers the database for them.
    """
    os.umask(0o077)


def private_database_files(database_url: str) -> None:
    """Create a SQLite database file owner-only before SQLite does, and tighten what exists.

    SQLite gives its -wal and -shm files the database file's mode, so a 0600 database keeps
    all three private whatever the process umask. Files from before this rule (0644) are
    made 0600; a file owned by another account is left as it is.
    """
    url = make_url(database_url)
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return
    if name.startswith("file:") or url.query.get("mode") == "memory":
        return
    path = Path(name)
    if not path.parent.is_dir():
        return  # SQLite will say so when it opens it
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if candidate.stat().st_mode & 0o077:
                os.chmod(candidate, 0o600)


def default_database_url(instance: Path) -> str:
    """Return the embedded default: a SQLite file in the instance folder."""
    return f"sqlite:///{instance / 'branchline.sqlite3'}"
