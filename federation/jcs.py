"""RFC 8785 JSON Canonicalization Scheme: the exact bytes that proofs and feed hashes cover."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from typing import Any

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


# The standard library's C encoder, set up to write what RFC 8785 asks for the documents
# _fast_path_applies accepts: no whitespace, members sorted, and strings escaped only where
# JSON must (quote, backslash and U+0000-U+001F, the latter as the two-character escapes
# b t n f r or as lower-case u00xx); everything else, U+007F and U+2028 included, is written
# as itself, exactly like _serialize_string.
# No circular check: _fast_path_applies never accepts a cycle (it is deeper than any depth).
_plain_encoder = json.JSONEncoder(
    ensure_ascii=False, check_circular=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)
# The encoder's own string writer, the same function it uses inside documents.
_encode_string = json.encoder.encode_basestring


def _refuse(value: object) -> None:
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _make_plain_encode() -> Callable[[object], str]:
    # JSONEncoder.encode sets up a new C encoder for every call, which costs more than
    # encoding a feed entry's members; this sets up the same one, with the same arguments,
    # once. Should a Python version change that internal interface, the self-check below
    # falls back to the public path.
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is not None:
        try:
            iterencode = make(None, _refuse, _encode_string, None, ":", ",", True, False, False)

            def encode(value: object) -> str:
                return "".join(iterencode(value, 0))

            sample = {"b": [1, True, None, '\u2028\x7f\x00\n"\\'], "a": {"é": -2}}
            if encode(sample) == _plain_encoder.encode(sample):
                return encode
        except (TypeError, ValueError):
            pass
    return _plain_encoder.encode


_plain_encode = _make_plain_encode()

# Deeper documents take the general path (which hits the recursion limit near this depth
# anyway); it also stops the walk below on a list or dict that contains itself.
_FAST_PATH_MAX_DEPTH = 200


def canonicalize(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 form of a JSON value.

    Raises ValueError for NaN, infinities, integers a double cannot hold and lone
    surrogates, and TypeError for keys that are not strings or values that are not JSON.
    """
    return _utf8(_canonical_text(value))


def _canonical_text(value: object) -> str:
    kind = type(value)
    if kind is str:
        return _encode_string(value)  # type: ignore[arg-type]
    if _fast_path_applies(value):
        return _plain_encode(value)
    parts: list[str] = []
    _serialize(value, parts)
    return "".join(parts)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("JSON text contains a lone surrogate") from error


def canonical_members(
    value: Mapping[str, object], known: Mapping[str, bytes] | None = None
) -> dict[str, bytes]:
    """Return each member of a JSON object as its canonical ``"name":value`` bytes.

    ``join_members`` puts (any subset of) them together into the canonical form of that
    object, so a document whose proof and hash cover different parts of it is
    canonicalised once. Raises as ``canonicalize`` does.
    """
    members: dict[str, bytes] = {}
    try:
        for key, member in value.items():
            if type(key) is not str and not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            if known is not None and key in known:
                members[key] = known[key]
                continue
            # Most members of an activity are plain strings: written here directly, as
            # _canonical_text would, without its checks for containers and numbers.
            kind = type(member)
            if kind is str:
                text = _encode_string(member)  # type: ignore[arg-type]
            elif kind is int and -_EXACT_INTEGER_LIMIT <= member <= _EXACT_INTEGER_LIMIT:  # type: ignore[operator]
                text = int.__repr__(member)  # type: ignore[arg-type]  # as serialize_number
            else:
                text = _canonical_text(member)
            members[key] = f"{_serialize_string(key)}:{text}".encode()
    except UnicodeEncodeError as error:
        raise ValueError("JSON text contains a lone surrogate") from error
    return members


