"""RFC 8785 JSON Canonicalization Scheme: the exact bytes that proofs and feed hashes cover."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# Numbers in JSON are IEEE-754 doubles (RFC 8785 section 3.2.2.3); integers beyond this
# are only accepted when a double holds them exactly.
_EXACT_INTEGER_LIMIT = 2**53

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def canonicalize(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 form of a JSON value.

    Raises ValueError for NaN, infinities, integers a double cannot hold and lone
    surrogates, and TypeError for keys that are not strings or values that are not JSON.
    """
    parts: list[str] = []
    _serialize(value, parts)
    text = "".join(parts)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("JSON text contains a lone surrogate") from error


def _serialize(value: object, parts: list[str]) -> None:
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, str):
        parts.append(_serialize_string(value))
    elif isinstance(value, int):
        parts.append(_serialize_integer(value))
    elif isinstance(value, float):
        parts.append(serialize_number(value))
    elif isinstance(value, Mapping):
        _serialize_object(value, parts)
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _serialize(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def _serialize_object(value: Mapping[object, object], parts: list[str]) -> None:
    members: dict[str, object] = {}
    for key, member in value.items():
        if not isinstance(key, str):
            raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
        members[key] = member
    # Sort by UTF-16 code units (section 3.2.3); big-endian UTF-16 bytes compare the same way.
    keys = sorted(members, key=lambda key: key.encode("utf-16-be", "surrogatepass"))
    parts.append("{")
    for index, key in enumerate(keys):
        if index:
            parts.append(",")
        parts.append(_serialize_string(key))
        parts.append(":")
        _serialize(members[key], parts)
    parts.append("}")


def _serialize_string(value: str) -> str:
    out = ['"']
    for char in value:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _serialize_integer(value: int) -> str:
    if -_EXACT_INTEGER_LIMIT <= value <= _EXACT_INTEGER_LIMIT:
        return serialize_number(float(value))
    try:
        as_double = float(value)
    except OverflowError as error:
        raise ValueError(f"integer {value} is outside the range of a JSON number") from error
    if int(as_double) != value:
        raise ValueError(f"integer {value} cannot be represented exactly as a JSON number")
    return serialize_number(as_double)


def serialize_number(value: float) -> str:
    """Format a double the way ECMAScript's Number.prototype.toString does (RFC 8785 3.2.2.3)."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError("NaN and Infinity are not JSON numbers")
    if value == 0:
        return "0"  # also for -0
    sign = "-" if value < 0 else ""
    # repr() gives the shortest digit string that round-trips, which is what ECMAScript needs;
    # only the layout (plain, fraction or exponent) differs, and that is rebuilt here.
    mantissa, _, exponent_text = repr(abs(value)).partition("e")
    integer_part, _, fraction_part = mantissa.partition(".")
    digits = integer_part + fraction_part
    point = len(integer_part) + (int(exponent_text) if exponent_text else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        exponent = n - 1
        exponent_sign = "+" if exponent >= 0 else "-"
        head = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{head}e{exponent_sign}{abs(exponent)}"
    return sign + text
