"""The node's log lines: one format for every process, plain text or JSON, each line tagged.

`configure` gives the root logger one handler writing to standard error, in the format
LOG_FORMAT names: ``text`` (the default, one line an operator can grep) or ``json`` (one
JSON object a line, for a log shipper). The factory calls it, so `branchline run`, the
`branchline worker` command and gunicorn's workers all log alike.

A line logged while a request is handled carries that request's id (``request_id``): the
caller's X-Request-Id when it is well-formed, else one made up here, and the response
echoes it, so a client's report, the proxy's log and the node's lines meet. A line a
delivery worker logs carries the id of the worker's pass (``pass_id``) instead, set at the
start of each pass by node/services/workers.py. Both live in context variables, read when a
record is made, so every handler sees them (pytest's caplog too).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request

REQUEST_ID: ContextVar[str | None] = ContextVar("branchline_request_id", default=None)
PASS_ID: ContextVar[str | None] = ContextVar("branchline_pass_id", default=None)

FORMATS = ("text", "json")
# An incoming id is kept only if it is short and plain: it goes into every line and a header.
WELL_FORMED_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

_base_factory = logging.getLogRecordFactory()


def _record_with_ids(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.request_id = REQUEST_ID.get()
    record.pass_id = PASS_ID.get()
    return record


logging.setLogRecordFactory(_record_with_ids)


def request_id_from(header: str | None) -> str:
    """Return ``header`` if it is a well-formed request id, else a new random one."""
    if header and WELL_FORMED_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def start_pass(pass_id: str) -> None:
    """Tag the lines this thread logs from now on with ``pass_id`` (a worker's pass)."""
    PASS_ID.set(pass_id)


def _when(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``2026-12-06T10:54:00.123Z INFO node.worker [pass=…] message``, traceback below."""

    def format(self, record: logging.LogRecord) -> str:
        tag = _tag(record)
        line = f"{_when(record)} {record.levelname} {record.name} [{tag}] {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids, any exception."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _when(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        pass_id = getattr(record, "pass_id", None)
        if request_id:
            document["request_id"] = request_id
        elif pass_id:
            document["pass_id"] = pass_id
        if record.exc_info:
            document["exception"] = "".join(traceback.format_exception(*record.exc_info))
        elif record.stack_info:
            document["stack"] = record.stack_info
        return json.dumps(document, ensure_ascii=False, default=str)


def _tag(record: logging.LogRecord) -> str:
    request_id = getattr(record, "request_id", None)
    if request_id:
        return f"req={request_id}"
    pass_id = getattr(record, "pass_id", None)
    return f"pass={pass_id}" if pass_id else "-"


class StandardErrorHandler(logging.StreamHandler):
    """Write to whatever ``sys.stderr`` is at the moment (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def formatter_for(name: str) -> logging.Formatter:
    """Return the formatter LOG_FORMAT ``name`` stands for; refuse an unknown one."""
    if name == "json":
        return JsonFormatter()
    if name == "text":
        return TextFormatter()
    raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {name!r}")


def configure(settings: Mapping[str, Any]) -> None:
    """Give the root logger the node's one handler, in LOG_FORMAT at LOG_LEVEL.

    Called for every app the factory builds: it replaces the handler it installed before
    rather than adding another, and leaves other handlers (a test's, a host's) alone.
    """
    formatter = formatter_for(str(settings.get("LOG_FORMAT") or "text").lower())
    level = str(settings.get("LOG_LEVEL") or "INFO").upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ValueError(f"LOG_LEVEL must be a level name such as INFO, not {level!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, StandardErrorHandler):
            root.removeHandler(handler)
    handler = StandardErrorHandler()
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level)


def init_app(app: Flask) -> None:
    """Configure logging from ``app``'s settings and give each of its requests an id.

    Call it before the blueprints are registered, so the id is set before their hooks run.
    """
    configure(app.config)
    app.before_request(_start_request)
    app.after_request(_echo_request_id)
    app.teardown_request(_end_request)


REQUEST_ID_HEADER = "X-Request-Id"


def _start_request() -> None:
    REQUEST_ID.set(request_id_from(request.headers.get(REQUEST_ID_HEADER)))


def _echo_request_id(response: Response) -> Response:
    request_id = REQUEST_ID.get()
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _end_request(_error: BaseException | None) -> None:
    # A thread serves one request after another (gunicorn's sync workers): lines it logs
    # between them belong to none.
    REQUEST_ID.set(None)
