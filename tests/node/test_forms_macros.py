"""The shared form macros in node/templates/_forms.html."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def render(app):
    def render(source: str, **context) -> str:
        with app.test_request_context("/"):
            template = app.jinja_env.from_string('{% import "_forms.html" as f %}' + source)
            return template.render(**context)

    return render


def _tags(html: str) -> list[str]:
    return re.findall(r"<(?:input|select|textarea)\b[^>]*>", html)


def test_field_links_label_hint_and_error_to_the_control(render):
    html = render(
        "{{ f.field('title', 'Title', 'Hi', {'title': ['Too short.']}, hint='Be brief.', "
        "required=True) }}"
    )
    (tag,) = _tags(html)
    assert tag == (
        '<input type="text" id="f-title" value="Hi" name="title" required aria-required="true" '
        'aria-invalid="true" aria-describedby="f-title-hint f-title-error">'
    )
    assert '<label for="f-title">Title' in html
    assert 'id="f-title-error"' in html and "Too short." in html


def test_valid_field_is_not_marked_invalid(render):
    html = render("{{ f.field('title', 'Title', 'Hi', {'other': ['x']}) }}")
    assert "aria-invalid" not in html and "field-error" not in html


def test_password_fields_never_echo_their_value(render):
    html = render("{{ f.field('password', 'Password', 'hunter22', None, type='password') }}")
    assert "hunter22" not in html


def test_select_marks_the_current_choice_and_escapes_values(render):
    html = render(
        "{{ f.field('kind', 'Kind', 'b', None, type='select', "
        "choices=[('a', 'A'), ('b', '<B>')]) }}"
    )
    assert '<option value="b" selected>&lt;B&gt;</option>' in html
    assert '<option value="">' in html  # optional selects can be left empty


def test_checkboxes_tick_each_chosen_value(render):
    html = render(
        "{{ f.field('scopes', 'Scopes', ['read'], None, type='checkboxes', "
        "choices=['read', 'rsvp']) }}"
    )
    assert 'value="read" checked' in html and 'value="rsvp" checked' not in html
    assert "<fieldset" in html and "<legend>Scopes" in html


def test_error_summary_links_to_fields(render):
    html = render(
        "{{ f.error_summary({'title': ['Needed.'], '_form': ['Whole form.']}, "
        "labels={'title': 'Title'}) }}"
    )
    assert 'role="alert"' in html
    assert '<a href="#f-title">Title: Needed.</a>' in html
    assert "<li>Whole form.</li>" in html
    assert render("{{ f.error_summary({}) }}").strip() == ""
