"""Browser tests: Debian's chromium driven by Playwright against real node processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Real `branchline` processes on free 127.0.0.1 ports, shared with the integration tests.
from tests.integration.conftest import start_node  # noqa: F401
from tests.node.mail_support import serve_mail

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium():
    """Launch Debian's chromium headless; skip without it, except on CI where it must exist."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def mailbox():
    """A real SMTP server on 127.0.0.1 for the node under test to send to."""
    handler, controller = serve_mail()
    yield handler
    controller.stop()
