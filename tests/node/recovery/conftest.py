"""The recovery tests reach fake peers on loopback through `responses` (federation_support)."""

from tests.node.federation_support import remote  # noqa: F401 - a fixture
