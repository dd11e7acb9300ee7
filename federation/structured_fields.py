"""The part of RFC 8941 Structured Field Values that HTTP Message Signatures need.

Dictionaries, inner lists, items and parameters, with every bare item type except the
RFC 9651 additions (dates and display strings), parsed strictly and serialised canonically.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeAlias


class StructuredFieldError(ValueError):
    """A header is not a valid structured field value."""


class Token(str):
    """An sf-token, kept apart from sf-string so it serialises without quotes."""

    __slots__ = ()


BareItem: TypeAlias = int | Decimal | str | bytes | bool
Parameters: TypeAlias = tuple[tuple[str, BareItem], ...]


@dataclass(frozen=True)
class Item:
    """A bare item with its parameters."""

    value: BareItem
    params: Parameters = ()

    def param(self, name: str) -> BareItem | None:
        """Return the value of parameter ``name``, or None when it is absent."""
        return _lookup(self.params, name)


@dataclass(frozen=True)
class InnerList:
    """A parenthesised list of items with its own parameters."""

    items: tuple[Item, ...]
    params: Parameters = ()

    def param(self, name: str) -> BareItem | None:
        """Return the value of parameter ``name``, or None when it is absent."""
        return _lookup(self.params, name)


Member: TypeAlias = Item | InnerList

_KEY_START = re.compile(r"[a-z*]")
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _lookup(params: Parameters, name: str) -> BareItem | None:
    for key, value in params:
        if key == name:
            return value
    return None


def parse_dictionary(text: str) -> dict[str, Member]:
    """Parse an sf-dictionary; a repeated key is refused rather than silently overwritten."""
    parser = _Parser(text)
    result: dict[str, Member] = {}
    parser.skip_spaces()
    if parser.at_end():
        return result
    while True:
        key = parser.key()
        if parser.peek() == "=":
            parser.advance()
            member: Member = parser.item_or_inner_list()
        else:
            member = Item(True, parser.parameters())
        if key in result:
            raise StructuredFieldError(f"dictionary key {key!r} appears twice")
        result[key] = member
        parser.skip_whitespace()
        if parser.at_end():
            return result
        parser.expect(",")
        parser.skip_whitespace()
        if parser.at_end():
            raise StructuredFieldError("dictionary ends with a comma")


def parse_item(text: str) -> Item:
    """Parse a single sf-item, such as a component identifier."""
    parser = _Parser(text)
    parser.skip_spaces()
    item = parser.item()
    parser.skip_spaces()
    if not parser.at_end():
        raise StructuredFieldError(f"unexpected text after item: {parser.rest()!r}")
    return item


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def rest(self) -> str:
        return self.text[self.pos :]

    def advance(self, count: int = 1) -> None:
        self.pos += count

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise StructuredFieldError(f"expected {char!r} at position {self.pos}")
        self.advance()

    def skip_spaces(self) -> None:
        while self.peek() == " ":
            self.advance()

    def skip_whitespace(self) -> None:
        while self.peek() in (" ", "\t"):
            self.advance()

    def match(self, pattern: re.Pattern[str], what: str) -> str:
        found = pattern.match(self.text, self.pos)
        if found is None or not found.group():
            raise StructuredFieldError(f"expected {what} at position {self.pos}")
        self.pos = found.end()
        return found.group()

    def key(self) -> str:
        if not _KEY_START.match(self.peek()):
            raise StructuredFieldError(f"expected a key at position {self.pos}")
        return self.match(_KEY, "a key")

    def item_or_inner_list(self) -> Member:
        return self.inner_list() if self.peek() == "(" else self.item()

    def inner_list(self) -> InnerList:
        self.expect("(")
        items: list[Item] = []
        while not self.at_end():
            self.skip_spaces()
            if self.peek() == ")":
                self.advance()
                return InnerList(tuple(items), self.parameters())
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise StructuredFieldError(f"expected ' ' or ')' at position {self.pos}")
        raise StructuredFieldError("inner list is not closed")

    def item(self) -> Item:
        value = self.bare_item()
        return Item(value, self.parameters())

    def parameters(self) -> Parameters:
        params: dict[str, BareItem] = {}
        while self.peek() == ";":
            self.advance()
            self.skip_spaces()
            key = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.advance()
                value = self.bare_item()
            params[key] = value
        return tuple(params.items())

    def bare_item(self) -> BareItem:
        char = self.peek()
        if char == "-" or char.isdigit():
            return self.number()
        if char == '"':
            return self.string()
        if char == ":":
            return self.byte_sequence()
        if char == "?":
            return self.boolean()
        if char == "*" or (char.isascii() and char.isalpha()):
            return Token(self.match(_TOKEN, "a token"))
        raise StructuredFieldError(f"unexpected {char!r} at position {self.pos}")

    def number(self) -> int | Decimal:
        text = self.match(_NUMBER, "a number")
        integer, _, fraction = text.lstrip("-").partition(".")
        if "." in text:
            if len(integer) > 12 or len(fraction) > 3:
                raise StructuredFieldError(f"decimal {text} is out of range")
            return Decimal(text)
        if len(integer) > 15:
            raise StructuredFieldError(f"integer {text} is out of range")
        return int(text)

    def string(self) -> str:
        self.expect('"')
        out: list[str] = []
        while not self.at_end():
            char = self.peek()
            self.advance()
            if char == "\\":
                escaped = self.peek()
                if escaped not in ('"', "\\"):
                    raise StructuredFieldError('only \\" and \\\\ may be escaped in a string')
                out.append(escaped)
                self.advance()
            elif char == '"':
                return "".join(out)
            elif not " " <= char <= "~":
                raise StructuredFieldError("strings may only hold printable ASCII")
            else:
                out.append(char)
        raise StructuredFieldError("string is not closed")

    def byte_sequence(self) -> bytes:
        self.expect(":")
        end = self.text.find(":", self.pos)
        if end < 0:
            raise StructuredFieldError("byte sequence is not closed")
        encoded = self.text[self.pos : end]
        self.pos = end + 1
        if not _BASE64.fullmatch(encoded):
            raise StructuredFieldError("byte sequence is not base64")
        try:
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error as error:
            raise StructuredFieldError(f"byte sequence is not base64: {error}") from error

    def boolean(self) -> bool:
        self.expect("?")
        char = self.peek()
        if char not in ("0", "1"):
            raise StructuredFieldError("boolean must be ?0 or ?1")
        self.advance()
        return char == "1"


def serialize_bare_item(value: BareItem) -> str:
    """Serialise one bare item canonically."""
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        rounded = value.quantize(Decimal("0.001")).normalize()
        text = format(rounded, "f")
        return text if "." in text else text + ".0"
    if isinstance(value, Token):
        if not _TOKEN.fullmatch(value):
            raise StructuredFieldError(f"{value!r} is not a token")
        return str(value)
    if isinstance(value, str):
        if any(not " " <= char <= "~" for char in value):
            raise StructuredFieldError("strings may only hold printable ASCII")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    raise StructuredFieldError(f"{type(value).__name__} is not a structured field item")


def serialize_parameters(params: Parameters) -> str:
    """Serialise parameters as ``;key=value`` pairs (a true boolean is just ``;key``)."""
    return "".join(
        f";{key}" if value is True else f";{key}={serialize_bare_item(value)}"
        for key, value in params
    )


def serialize_item(item: Item) -> str:
    """Serialise an item with its parameters."""
    return serialize_bare_item(item.value) + serialize_parameters(item.params)


def serialize_inner_list(inner: InnerList) -> str:
    """Serialise an inner list with its parameters."""
    body = " ".join(serialize_item(item) for item in inner.items)
    return f"({body}){serialize_parameters(inner.params)}"


def serialize_dictionary(members: dict[str, Member]) -> str:
    """Serialise a dictionary of items and inner lists."""
    parts = []
    for key, member in members.items():
        if isinstance(member, InnerList):
            parts.append(f"{key}={serialize_inner_list(member)}")
        elif member.value is True:
            parts.append(key + serialize_parameters(member.params))
        else:
            parts.append(f"{key}={serialize_item(member)}")
    return ", ".join(parts)
