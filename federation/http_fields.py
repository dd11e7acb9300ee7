"""HTTP header fields as signatures see them: lower-cased names, repeated fields combined."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import TypeAlias
from urllib.parse import urlsplit

HeaderSource: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]


def normalise_headers(headers: HeaderSource) -> dict[str, str]:
    """Lower-case field names, trim values and join repeated fields with ", " (RFC 9110 5.3)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    combined: dict[str, list[str]] = {}
    for name, value in pairs:
        combined.setdefault(name.strip().lower(), []).append(value.strip())
    return {name: ", ".join(values) for name, values in combined.items()}


def http_date(moment: datetime) -> str:
    """Format a timezone-aware moment as an HTTP date (IMF-fixdate)."""
    if moment.tzinfo is None:
        raise ValueError("HTTP dates need a timezone-aware datetime")
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_http_date(value: str) -> datetime:
    """Parse an HTTP date; raise ValueError when it is not one."""
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as error:
        raise ValueError(f"not an HTTP date: {value!r}") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def path_with_query(url: str) -> str:
    """Return the origin-form request target (path and query) of an absolute URL or a path."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path
