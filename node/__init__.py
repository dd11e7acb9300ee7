"""Branchline node: the Flask app one local group self-hosts."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from . import errors, logs, metrics, request_limits, templating
from .config import (
    Defaults,
    default_database_url,
    ensure_private_dir,
    instance_path_from,
    load_or_create_secret,
    private_database_files,
    read_environment,
)
from .extensions import babel, csrf, db, migrate
from .services import content_version  # noqa: F401 - installs the change listeners
from .session_cookies import CookieSessions
from .views import (
    account,
    activitypub,
    aggregate,
    api,
    asks,
    auth,
    ballots,
    blocks,
    carpools,
    checkin,
    feeds,
    guests,
    held,
    inbox,
    joining,
    mail_links,
    manage,
    manage_invitations,
    manage_joining,
    messages,
    national,
    network,
    operations,
    pages,
    pictures,
    series,
    shifts,
    still_coming,
    twins,
    unavailable,
    waitlist,
    wellknown,
)

MIGRATIONS = Path(__file__).parent / "migrations"

# In the order their routes are matched where two could answer the same address.
BLUEPRINTS = tuple(
    module.bp
    for module in (
        operations,
        wellknown,
        activitypub,
        inbox,
        held,
        pages,
        pictures,
        auth,
        account,
        mail_links,
        still_coming,
        feeds,
        ballots,
        manage,
        manage_invitations,
        messages,
        network,
        blocks,
        aggregate,
        api,
        national,
        twins,
        asks,
        shifts,
        carpools,
        guests,
        waitlist,
        checkin,
        series,
        joining,
        manage_joining,
    )
)


class RowId(IntegerConverter):
    """``<int:…>`` in every route: a whole number that fits a 32-bit signed column."""

    def __init__(self, url_map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build one node; tests pass ``config``, deployments set BRANCHLINE_* variables."""
    settings = read_environment() if config is None else dict(config)
    instance = ensure_private_dir(instance_path_from(settings))
    app = Flask(__name__, instance_path=str(instance))
    app.session_interface = CookieSessions()
    app.config.from_object(Defaults)
    app.config.update(settings)
    logs.init_app(app)  # first: every later line and request hook is tagged with the id
    metrics.init_app(app)  # before the blueprints: it times their hooks too
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_or_create_secret(instance, "secret_key")
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config.get("DATABASE_URL") or default_database_url(
        instance
    )
    private_database_files(app.config["SQLALCHEMY_DATABASE_URI"])
    if "SESSION_COOKIE_SECURE" not in settings:
        app.config["SESSION_COOKIE_SECURE"] = str(app.config["BASE_URL"]).startswith("https://")
    if app.config.get("PROXY_FIX"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    # Ids in addresses are database integers: a larger number is a 404 from routing, never
    # an overflow in the database driver.
    app.url_map.converters["int"] = RowId
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app)  # gettext and ngettext in templates and code
    errors.init_app(app)
    unavailable.init_app(app)  # 503s and last copies when storage fails

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    csrf.exempt(api.bp)  # the API authenticates with bearer tokens, never cookies
    csrf.exempt(inbox.bp)  # peers authenticate with HTTP signatures
    csrf.exempt(mail_links.unsubscribe_confirm)  # the signed link is the proof (RFC 8058)

    request_limits.init_app(app)  # after the blueprints: it applies their views' limits
    request_limits.limiter_of(app).exempt(operations.bp)  # even from RATELIMIT_DEFAULT
    templating.init_app(app)
    app.after_request(_security_headers)
    return app


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: https:{tiles}; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@functools.lru_cache(maxsize=8)  # one tile server per node: built once, not per answer
def content_security_policy(tiles_url: str | None) -> str:
    """Return the policy, with the map tile server's origin allowed for images only."""
    parts = urlsplit((tiles_url or "").replace("{s}", "a"))
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    # Subdomain tile servers ({s}.tile.example) need the wildcard form.
    if origin and "{s}." in (tiles_url or ""):
        origin = f"{parts.scheme}://*.{parts.netloc.split('.', 1)[1]}"
    return CONTENT_SECURITY_POLICY.format(tiles=f" {origin}" if origin else "")


def _security_headers(response):
    policy = content_security_policy(current_app.config.get("MAP_TILES"))
    response.headers.setdefault("Content-Security-Policy", policy)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response
