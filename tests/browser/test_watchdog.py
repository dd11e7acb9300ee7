"""A chromium that stops answering fails its test instead of hanging the whole run."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest
from playwright.sync_api import Error

from .conftest import CHROMIUM, CHROMIUM_ARGS, Watchdog, _pids

pytestmark = pytest.mark.browser


@pytest.mark.timeout(180)  # a broken watchdog fails here rather than holding the run
def test_a_wedged_chromium_is_killed_and_the_waiting_call_fails():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    marker = f"--branchline-test-browser={uuid.uuid4().hex}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, marker]
        )
        context = browser.new_context()
        leaders = _pids(lambda arguments, _parent: marker.encode() in arguments)
        assert leaders, "the marker should find the chromium it was given to"
        for pid in leaders:
            os.killpg(pid, signal.SIGSTOP)  # chromium stops answering, as when it wedges
        watchdog = Watchdog(marker, 3.0)
        started = time.monotonic()
        try:
            with pytest.raises(Error, match="closed"):
                context.new_page()  # no timeout of its own: only the watchdog ends it
        finally:
            watchdog.cancel()
        assert watchdog.fired
        assert time.monotonic() - started < 120
        assert not _pids(lambda arguments, _parent: marker.encode() in arguments)