class RepeatedMembers:
    """Canonicalise a run of similar objects, reusing named members that repeat exactly.

    Every entry of a feed carries the same ``@context``; canonicalising it is most of the
    work of canonicalising an entry. A member is reused only when it holds nothing but
    strings, None, dicts and lists (of exactly those types) and equals the one held: for
    such values ``==`` means the same canonical text (``1 == 1.0 == True`` cannot arise).
    The held value is a private copy, so a caller changing its documents cannot make a
    stale text match. One instance serves one thread.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self._names = tuple(names)
        self._held: dict[str, tuple[object, bytes]] = {}

    def members(self, value: Mapping[str, object]) -> dict[str, bytes]:
        """Return ``canonical_members(value)``, with repeated members taken from before."""
        known: dict[str, bytes] = {}
        for name in self._names:
            if name not in value:
                continue
            member = value[name]
            if not _strings_only(member):
                continue
            held = self._held.get(name)
            if held is not None and held[0] == member:
                known[name] = held[1]
            else:
                text = _utf8(f"{_serialize_string(name)}:{_canonical_text(member)}")
                self._held[name] = (copy.deepcopy(member), text)
                known[name] = text
        return canonical_members(value, known)


def join_members(members: Mapping[str, bytes], without: Container[str] = ()) -> bytes:
    """Return the canonical object made of ``members`` (from ``canonical_members``).

    RFC 8785 writes an object as its members, each in canonical form, sorted by name and
    separated by commas, which is all this does; members named in ``without`` are left out.
    """
    keys = _sorted_keys(members)
    if without:
        return b"{" + b",".join([members[key] for key in keys if key not in without]) + b"}"
    return b"{" + b",".join([members[key] for key in keys]) + b"}"


def _sorted_keys(keys: Iterable[str]) -> list[str]:
    # Sort by UTF-16 code units (section 3.2.3); big-endian UTF-16 bytes compare the same way.
    # Without characters beyond U+FFFF that is the code-point order Python sorts in anyway.
    ordered = sorted(keys)
    if "".join(ordered).isascii() or all(max(key, default="") <= "\uffff" for key in ordered):
        return ordered
    return sorted(ordered, key=_utf16)


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _fast_path_applies(value: object) -> bool:
    """Tell whether ``json`` writes ``value`` exactly as RFC 8785 does.

    That holds for plain dicts, lists and tuples of str, bool, None, integers a double
    holds exactly (those print as the double would) and fractions of plain magnitude (see
    ``_plain_float``), as long as no key has a character beyond U+FFFF: only such a
    character sorts differently by UTF-16 code units (RFC 8785's order, where it is a
    surrogate pair) than by code points (Python's order). Other floats, larger integers,
    subclasses and other mappings take the general path, which also raises the errors;
    exact types only, so no subclass can change how a value prints.
    """
    if not (type(value) is dict or type(value) is list or type(value) is tuple):
        return _plain_scalar(value)
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        container, depth = pending.pop()
        if depth > _FAST_PATH_MAX_DEPTH:
            return False
        if type(container) is dict:
            for key in container:
                if type(key) is not str or not (key.isascii() or max(key) <= "\uffff"):
                    return False
            children = container.values()
        else:
            children = container
        for child in children:
            kind = type(child)
            if kind is str or kind is bool or child is None:
                continue
            if kind is dict or kind is list or kind is tuple:
                pending.append((child, depth + 1))
            elif kind is float:
                if not _plain_float(child):
                    return False
            elif kind is not int or not -_EXACT_INTEGER_LIMIT <= child <= _EXACT_INTEGER_LIMIT:
                return False
    return True


def _plain_float(value: float) -> bool:
    # repr() (which json writes floats with) and ECMAScript both give the shortest digits
    # that round-trip; they lay them out alike, as plain decimals, for a fraction of
    # magnitude 1e-4 up to 1e16. Outside that range repr() turns to an exponent sooner, and
    # a whole number prints "51.0" there and "51" in ECMAScript: the general path's cases.
    # (NaN fails both comparisons, and infinities the upper one.)
    return 1e-4 <= abs(value) < 1e16 and not value.is_integer()


def _strings_only(value: object) -> bool:
    # Only small values are worth remembering; the budget (of members and items walked)
    # also ends the walk on a cycle.
    budget = 1000
    pending = [value]
    push = pending.append
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is dict:
            budget -= len(item)  # type: ignore[arg-type]
            if budget < 0:
                return False
            for key, child in item.items():  # type: ignore[attr-defined]
                if type(key) is not str:
                    return False
                if type(child) is not str and child is not None:
                    push(child)
        elif kind is list:
            budget -= len(item)  # type: ignore[arg-type]
            if budget < 0:
                return False
            for child in item:  # type: ignore[attr-defined]
                if type(child) is not str and child is not None:
                    push(child)
        elif kind is not str and item is not None:
            return False
    return True


def _plain_scalar(value: object) -> bool:
    kind = type(value)
    if kind is int:
        return -_EXACT_INTEGER_LIMIT <= value <= _EXACT_INTEGER_LIMIT  # type: ignore[operator]
    if kind is float:
        return _plain_float(value)  # type: ignore[arg-type]
    return kind is str or kind is bool or value is None


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
    keys = _sorted_keys(members)
    parts.append("{")
    for index, key in enumerate(keys):
        if index:
            parts.append(",")
        parts.append(_serialize_string(key))
        parts.append(":")
        _serialize(members[key], parts)
    parts.append("}")


def _serialize_string(value: str) -> str:
    if type(value) is str:
        return _encode_string(value)
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
