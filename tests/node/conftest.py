"""Fixtures for the node's tests: API callers holding each role's token."""

from __future__ import annotations

import pytest

from tests import factories
from tests.node.api_support import ApiClient


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
