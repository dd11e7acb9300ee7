"""The JCS fast path (the standard library's encoder) writes exactly what the general path does."""

from __future__ import annotations

import json
import math
import random
import struct

import pytest

from federation import jcs
from federation.jcs import RepeatedMembers, canonical_members, canonicalize, join_members
from tests.federation.test_jcs import APPENDIX_B, _double

# Characters where JSON encoders differ: every control character, the two JSON escapes,
# characters some encoders escape and RFC 8785 does not (/ DEL U+2028 U+2029 <), both ends
# of the BMP's private and surrogate-adjacent ranges, and characters beyond U+FFFF.
TRICKY = (
    [chr(code) for code in range(0x20)]
    + ['"', "\\", "/", "\x7f", "\u2028", "\u2029", "<", "é", "\u20ac", "\ud7ff", "\ue000"]
    + ["\ufb33", "\uffff", "\U00010000", "\U0001f600", "\U0010ffff", "a", "Z", "1", " "]
)
INTEGERS = [0, 1, -1, 42, 2**31, -(2**31), 2**53, -(2**53), 2**53 - 1]


def _general(value: object) -> bytes:
    parts: list[str] = []
    jcs._serialize(value, parts)
    return "".join(parts).encode("utf-8")


def _text(rng: random.Random, bmp_only: bool = False) -> str:
    alphabet = [c for c in TRICKY if not bmp_only or c <= "\uffff"]
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))


def _document(rng: random.Random, depth: int = 0, bmp_keys: bool = True) -> object:
    kind = rng.choice(["str", "int", "bool", "none", "list", "tuple", "dict", "dict"])
    if depth > 3 or kind == "str":
        return _text(rng)
    if kind == "int":
        return rng.choice(INTEGERS + [rng.randint(-(2**53), 2**53)])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    items = [_document(rng, depth + 1, bmp_keys) for _ in range(rng.randint(0, 4))]
    if kind == "list":
        return items
    if kind == "tuple":
        return tuple(items)
    return {_text(rng, bmp_only=bmp_keys): item for item in items}


@pytest.mark.parametrize("seed", range(300))
def test_fast_path_matches_the_general_path_on_random_documents(seed):
    document = _document(random.Random(seed))
    assert jcs._fast_path_applies(document)
    assert canonicalize(document) == _general(document)
    # And it is valid JSON that reads back as the same document (tuples become lists).
    assert json.loads(canonicalize(document)) == json.loads(json.dumps(document))


@pytest.mark.parametrize("seed", range(100))
def test_keys_beyond_the_bmp_take_the_general_path_and_sort_by_utf16(seed):
    rng = random.Random(seed)
    document = {_text(rng) + "\U0001f600": 1, "\ufb33": 2, _text(rng): [_document(rng)]}
    assert not jcs._fast_path_applies(document)
    keys = list(json.loads(canonicalize(document)))
    assert keys == sorted(keys, key=lambda key: key.encode("utf-16-be", "surrogatepass"))


@pytest.mark.parametrize("seed", range(100))
def test_members_joined_are_the_canonical_object(seed):
    rng = random.Random(seed)
    document = {_text(rng, bmp_only=rng.random() < 0.5): _document(rng) for _ in range(6)}
    members = canonical_members(document)
    assert join_members(members) == canonicalize(document)
    dropped = rng.choice([*document, "absent"])
    kept = {key: value for key, value in document.items() if key != dropped}
    assert join_members({k: v for k, v in members.items() if k != dropped}) == canonicalize(kept)


def test_control_characters_and_json_escapes_match_rfc_8785_on_both_paths():
    text = "".join(chr(code) for code in range(0x20)) + '"\\/\x7f\u2028\u2029'
    expected = (
        '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r'
        "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
        '\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\"\\\\/\x7f\u2028\u2029"'
    ).encode("utf-8")
    assert canonicalize(text) == _general(text) == expected
    assert canonicalize({text: [text]}) == _general({text: [text]})


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        {"a": [0.0]},
        {"a": 1e21},
        2**53 + 2,
        {"big": -(2**60)},
        {"\U0001f600": 1},
        {1: "one"},
        type("Text", (str,), {})("x"),
        {"a": type("Count", (int,), {})(3)},
        {"a": {1, 2}},
        b"bytes",
    ],
    ids=repr,
)
def test_values_the_fast_path_cannot_vouch_for_take_the_general_path(value):
    assert not jcs._fast_path_applies(value)


def test_numbers_keep_their_rfc_8785_form_inside_documents():
    import struct

    for bits, expected in APPENDIX_B:
        number = struct.unpack(">d", bytes.fromhex(bits))[0]
        assert canonicalize({"n": [number, 7]}) == b'{"n":[' + expected.encode() + b",7]}"


def test_a_list_that_contains_itself_is_refused_not_looped_over():
    looped: list[object] = []
    looped.append(looped)
    assert not jcs._fast_path_applies(looped)
    with pytest.raises(RecursionError):
        canonicalize(looped)


def test_lone_surrogates_are_refused_on_the_fast_path_too():
    assert jcs._fast_path_applies({"a": "\ud800"})
    with pytest.raises(ValueError, match="surrogate"):
        canonicalize({"a": "\ud800"})
    with pytest.raises(ValueError, match="surrogate"):
        canonical_members({"a": "\ud800"})


