"""Log-in limits (issue 13): counted atomically, per account and address, per address, and a
back-off per account that a stranger can stretch to a minute at most."""

from __future__ import annotations

import contextlib
import re
import threading
from datetime import timedelta

from sqlalchemy import select

from node.extensions import db
from node.models import LoginFailure
from node.services.membership import logins, passwords
from tests import factories
from tests.conftest import csrf_token, post_form
from tests.node.pages_support import text_of


def _attempt(browser, email: str, password: str, address: str):
    data = {"email": email, "password": password}
    return post_form(browser, "/login", data, environ_base={"REMOTE_ADDR": address})


def _let_time_pass(seconds: int) -> None:
    """Move every stored failure back, as if ``seconds`` had gone by."""
    for failure in db.session.scalars(select(LoginFailure)):
        failure.at -= timedelta(seconds=seconds)
    db.session.commit()


def _retry_after(response) -> int:
    assert response.status_code == 429, response.status_code
    return int(response.headers["Retry-After"])


def test_a_refusal_says_when_to_try_again(client, member):
    for _ in range(5):
        assert _attempt(client, member.email, "wrong guess", "192.0.2.1").status_code == 401
    refused = _attempt(client, member.email, factories.PASSWORD, "192.0.2.1")
    assert 0 < _retry_after(refused) <= 15 * 60
    assert "Too many failed log-ins" in text_of(refused)
    assert refused.headers["Cache-Control"] == "no-store"


def test_a_strangers_guesses_only_delay_the_owner_briefly(app, client, member):
    cap = app.config.get("LOGIN_ACCOUNT_DELAY_CAP_SECONDS", 60)  # a minute, by default
    stranger = client.application.test_client()
    for n in range(12):  # a patient stranger, from a new address each time
        address = f"203.0.113.{n}"
        response = _attempt(stranger, member.email, "wrong guess", address)
        if response.status_code == 429:
            _let_time_pass(_retry_after(response))
            response = _attempt(stranger, member.email, "wrong guess", address)
        assert response.status_code == 401
    # The guesses are slowed to one a minute...
    assert _retry_after(_attempt(stranger, member.email, "wrong", "203.0.113.99")) == cap
    # ... and the owner, from an address of their own, waits no longer than that.
    owner = client.application.test_client()
    response = _attempt(owner, member.email, factories.PASSWORD, "198.51.100.7")
    if response.status_code == 429:
        wait = _retry_after(response)
        assert wait <= cap
        _let_time_pass(wait)
        response = _attempt(owner, member.email, factories.PASSWORD, "198.51.100.7")
    assert response.status_code == 302


def test_a_reset_link_clears_the_accounts_back_off(client, member, monkeypatch):
    sent = []
    monkeypatch.setattr("node.services.mail.send", lambda to, subject, body: sent.append(body))
    for n in range(6):
        _attempt(client.application.test_client(), member.email, "wrong", f"203.0.113.{n}")
    post_form(client, "/reset", {"email": member.email})
    link = re.search(r"http://localhost(/reset/\S+)", sent[0]).group(1)
    chosen = {"password": "a brand new passphrase", "password_confirm": "a brand new passphrase"}
    assert post_form(client, link, chosen).status_code == 302
    elsewhere = client.application.test_client()
    response = _attempt(elsewhere, member.email, "a brand new passphrase", "198.51.100.7")
    assert response.status_code == 302


def test_guesses_sent_at_once_get_no_more_tries_than_the_limit(app, client, member, monkeypatch):
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    email = member.email  # read here: the threads have no application context of their own
    senders = limit + 3
    browsers = [client.application.test_client() for _ in range(senders)]
    tokens = [csrf_token(browser) for browser in browsers]
    # Every guess that gets as far as the password check waits here for the others, so on a
    # limit counted before recording, all of them would get past it.
    together = threading.Barrier(senders, timeout=3)
    checked = []
    real_check = passwords.check_password

    def check_when_all_are_here(stored_hash, password):
        checked.append(password)
        with contextlib.suppress(threading.BrokenBarrierError):  # fewer came: the limit held
            together.wait()
        return real_check(stored_hash, password)

    monkeypatch.setattr(passwords, "check_password", check_when_all_are_here)
    answers = []

    def guess(browser, token, n):
        form = {"csrf_token": token, "email": email, "password": f"guess {n}"}
        answers.append(
            browser.post("/login", data=form, environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code
        )

    threads = [
        threading.Thread(target=guess, args=(browser, token, n))
        for n, (browser, token) in enumerate(zip(browsers, tokens, strict=True))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == senders
    assert len(checked) <= limit
    assert answers.count(401) == len(checked) and answers.count(429) == senders - len(checked)


def test_the_accounts_back_off_doubles_and_is_capped(app):
    free = app.config["LOGIN_ACCOUNT_FREE_FAILURES"]
    base = app.config["LOGIN_ACCOUNT_DELAY_SECONDS"]
    cap = app.config["LOGIN_ACCOUNT_DELAY_CAP_SECONDS"]
    assert [logins.account_delay(n) for n in range(free)] == [0] * free
    assert logins.account_delay(free) == base
    assert logins.account_delay(free + 1) == 2 * base
    assert logins.account_delay(free + 1000) == cap
