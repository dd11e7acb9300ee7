"""Fixtures for the node's tests: API callers holding each role's token, an SMTP server."""

from __future__ import annotations

import pytest

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
