"""Outbound e-mail through the configured SMTP server, or the log when there is none."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import current_app


def send(to: str, subject: str, body: str) -> None:
    """Send a plain-text message; without BRANCHLINE_SMTP_HOST, write it to the log instead."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    host = config.get("SMTP_HOST")
    if not host:
        current_app.logger.warning(
            "No SMTP server configured; mail to %s:\n%s\n%s", to, subject, body
        )
        return
    with smtplib.SMTP(host, int(config["SMTP_PORT"]), timeout=10) as smtp:
        if config.get("SMTP_STARTTLS") and smtp.has_extn("starttls"):
            smtp.starttls()
        if config.get("SMTP_USERNAME"):
            smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
        smtp.send_message(message)
