"""Flask's signed cookie session, with its signing serializer built once for each key set.

Flask builds a new serializer, with its signer set-up, for every request, whether it reads
the session or not: about 2% of an inbox POST, which never has a cookie. This one keeps the
serializer of the current ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` and builds another
only when they change, so a key rotated in the config is used from the next request.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class CookieSessions(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._built: tuple[Any, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        built = self._built  # one read: another thread may replace it meanwhile
        if built is None or built[0] != keys:
            built = (keys, super().get_signing_serializer(app))
            self._built = built
        return built[1]
