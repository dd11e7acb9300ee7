"""The words of every validation message: marshmallow's stock English replaced by ours.

One place, so that the same problem reads the same everywhere (the API's ``fields`` and the
forms' messages alike) and so that the node can translate them: each message here is marked
with ``N_`` for ``pybabel extract`` (docs/translating.md) and the node's templates pass them
through ``gettext`` when they show them. This package stays a plain library (no Flask), so
the marker only marks; translating happens where the message is shown.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate


def N_(text: str) -> str:  # noqa: N802 - the name extraction tools look for
    """Mark ``text`` for translation without translating it here."""
    return text


FILL_THIS_IN = N_("Fill this in.")
WHOLE_NUMBER = N_("Give a whole number.")
NUMBER = N_("Give a number.")
TEXT = N_("Give some text.")
YES_OR_NO = N_("Give yes or no.")
DATE = N_("Give a date, for example 2026-05-01.")
DATE_TIME = N_("Give a date and time, for example 2026-05-01 18:30.")
DATE_TIME_OFFSET = N_("Give a date and time with its UTC offset, for example 2026-05-01T18:30Z.")
DATE_TIME_NO_OFFSET = N_("Give a date and time without a UTC offset.")
EMAIL = N_("Give an e-mail address, for example name@example.org.")
WEB_ADDRESS = N_("Give a web address starting with https://.")
LIST = N_("Give a list.")
NOT_ALLOWED = N_("This value is not allowed.")
AT_MOST_CHARACTERS = N_("Use at most {max} characters.")
AT_LEAST_CHARACTERS = N_("Use at least {min} characters.")
AT_MOST_ITEMS = N_("Give at most {max}.")
AT_LEAST_ITEMS = N_("Give at least {min}.")
FROM_TO = N_("Give a number from {min} to {max}.")
AT_LEAST = N_("Give a number of at least {min}.")
AT_MOST = N_("Give a number of at most {max}.")
CHOOSE_ONE_OF = N_("Choose one of: {choices}.")

# marshmallow's stock messages and ours; a message a schema wrote itself is left alone.
STOCK: dict[str, str] = {
    "Missing data for required field.": FILL_THIS_IN,
    "Field may not be null.": FILL_THIS_IN,
    "Invalid value.": NOT_ALLOWED,
    "Not a valid integer.": WHOLE_NUMBER,
    "Not a valid number.": NUMBER,
    "Number too large.": NUMBER,
    "Special numeric values (nan or infinity) are not permitted.": NUMBER,
    "Not a valid string.": TEXT,
    "Not a valid utf-8 string.": TEXT,
    "Not a valid boolean.": YES_OR_NO,
    "Not a valid date.": DATE,
    "Not a valid email address.": EMAIL,
    "Not a valid URL.": WEB_ADDRESS,
    "Not a valid list.": LIST,
}


def _by_kind(field: fields.Field) -> dict[str, str]:
    """Return the messages that depend on what kind of value ``field`` holds."""
    if isinstance(field, fields.Date):
        return {"invalid": DATE}
    if isinstance(field, fields.AwareDateTime):
        return {"invalid": DATE_TIME, "invalid_awareness": DATE_TIME_OFFSET}
    if isinstance(field, fields.NaiveDateTime):
        return {"invalid": DATE_TIME, "invalid_awareness": DATE_TIME_NO_OFFSET}
    if isinstance(field, fields.DateTime):
        return {"invalid": DATE_TIME}
    return {}


class _Length(validate.Length):
    """A length check that names the bound that was crossed, never both."""

    def __call__(self, value: Any) -> Any:
        if self.equal is None:
            if self.min is not None and len(value) < self.min:
                raise ValidationError(self._format_error(value, self.message_min))
            if self.max is not None and len(value) > self.max:
                raise ValidationError(self._format_error(value, self.message_max))
        return super().__call__(value)


def _worded(validator: Any, *, text: bool) -> Any:
    """Return ``validator`` speaking our words (unless the schema chose its own)."""
    error = getattr(validator, "error", None)
    if isinstance(validator, validate.OneOf) and error == validate.OneOf.default_message:
        validator.error = CHOOSE_ONE_OF
        return validator
    if error in STOCK:  # the URL and e-mail fields hand their message to a validator
        validator.error = STOCK[error]
        return validator
    if error is not None:
        return validator  # the schema chose its own words
    if isinstance(validator, validate.Length):
        ours = _Length(min=validator.min, max=validator.max, equal=validator.equal)
        if text:
            ours.message_min = FILL_THIS_IN if validator.min == 1 else AT_LEAST_CHARACTERS
            ours.message_max = AT_MOST_CHARACTERS
        else:
            ours.message_min, ours.message_max = AT_LEAST_ITEMS, AT_MOST_ITEMS
        return ours
    if isinstance(validator, validate.Range):
        validator.message_all = FROM_TO
        validator.message_min = AT_LEAST
        validator.message_max = AT_MOST
    return validator


def word_field(field: fields.Field) -> None:
    """Give ``field`` (and the fields inside it) our messages instead of marshmallow's."""
    messages = field.error_messages
    for key, stock in list(messages.items()):
        ours = STOCK.get(stock)
        if ours:
            messages[key] = ours
    messages.update(
        {k: v for k, v in _by_kind(field).items() if messages.get(k, "").startswith("Not a valid")}
    )
    text = isinstance(field, fields.String)
    field.validators = [_worded(v, text=text) for v in field.validators]
    inner = getattr(field, "inner", None)
    if isinstance(inner, fields.Field):
        word_field(inner)
