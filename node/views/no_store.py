"""Responses that carry a secret — a ballot receipt, a token, an invitation or reset link,
the setup code, a guest's RSVP link, a member's own data — are marked ``no-store``, so no
browser cache, shared proxy or back button keeps a copy of the page after it is left.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, after_this_request


def mark_no_store(response: Response) -> Response:
    """Tell browsers and proxies to keep no copy of ``response``."""
    response.headers["Cache-Control"] = "no-store"
    return response


def no_store(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark every response of ``view`` ``no-store``: pages, redirects and errors alike."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        # Registered before the view runs, so a refusal raised inside it (and answered by an
        # error handler) is marked as well as what the view returns.
        after_this_request(mark_no_store)
        return view(*args, **kwargs)

    return wrapped
