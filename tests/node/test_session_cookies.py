"""The session cookie's serializer is built once per key set, and a changed key counts at once."""

from __future__ import annotations

from node.session_cookies import CookieSessions


def _opened(app, cookie: str) -> dict:
    name = app.config["SESSION_COOKIE_NAME"]
    with app.test_request_context(headers={"Cookie": f"{name}={cookie}"}) as context:
        return dict(app.session_interface.open_session(app, context.request))


def test_the_serializer_is_kept_while_the_keys_stay(app):
    sessions = app.session_interface
    assert isinstance(sessions, CookieSessions)
    first = sessions.get_signing_serializer(app)
    assert sessions.get_signing_serializer(app) is first
    cookie = first.dumps({"member": 7})
    assert _opened(app, cookie) == {"member": 7}


def test_a_new_key_refuses_old_cookies_unless_it_is_a_fallback(app):
    sessions = app.session_interface
    old_key = app.secret_key
    cookie = sessions.get_signing_serializer(app).dumps({"member": 7})
    app.secret_key = "a rotated key, long enough for a test"
    assert _opened(app, cookie) == {}  # the next request already uses the new key
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]
    assert _opened(app, cookie) == {"member": 7}
    fresh = sessions.get_signing_serializer(app).dumps({"member": 8})
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert _opened(app, fresh) == {"member": 8}
    assert _opened(app, cookie) == {}


def test_a_tampered_cookie_opens_an_empty_session(app):
    cookie = app.session_interface.get_signing_serializer(app).dumps({"member": 7})
    body, _, signature = cookie.rpartition(".")
    assert _opened(app, f"{body}.{signature[::-1]}") == {}
