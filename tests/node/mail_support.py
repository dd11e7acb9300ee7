"""A real SMTP server on 127.0.0.1 for mail tests, and the settings that send to it."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from node.services import mail

MAIL_FROM = "Leeds North Momentum <branchline@leeds.example>"


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts and gives the replies a test scripts."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        self.rcpt_replies: list[str] = []  # answered to RCPT TO, one each, before accepting
        self.data_replies: list[str] = []  # answered to the end of DATA, likewise
        self.sessions = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            if self.rcpt_replies:
                return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


class LoopbackController(Controller):
    """aiosmtpd's threaded server, listening on port 0 of 127.0.0.1 (a free port)."""

    def _trigger_server(self):
        # The controller checks the server is up by connecting to self.port: with port 0,
        # that has to be the port the system gave the listening socket.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def serve_mail():
    """Start a Mailbox on a free 127.0.0.1 port; return (handler, controller to stop)."""
    handler = Mailbox()
    controller = LoopbackController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    handler.port = controller.port
    return handler, controller


def smtp_settings(app_config: dict, mailbox: Mailbox) -> dict:
    """``app_config`` sending through ``mailbox``."""
    return {
        **app_config,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": mailbox.port,
        "SMTP_STARTTLS": False,  # aiosmtpd here offers no TLS; one test turns it back on
        "SMTP_TIMEOUT": 5,
        "MAIL_FROM": MAIL_FROM,
        "ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8",
    }


def delivered(mailbox: Mailbox) -> dict[str, list[EmailMessage]]:
    """Send what is due (in the app context) and return what arrived, by address."""
    mail.send_due(limit=500)
    found: dict[str, list[EmailMessage]] = {}
    for _, to, message in mailbox.received:
        for address in to:
            found.setdefault(address, []).append(message)
    return found


def plain(message: EmailMessage) -> str:
    """Return a received message's plain-text part."""
    return message.get_body(("plain",)).get_content()
