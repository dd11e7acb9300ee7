"""The JSON API for a member's own mail: their choices per kind, and the messages sent to them."""

from __future__ import annotations

from sqlalchemy import func, select

from node.extensions import db
from node.models import Announcement, MailPreference
from node.services import mail
from node.services.messaging import outbox, preferences
from node.services.messaging.outbox import Recipient
from tests import factories

PREFS = "/me/mail-preferences"


def _stored() -> int:
    return db.session.scalar(select(func.count()).select_from(MailPreference))


def test_every_kind_is_listed_with_its_label_choices_and_the_members_choice(api, member):
    token = factories.token(member, "mail")
    kinds = {row["kind"]: row for row in api.get(PREFS, token).get_json()["kinds"]}
    assert "guest" not in kinds
    assert kinds["news"]["choices"] == ["single", "digest", "off"]
    assert (kinds["news"]["choice"], kinds["news"]["can_turn_off"]) == ("off", True)
    assert kinds["account"] == {
        "kind": "account",
        "label": kinds["account"]["label"],
        "choices": ["single"],
        "choice": "single",
        "can_turn_off": False,
    }


def test_put_changes_only_the_kinds_given(api, member):
    token = factories.token(member, "mail")
    answer = api.put(PREFS, token, json={"choices": {"news": "digest", "announcement": "off"}})
    assert answer.status_code == 200
    kinds = {row["kind"]: row["choice"] for row in answer.get_json()["kinds"]}
    assert (kinds["news"], kinds["announcement"], kinds["reminder"]) == ("digest", "off", "single")
    assert preferences.choice(member.id, "announcement") == "off"


def test_a_bad_kind_or_choice_is_a_400_naming_it_and_saves_nothing(api, member):
    token = factories.token(member, "mail")
    for choices, field in (
        ({"news": "digest", "nonsense": "off"}, "choices.nonsense"),
        ({"news": "digest", "announcement": "digest"}, "choices.announcement"),
        ({"news": "digest", "account": "off"}, "choices.account"),
        ({"news": "digest", "guest": "off"}, "choices.guest"),
    ):
        answer = api.put(PREFS, token, json={"choices": choices})
        assert answer.status_code == 400, choices
        assert list(answer.get_json()["fields"]) == [field]
    assert api.put(PREFS, token, json={"choices": {}, "x": 1}).status_code == 400
    assert api.put(PREFS, token, json={"choices": "off"}).status_code == 400
    assert _stored() == 0


def test_the_scope_is_needed(api, member):
    token = factories.token(member, "read")
    assert api.get(PREFS, token).status_code == 403
    assert api.put(PREFS, token, json={"choices": {"news": "off"}}).status_code == 403
    assert api.get("/me/messages", token).status_code == 403
    assert api.get(PREFS).status_code == 401


def test_messages_list_what_was_sent_to_the_member_newest_first_and_no_one_elses(api, app, member):
    other = factories.member()
    told = Announcement(subject="Stall", body="**Be there** at 10.", status="sent")
    db.session.add(told)
    db.session.flush()
    recipient = Recipient(member.email, member.display_name, member.id)
    outbox.queue(recipient, "event_changes", "Cancelled: stall", "It is off.")
    outbox.queue_many(
        [recipient, Recipient(other.email, "", other.id)],
        "announcement",
        outbox.compose("Stall", told.body),
        source=f"announcement:{told.id}",
    )
    db.session.commit()
    mail.send_due()
    preferences.save(member, {"reminder": "off"})
    outbox.queue(recipient, "reminder", "Tomorrow", "Come.")  # turned off: never queued
    db.session.commit()

    page = api.get("/me/messages", factories.token(member, "mail")).get_json()
    assert page["total"] == 2
    newest, oldest = page["items"]
    assert (newest["subject"], newest["kind"], newest["state"]) == ("Stall", "announcement", "sent")
    assert newest["announcement_text"] == "**Be there** at 10."
    assert (oldest["subject"], oldest["announcement_text"]) == ("Cancelled: stall", None)
    assert oldest["kind_label"].startswith("Changes to events")
