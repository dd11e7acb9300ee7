"""Absolute links to this node's pages, built with or without a request (the worker's mail)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from ..groups import base_url


def external_url(endpoint: str, **values: Any) -> str:
    """Return the absolute address of ``endpoint`` under the node's public address."""
    root = (base_url() or current_app.config.get("BASE_URL") or "http://localhost").rstrip("/")
    parts = urlsplit(root)
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)
