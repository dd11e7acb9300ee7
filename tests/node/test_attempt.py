"""A page that shows a service's refusal in place first undoes what the call wrote."""

from __future__ import annotations

import pytest

from node.extensions import db
from node.models import Member
from node.services.errors import Conflict, Invalid
from node.views.attempt import attempt
from tests import factories


def test_a_refusal_rolls_the_session_back_and_is_kept_for_the_page(group):
    member = factories.member(display_name="Before")
    with attempt() as tried:
        member.display_name = "Half written"
        db.session.flush()
        raise Invalid.on("display_name", "Taken.")
    assert isinstance(tried.refusal, Invalid)
    assert tried.errors == {"display_name": ["Taken."]} and tried.status == 400
    assert db.session.get(Member, member.id).display_name == "Before"


def test_a_refusal_without_fields_is_shown_above_the_form(group):
    with attempt() as tried:
        raise Conflict("That clashes.")
    assert tried.errors == {"_form": ["That clashes."]} and tried.status == 409


def test_a_call_the_service_accepts_keeps_its_writes_and_has_no_refusal(group):
    member = factories.member(display_name="Before")
    with attempt() as tried:
        member.display_name = "After"
    assert tried.refusal is None and tried.errors == {} and tried.status == 200
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Member, member.id).display_name == "After"


def test_other_errors_are_not_caught(group):
    with pytest.raises(ValueError), attempt():
        raise ValueError("a bug, for the app's error page")
