"""Incoming federation documents: another server's actor and its WebFinger answer.

The fediverse adds fields all the time, so unknown fields are ignored; what we rely on
(ids, inboxes, keys) is checked. Links may be given as a string or as an object with an
``id`` or ``href``, and single values may come as one-element lists.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

ACTOR_TYPES = ("Group", "Person", "Service", "Application", "Organization")
MAX_URL = 2000
MAX_KEYS = 20


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class Link(fields.Field):
    """An http(s) URL given as a string, or as an object carrying it in ``id`` or ``href``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, dict):
            value = value.get("id") or value.get("href")
        if not isinstance(value, str) or len(value) > MAX_URL or not _is_http_url(value):
            raise ValidationError("Not an http(s) URL.")
        return value


class Label(fields.Field):
    """A short text (a name, a handle); language maps and lists are read loosely."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, dict):
            value = next((v for v in value.values() if isinstance(v, str)), "")
        if not isinstance(value, str):
            raise ValidationError("Not a string.")
        return value[:300]


class IncomingSchema(Schema):
    class Meta:
        unknown = EXCLUDE


class PublicKeyIn(IncomingSchema):
    id = Link(required=True)
    owner = Link(required=True)
    public_key_pem = fields.String(
        data_key="publicKeyPem", required=True, validate=validate.Length(max=10_000)
    )


class MultikeyIn(IncomingSchema):
    id = Link(required=True)
    type = fields.String(required=True, validate=validate.Equal("Multikey"))
    controller = Link(required=True)
    public_key_multibase = fields.String(
        data_key="publicKeyMultibase", required=True, validate=validate.Length(max=200)
    )


class EndpointsIn(IncomingSchema):
    shared_inbox = Link(data_key="sharedInbox", load_default=None)


class OneOrMany(fields.Field):
    """A nested object or a list of them; entries that do not load are skipped."""

    def __init__(self, schema: type[Schema], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schema = schema

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list:
        items = value if isinstance(value, list) else [value]
        loaded = []
        for item in items[:MAX_KEYS]:
            if not isinstance(item, dict):
                continue  # a bare key id names a key published elsewhere: not followed
            try:
                loaded.append(self.schema().load(item))
            except ValidationError:
                continue
        return loaded


class ActorIn(IncomingSchema):
    """An actor document as another server publishes it."""

    context = fields.Raw(data_key="@context", load_default=None)
    id = Link(required=True)
    type = fields.String(required=True, validate=validate.OneOf(ACTOR_TYPES))
    preferred_username = Label(data_key="preferredUsername", load_default="")
    name = Label(load_default="")
    url = Link(load_default=None)
    inbox = Link(required=True)
    outbox = Link(load_default=None)
    endpoints = fields.Nested(EndpointsIn, load_default=None)
    public_key = OneOrMany(PublicKeyIn, data_key="publicKey", load_default=list)
    assertion_method = OneOrMany(MultikeyIn, data_key="assertionMethod", load_default=list)

    @post_load
    def _shared_inbox(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        endpoints = data.pop("endpoints", None) or {}
        data["shared_inbox"] = endpoints.get("shared_inbox")
        return data


class WebFingerLinkIn(IncomingSchema):
    rel = fields.String(load_default="")
    type = fields.String(load_default="")
    href = fields.String(load_default="")


class WebFingerIn(IncomingSchema):
    """A JRD answer to ``/.well-known/webfinger?resource=acct:…``."""

    subject = fields.String(load_default="")
    links = fields.List(fields.Nested(WebFingerLinkIn), load_default=list)
