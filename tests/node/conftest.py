"""Fixtures for the node's tests: API callers holding each role's token, an SMTP server,
the kept copies' clocks stopped."""

from __future__ import annotations

import pytest

from node.services import content_version, groups
from tests import factories
from tests.node.api_support import ApiClient
from tests.node.mail_support import serve_mail


@pytest.fixture
def api(client):
    return ApiClient(client)


@pytest.fixture
def member_token(member):
    return factories.token(member)


@pytest.fixture
def organiser_token(organiser):
    return factories.token(organiser)


@pytest.fixture
def admin_token(admin):
    return factories.token(admin)


@pytest.fixture
def mailbox():
    """A real SMTP server on 127.0.0.1 keeping what it accepts (see mail_support)."""
    handler, controller = serve_mail()
    yield handler
    controller.stop()


@pytest.fixture
def kept_copies_clock_stopped(monkeypatch):
    """Stop the clocks of the kept content version and group row: only commits renew them.

    Each process reads the content version again after a second and the group row after a
    minute. A test counting a page's statements would count that read whenever a slow
    machine lets the time pass between two views.
    """
    monkeypatch.setattr(content_version, "_clock", lambda: 1_000.0)
    monkeypatch.setattr(groups, "_clock", lambda: 1_000.0)