def test_repeated_members_are_reused_only_when_they_print_the_same():
    repeated = RepeatedMembers(["@context"])
    for context in (
        ["https://www.w3.org/ns/activitystreams", {"seq": "branchline:seq"}],
        ["https://www.w3.org/ns/activitystreams", {"seq": "branchline:seq"}],
        ["https://www.w3.org/ns/activitystreams", {"seq": "https://evil.example/seq"}],
        {"n": 1},
        {"n": True},  # equal to {"n": 1} in Python, not in JSON
        {"n": 1.0},
        None,
    ):
        document = {"@context": context, "id": "https://a.example/1"}
        assert join_members(repeated.members(document)) == canonicalize(document)


def test_repeated_members_are_not_fooled_by_a_caller_changing_a_document():
    repeated = RepeatedMembers(["@context"])
    document = {"@context": [{"seq": "branchline:seq"}], "seq": 1}
    repeated.members(document)
    document["@context"][0]["seq"] = "https://evil.example/seq"
    assert join_members(repeated.members(document)) == canonicalize(document)


# Doubles around every edge of the fast path's range, and fractions with many and few
# digits: the fast path takes only some, and must agree with the general path where it does.
EDGE_FLOATS = [
    1e-4, 9.999999999999999e-05, 0.00010000000000000002, 1e16, 9999999999999998.0,
    999999999999999.9, 0.1, 0.2 + 0.1, 1 / 3, 2 / 3, 51.5, -51.5, 53.4808, -1.5491,
    5e-324, 1.7976931348623157e308, 0.0, -0.0, 1.0, -1.0, 51.0, 1e21, 1e-7, 123456.789,
]  # fmt: skip


@pytest.mark.parametrize("value", EDGE_FLOATS)
def test_floats_inside_documents_print_alike_on_both_paths(value):
    document = {"latitude": value, "list": [value, -value]}
    assert canonicalize(document) == _general(document)


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_appendix_b_numbers_inside_documents_print_as_published(bits, expected):
    # The published texts, whichever path the document takes.
    assert canonicalize({"n": [_double(bits)]}) == b'{"n":[' + expected.encode() + b"]}"


def test_only_plain_fractions_take_the_fast_path():
    for value in (1.0, 51.0, -0.0, 0.0, 1e16, 1e21, 9.999999999999999e-05, 5e-324):
        assert not jcs._fast_path_applies({"x": value}), value
    for value in (0.5, 53.4808, -1.5491, 1e-4, 999999999999999.9, 0.1 + 0.2):
        assert jcs._fast_path_applies({"x": [value]}), value


@pytest.mark.parametrize("seed", range(200))
def test_random_doubles_print_alike_on_both_paths(seed):
    rng = random.Random(seed)
    values = [
        rng.uniform(-90, 90),
        rng.uniform(-1, 1) * 10 ** rng.randint(-6, 18),
        round(rng.uniform(0, 1), rng.randint(1, 6)),
        _random_double(rng),
    ]
    document = {"values": values, "nested": {"lat": values[0], "lon": values[1]}}
    assert canonicalize(document) == _general(document)
    plain = [value for value in values if jcs._plain_float(value)]
    assert jcs._fast_path_applies(plain)
    assert canonicalize(plain) == _general(plain)


def _random_double(rng: random.Random) -> float:
    while True:
        value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(value):
            return value


@pytest.mark.parametrize(
    "value",
    [0, -0, 7, -7, 2**53, -(2**53), 2**53 - 1, True, False, None, "7", 1.5, 2.0],
    ids=repr,
)
def test_members_that_are_numbers_print_as_the_general_path_prints_them(value):
    document = {"n": value, "m": [value], "k": {"n": value}}
    members = canonical_members(document)
    assert members["n"] == b'"n":' + _general(value)
    assert join_members(members) == canonicalize(document) == _general(document)


@pytest.mark.parametrize("value", [2**53 + 1, -(2**53) - 1, 10**400])
def test_member_integers_a_double_cannot_hold_are_refused(value):
    with pytest.raises(ValueError):
        canonical_members({"n": value})


def test_member_integer_subclasses_take_the_general_path():
    count = type("Count", (int,), {"__repr__": lambda self: "lots"})(3)
    assert canonical_members({"n": count})["n"] == b'"n":3'


def test_members_can_be_joined_without_some_of_them():
    document = {"b": 1, "proof": {"x": "y"}, "a": "\U0001f600", "\ufb33": [], "\U00010000": 2}
    members = canonical_members(document)
    kept = {key: value for key, value in document.items() if key not in ("proof", "a")}
    assert join_members(members, without={"proof", "a"}) == canonicalize(kept)
    assert join_members(members, without=()) == canonicalize(document)


def test_a_context_that_contains_itself_is_not_remembered_and_not_looped_over():
    looped: dict[str, object] = {"a": "b"}
    looped["self"] = looped
    assert not jcs._strings_only(looped)
    listed: list[object] = ["a"]
    listed.append(listed)
    assert not jcs._strings_only(listed)
    assert not jcs._strings_only({f"k{n}": "v" for n in range(1001)})
    assert jcs._strings_only({f"k{n}": "v" for n in range(999)})


@pytest.mark.parametrize("seed", range(100))
def test_repeated_members_match_canonical_members_on_random_contexts(seed):
    rng = random.Random(seed)
    repeated = RepeatedMembers(["@context"])
    context = [_text(rng), {_text(rng, bmp_only=True): _text(rng) for _ in range(5)}, None]
    for _ in range(3):
        document = {"@context": context, "x": _document(rng), _text(rng, bmp_only=True): 1}
        assert repeated.members(document) == canonical_members(document)
        assert join_members(repeated.members(document)) == canonicalize(document)
