"""Helpers shared by the page, auth and account tests."""

from __future__ import annotations

import re


def text_of(response) -> str:
    return response.get_data(as_text=True)


def field_error(html: str, name: str) -> bool:
    """Say whether the form field ``name`` is marked invalid and described by its error."""
    control = re.search(rf'<[^>]*name="{name}"[^>]*>', html)
    return (
        bool(control)
        and 'aria-invalid="true"' in control.group(0)
        and (f'id="f-{name}-error"' in html)
    )
