"""The token's own member's mail: their choices per kind of message, and what they were sent."""

from __future__ import annotations

from schemas import api as shapes
from schemas.mail_preferences import (
    MailPreferencesIn,
    MailPreferencesOut,
    MessageOut,
    MessageQuery,
)

from ...services.messaging import history
from .access import caller, operation, token
from .blueprint import bp
from .exchange import body, page_response, query_args

PREFERENCES = "/me/mail-preferences"


def _preferences():
    return MailPreferencesOut().dump({"kinds": history.choices(caller())})


@bp.get(PREFERENCES)
@operation(
    "Your choices of mail, per kind of message",
    token("mail"),
    query=shapes.NoQuery,
    response=MailPreferencesOut,
    description="Every kind a member may be sent, with its label, the choices it allows and "
    "the member's current choice. Account mail and notices the group's rules require cannot "
    "be turned off.",
)
def my_mail_preferences():
    query_args(shapes.NoQuery())
    return _preferences()


@bp.put(PREFERENCES)
@operation(
    "Change your choices of mail",
    token("mail"),
    body=MailPreferencesIn,
    response=MailPreferencesOut,
    description="Changes only the kinds named in `choices`. An unknown kind, or a choice the "
    "kind does not allow, is a 400 naming `choices.<kind>`, and nothing is saved.",
)
def change_my_mail_preferences():
    data = body(MailPreferencesIn())
    history.update_choices(caller(), data["choices"])
    return _preferences()


@bp.get("/me/messages")
@operation(
    "The messages the node sent you",
    token("mail"),
    query=MessageQuery,
    response=shapes.page_of(MessageOut),
    description="Newest first: subject, kind, when and state. A message's body is not kept "
    "once sent; an announcement's text is.",
)
def my_messages():
    args = query_args(MessageQuery())
    return page_response(history.sent_to(caller(), **args), MessageOut())
