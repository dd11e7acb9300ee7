"""RFC 8785 JSON Canonicalization Scheme against the RFC's own examples."""

from __future__ import annotations

import json
import math
import struct

import pytest

from federation.jcs import canonicalize

# RFC 8785 appendix B: IEEE-754 bit patterns and their canonical text.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def _double(bits: str) -> float:
    return struct.unpack(">d", bytes.fromhex(bits))[0]


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_numbers_serialise_as_rfc_8785_appendix_b(bits, expected):
    assert canonicalize(_double(bits)) == expected.encode()


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_nan_and_infinity_are_refused(bits):
    value = _double(bits)
    assert math.isnan(value) or math.isinf(value)
    with pytest.raises(ValueError, match="NaN and Infinity"):
        canonicalize({"n": value})


def test_section_3_2_2_sample_canonicalises_to_the_published_text():
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonicalize(json.loads(source)) == expected.encode("utf-8")


def test_section_3_2_3_properties_sort_by_utf16_code_units():
    source = json.loads(
        '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return",'
        ' "\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One",'
        ' "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control",'
        ' "\\u00f6": "Latin Small Letter O With Diaeresis"}'
    )
    keys = list(json.loads(canonicalize(source)))
    # The emoji (a surrogate pair, 0xD83D…) sorts before U+FB33 even though its code point is
    # higher: that is the UTF-16 rule.
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # cyberphone/json-canonicalization testdata (the RFC authors' reference suite)
        (
            '{"1": {"f": {"f": "hi","F": 5} ,"\\n": 56.0}, "10": { }, "": "empty", "a": { },'
            ' "111": [ { } ], "A": { }}',
            '{"":"empty","1":{"\\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}}',
        ),
        (
            '{"numbers": [1E30, 4.50, 333333333.33333329, 2e-3, 0.000000000000000000000000001],'
            ' "escaping": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
            ' "literals": [null, true, false]}',
            '{"escaping":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/","literals":[null,true,false],'
            '"numbers":[1e+30,4.5,333333333.3333333,0.002,1e-27]}',
        ),
        (
            '{"\\u20ac": "Euro Sign", "1": "One", "\\u0080": "Control\\u007f",'
            ' "\\ud83d\\ude02": "Smiley", "\\u00f6": "Latin Small Letter O With Diaeresis",'
            ' "\\ufb33": "Hebrew Letter Dalet With Dagesh", "</script>": "Browser Challenge"}',
            '{"1":"One","</script>":"Browser Challenge","\u0080":"Control\u007f",'
            '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
            '"\U0001f602":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
        ),
    ],
)
def test_reference_suite_inputs_canonicalise_to_their_outputs(source, expected):
    assert canonicalize(json.loads(source)) == expected.encode("utf-8")


def test_control_characters_use_short_escapes_or_lowercase_hex():
    assert canonicalize("\b\f\n\r\t\x00\x1f\x7f") == b'"\\b\\f\\n\\r\\t\\u0000\\u001f\x7f"'


def test_integers_follow_double_semantics():
    assert canonicalize([0, -0.0, 1, -1, 10**21, 2**60]) == (
        b"[0,0,1,-1,1e+21,1152921504606847000]"
    )


def test_integers_a_double_cannot_hold_are_refused():
    with pytest.raises(ValueError, match="exactly"):
        canonicalize(2**53 + 1)
    with pytest.raises(ValueError, match="range"):
        canonicalize(10**400)


def test_booleans_are_not_numbers_and_tuples_are_arrays():
    assert canonicalize({"t": True, "f": (False, None)}) == b'{"f":[false,null],"t":true}'


def test_non_string_keys_and_non_json_values_are_refused():
    with pytest.raises(TypeError, match="keys must be strings"):
        canonicalize({1: "one"})
    with pytest.raises(TypeError, match="not a JSON value"):
        canonicalize({"set": {1, 2}})
    with pytest.raises(TypeError, match="not a JSON value"):
        canonicalize(b"bytes")


def test_lone_surrogates_are_refused():
    with pytest.raises(ValueError, match="surrogate"):
        canonicalize(json.loads('"\\ud800"'))


def test_output_is_independent_of_input_key_order():
    assert canonicalize({"b": 1, "a": {"d": 2, "c": 3}}) == canonicalize(
        {"a": {"c": 3, "d": 2}, "b": 1}
    )
