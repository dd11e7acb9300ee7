"""Browser tests: Debian's chromium driven by Playwright against real node processes."""

from __future__ import annotations

import os
import signal
import threading
import uuid
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
    # Containers often give /dev/shm 64 MB; chromium then stalls instead of failing.
    "--disable-dev-shm-usage",
]
# A Playwright call without a timeout of its own (new_page, close) can wait forever on a
# chromium that stopped answering. Past this many seconds the watchdog kills that chromium,
# so the call fails ("... has been closed") instead of hanging the whole run, and the test is
# run once more (pytest-rerunfailures, only on those errors).
BROWSER_DEADLINE = float(os.environ.get("BRANCHLINE_TEST_BROWSER_DEADLINE", "300"))
# The driver itself gets this much longer before it is killed too.
DRIVER_GRACE = 60.0
BROWSER_GONE = [
    r"has been closed",
    r"Browser closed",
    r"Target closed",
    r"Connection closed",
]


def pytest_collection_modifyitems(items):
    """Run a browser test once more only when its chromium was killed as wedged."""
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("flaky"):
            item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=BROWSER_GONE))


def _pids(matching) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if matching(arguments, parent):
            found.append(int(entry.name))
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            if os.getpgid(pid) == pid:  # a group leader: its children go with it
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # already gone


class Watchdog:
    """Kill the chromium started with ``marker`` (then the Playwright driver) past a deadline."""

    def __init__(self, marker: str, seconds: float):
        self.marker = marker.encode()
        self.fired = False
        self._timers = [
            threading.Timer(seconds, self._kill_browser),
            threading.Timer(seconds + DRIVER_GRACE, self._kill_driver),
        ]
        for timer in self._timers:
            timer.daemon = True
            timer.start()

    def _kill_browser(self) -> None:
        self.fired = True
        # Playwright starts chromium detached, so its main process leads its own group.
        _kill(_pids(lambda arguments, _parent: self.marker in arguments))

    def _kill_driver(self) -> None:
        me = os.getpid()
        _kill(_pids(lambda arguments, parent: parent == me and b"run-driver" in arguments))

    def cancel(self) -> None:
        for timer in self._timers:
            timer.cancel()


@pytest.fixture
def chromium():
    """Launch Debian's chromium headless; skip without it, except on CI where it must exist."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Chromium ignores a switch it does not know: this one finds its processes for the watchdog.
    marker = f"--branchline-test-browser={uuid.uuid4().hex}"
    watchdog = Watchdog(marker, BROWSER_DEADLINE)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, marker]
            )
            try:
                yield browser
            finally:
                browser.close()
    finally:
        watchdog.cancel()
        if watchdog.fired:
            print(f"chromium stopped answering for {BROWSER_DEADLINE:.0f} s and was killed")


@pytest.fixture
def mailbox():
    """A real SMTP server on 127.0.0.1 for the node under test to send to."""
    handler, controller = serve_mail()
    yield handler
    controller.stop()
