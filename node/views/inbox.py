"""The inbox peers POST activities to (this actor's inbox and the shared inbox are one)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from .. import metrics
from ..services.groups import base_url as our_base_url
from ..services.peering import inbox as inbox_service

bp = Blueprint("inbox", __name__)


@bp.post("/inbox")
def inbox():
    """Check, store and acknowledge one activity (202), or say why not."""
    declared = request.content_length
    if declared is not None and declared > inbox_service.MAX_BODY:
        return _answer(inbox_service.Answer(413, "the body is too large"))
    # A chunked body declares no length, and werkzeug stops it at MAX_CONTENT_LENGTH (the
    # cap) without a word: let this one read a byte further, so a body over the cap is seen
    # and refused instead of cut short and read as if it were the whole.
    request.max_content_length = inbox_service.MAX_BODY + 1
    try:
        body = request.stream.read(inbox_service.MAX_BODY + 1)
    except RequestEntityTooLarge:
        return _answer(inbox_service.Answer(413, "the body is too large"))
    answer = inbox_service.receive(_requested_url(), request.headers, body)
    return _answer(answer)


def _requested_url() -> str:
    # RFC 9421 signatures cover the URI the peer asked for: our public address, not the
    # one a reverse proxy passed on.
    ours = our_base_url()
    base = ours.rstrip("/") if ours else request.host_url.rstrip("/")
    query = request.query_string.decode("latin-1")
    return f"{base}{request.path}" + (f"?{query}" if query else "")


def _answer(answer: inbox_service.Answer):
    metrics.count_inbox(answer.status, answer.message)
    if answer.status >= 400:
        current_app.logger.info("inbox refused a request: %s %s", answer.status, answer.message)
    if answer.status < 400:
        return jsonify({"status": answer.message}), answer.status
    return jsonify({"error": answer.message, "fields": answer.fields}), answer.status
