"""The event page loads its sections before it renders; templates are given values, not calls.

Each section (series, shifts, carpools, guests) has its loader registered by the view
module that owns it, and no context processor hands templates a function to call while
rendering.
"""

from __future__ import annotations

import inspect

import pytest

from node.views import event_page


def test_every_section_of_the_event_page_has_a_loader(app):
    assert set(event_page._loaders) == set(event_page.SECTIONS)


def test_a_section_the_page_does_not_show_cannot_be_registered():
    with pytest.raises(ValueError, match="no section"):
        event_page.section("raffle")


def test_context_processors_give_templates_values_not_our_functions(app, group):
    with app.test_request_context("/"):
        for processors in app.template_context_processors.values():
            for processor in processors:
                for name, value in processor().items():
                    ours = getattr(value, "__module__", "").startswith("node.")
                    assert not (inspect.isroutine(value) and ours), f"{name} is a function"
