"""Building blocks shared by the API schemas."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from . import wording

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InputSchema(Schema):
    """Input we own: unknown fields are refused, strings are trimmed."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _trim_strings(self, data: Any, **_kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        """Give every field the wording of schemas/wording.py."""
        wording.word_field(field_obj)


class Text(fields.String):
    """A string with a length cap and no control characters."""

    def __init__(self, max_length: int, *, min_length: int = 0, **kwargs: Any) -> None:
        self.min_length = min_length
        validators = [validate.Length(min=min_length, max=max_length)]
        kwargs.setdefault("allow_none", not kwargs.get("required", False))
        super().__init__(validate=validators, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if self.min_length and not text.strip():
            raise ValidationError(wording.FILL_THIS_IN)
        if CONTROL_CHARS.search(text):
            raise ValidationError(wording.N_("Must not contain control characters."))
        return text


def Choice(values: tuple[str, ...], **kwargs: Any) -> fields.String:  # noqa: N802
    """A string field limited to one of ``values``."""
    return fields.String(validate=validate.OneOf(values), **kwargs)


class TimeZoneName(fields.String):
    """An IANA time zone name such as ``Europe/London``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        name = super()._deserialize(value, attr, data, **kwargs)
        if name not in _zone_names():
            raise ValidationError("Not a known time zone (for example Europe/London).")
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError("Not a known time zone (for example Europe/London).") from exc
        return name


_ZONES: set[str] = set()


def _zone_names() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


# Every date and time we accept lies in these years: far enough from datetime's own limits
# (years 1 and 9999) that converting between zones never overflows, and wide enough for any
# campaign, event or ballot a group has.
FIRST_YEAR = 1900
LAST_YEAR = 2200
OUT_OF_RANGE = f"Give a date between the years {FIRST_YEAR} and {LAST_YEAR}."


def in_range(value: date) -> bool:
    """Say whether a date or time lies between ``FIRST_YEAR`` and ``LAST_YEAR``."""
    return FIRST_YEAR <= value.year <= LAST_YEAR


def _bounded(value: date) -> Any:
    if not in_range(value):
        raise ValidationError(OUT_OF_RANGE)
    return value


class Day(fields.Date):
    """A calendar day between ``FIRST_YEAR`` and ``LAST_YEAR``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        return _bounded(super()._deserialize(value, attr, data, **kwargs))


class Moment(fields.DateTime):
    """A date and time between ``FIRST_YEAR`` and ``LAST_YEAR``, with or without an offset."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        return _bounded(super()._deserialize(value, attr, data, **kwargs))


class AwareMoment(fields.AwareDateTime):
    """A ``Moment`` that must carry a UTC offset (or get ``default_timezone``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        return _bounded(super()._deserialize(value, attr, data, **kwargs))


def Latitude(**kwargs: Any) -> fields.Float:  # noqa: N802
    return fields.Float(validate=validate.Range(-90, 90), allow_nan=False, **kwargs)


def Longitude(**kwargs: Any) -> fields.Float:  # noqa: N802
    return fields.Float(validate=validate.Range(-180, 180), allow_nan=False, **kwargs)


def WebAddress(**kwargs: Any) -> fields.Url:  # noqa: N802
    kwargs.setdefault("allow_none", not kwargs.get("required", False))
    return fields.Url(schemes={"http", "https"}, validate=validate.Length(max=500), **kwargs)


def check_pair(data: dict[str, Any], first: str, second: str, original: Any = None) -> None:
    """Refuse a latitude without a longitude and the other way round.

    ``original`` is the input before loading: a value given but refused already has its
    own error, so the pair is not judged without it.
    """
    if isinstance(original, dict) and any(k in original and k not in data for k in (first, second)):
        return
    mentioned = first in data or second in data
    if mentioned and (data.get(first) is None) != (data.get(second) is None):
        raise ValidationError("Give both or neither.", field_name=second)


class PageArgs(InputSchema):
    """Query-string paging shared by every list route."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
