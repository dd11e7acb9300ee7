"""What the browser tests share: a phone's size, times as forms take them, mail waited for,
pages measured for sideways scroll, and the SMTP settings of a node that mails a mailbox."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from typing import TypeVar
from zoneinfo import ZoneInfo

PHONE = {"width": 390, "height": 844}
LONDON = ZoneInfo("Europe/London")  # the test nodes' time zone, as their forms read times
Found = TypeVar("Found")


def smtp_settings(mailbox, sender: str = "Leeds North <branchline@leedsnorth.test>") -> dict:
    """Return the node settings that send its mail to ``mailbox`` on 127.0.0.1."""
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mailbox.port),
        "SMTP_STARTTLS": "0",
        "MAIL_FROM": sender,
    }


def form_time(moment: datetime, seconds: bool = False) -> str:
    """Write ``moment`` as a datetime-local box takes it, in London time."""
    return moment.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M:%S" if seconds else "%Y-%m-%dT%H:%M")


def wait_for(what: str, read: Callable[[], Found | None], timeout: float = 60.0) -> Found:
    """Poll ``read`` until it returns something; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = read()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


def wait_for_mail(
    mailbox, to: str, subject: str | re.Pattern | None = None, timeout: float = 60.0
) -> EmailMessage:
    """Wait for the first mail to ``to`` whose subject starts with ``subject`` (or matches it)."""

    def wanted(message: EmailMessage) -> bool:
        if subject is None:
            return True
        if isinstance(subject, re.Pattern):
            return bool(subject.search(message["Subject"]))
        return message["Subject"].startswith(subject)

    def first():
        for _sender, recipients, message in list(mailbox.received):
            if to in recipients and wanted(message):
                return message
        return None

    label = subject.pattern if isinstance(subject, re.Pattern) else subject
    return wait_for(f"a mail {label or ''!r} to {to}", first, timeout)


def fits_phone(page) -> None:
    """Fail if ``page`` is wider than the phone, so that it would scroll sideways."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']} px phone"
