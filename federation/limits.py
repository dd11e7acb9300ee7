"""How big the arrays of a remote document may be, checked before anything of it is kept.

A signed document may carry a ``tag`` list of 20,000 hashtags or a ``to`` list of 50,000
recipients: every one of them costs storage, indexing and page rendering on each node
that keeps it. One general cap applies to every array at any depth, and a smaller one to
the addressing fields (Mastodon and Lemmy use limits in the tens to hundreds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_ITEMS = 200
MAX_RECIPIENTS = 100
RECIPIENT_FIELDS = frozenset({"to", "cc", "bto", "bcc", "audience"})


@dataclass(frozen=True)
class Oversized:
    """The first array found over its cap: where it is (``object.tag``), its length, the cap."""

    path: str
    length: int
    limit: int

    @property
    def message(self) -> str:
        return f"At most {self.limit} items are kept; this has {self.length}."


def oversized_array(
    document: Any, *, max_items: int = MAX_ITEMS, max_recipients: int = MAX_RECIPIENTS
) -> Oversized | None:
    """Return the first array in ``document`` longer than allowed, or None when all fit."""
    # Every document the inbox takes is walked (twice for a feed entry): the walk names no
    # paths until it has found something to name.
    if not _has_oversized(document, max_items, max_recipients):
        return None
    stack: list[tuple[Any, str, str]] = [(document, "", "")]
    while stack:
        value, path, name = stack.pop()
        if isinstance(value, dict):
            for key, inner in value.items():
                stack.append((inner, f"{path}.{key}" if path else str(key), str(key)))
        elif isinstance(value, list):
            limit = max_recipients if name in RECIPIENT_FIELDS else max_items
            if len(value) > limit:
                return Oversized(path or "(document)", len(value), limit)
            stack.extend((inner, f"{path}[{index}]", name) for index, inner in enumerate(value))
    return None


def _has_oversized(document: Any, max_items: int, max_recipients: int) -> bool:
    stack: list[tuple[Any, Any]] = [(document, "")]
    while stack:
        value, name = stack.pop()
        if isinstance(value, dict):
            stack.extend((inner, key) for key, inner in value.items())
        elif isinstance(value, list):
            limit = max_recipients if name in RECIPIENT_FIELDS else max_items
            if len(value) > limit:
                return True
            stack.extend((inner, name) for inner in value)
    return False
