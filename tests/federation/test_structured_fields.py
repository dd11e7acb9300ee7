"""The RFC 8941 structured-field subset HTTP Message Signatures rely on."""

from __future__ import annotations

from decimal import Decimal

import pytest

from federation.structured_fields import (
    InnerList,
    Item,
    StructuredFieldError,
    Token,
    parse_dictionary,
    parse_item,
    serialize_dictionary,
    serialize_inner_list,
)


def test_dictionary_of_inner_lists_and_items_parses_every_bare_type():
    parsed = parse_dictionary(
        'a=("x" "y";p=1);created=12, b=:AQI=:, c, d=?0, e=tok/en:1, f=-4.5;q="s"'
    )
    assert parsed["a"] == InnerList((Item("x"), Item("y", (("p", 1),))), (("created", 12),))
    assert parsed["b"] == Item(b"\x01\x02")
    assert parsed["c"] == Item(True)
    assert parsed["d"] == Item(False)
    assert parsed["e"] == Item(Token("tok/en:1"))
    assert isinstance(parsed["e"].value, Token)
    assert parsed["f"] == Item(Decimal("-4.5"), (("q", "s"),))


def test_inner_lists_serialise_canonically():
    parsed = parse_dictionary('sig=( "@method"   "x" );keyid="a\\"b";alg=tok;flag')
    assert serialize_inner_list(parsed["sig"]) == '("@method" "x");keyid="a\\"b";alg=tok;flag'


def test_dictionary_round_trips():
    text = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:AA==:"
    assert serialize_dictionary(parse_dictionary(text)) == text


def test_string_escapes_are_decoded():
    assert parse_item('"a\\\\b\\"c"') == Item('a\\b"c')


@pytest.mark.parametrize(
    "text",
    [
        "a=(",
        'a="open',
        "a=1,",
        "A=1",
        "a=1 b=2",
        'a="\\x"',
        "a=1234567890123456",
        "a=:not base64:",
        "a=?2",
        "a=1, a=2",
        'a="caf\u00e9"',
        "a=@1",
    ],
)
def test_invalid_dictionaries_are_refused(text):
    with pytest.raises(StructuredFieldError):
        parse_dictionary(text)
