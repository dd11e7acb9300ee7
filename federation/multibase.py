"""Base58btc and its multibase form (``z`` prefix), as used by Multikeys and proof values."""

from __future__ import annotations

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: index for index, char in enumerate(BASE58_ALPHABET)}
# Each byte of ASCII text to its digit; every other byte (and so any non-ASCII character,
# all of whose UTF-8 bytes are 0x80 or above) to _NOT_A_DIGIT.
_NOT_A_DIGIT = 0xFF
_DIGIT_OF_BYTE = bytes(_BASE58_INDEX.get(chr(byte), _NOT_A_DIGIT) for byte in range(256))
_58_TO_THE_5 = 58**5

# Texts of up to _LANE_DIGITS digits (proof values are 88, keys 48) are read as one integer
# of one digit per byte, and neighbouring lanes are merged in a handful of big-integer
# operations: pairs of bytes into 16-bit lanes holding high * 58 + low, pairs of those into
# 32-bit lanes holding high * 58**2 + low, and so on. Each lane always has room: 58**(2**k)
# digits' worth is below 2**(8 * 2**k). Leading zero digits are the lanes' implicit padding.
_LANE_DIGITS = 128


def _lane_steps() -> tuple[tuple[int, int, int], ...]:
    # (bits in half a lane, mask of every lane's low half, 58 ** digits in half a lane)
    steps = []
    for step in range(7):  # 1-byte halves up to 64-byte halves: one 128-byte lane
        half = 8 << step
        low_half = b"\0" * (half // 8) + b"\xff" * (half // 8)
        steps.append((half, int.from_bytes(low_half * (64 >> step), "big"), 58 ** (1 << step)))
    return tuple(steps)


_LANE_STEPS = _lane_steps()

# Decoding is quadratic in the length; keys and proof values are under 100 characters.
MAX_ENCODED_LENGTH = 1024


def base58btc_encode(data: bytes) -> str:
    """Encode bytes in the Bitcoin base58 alphabet, one ``1`` per leading zero byte."""
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(BASE58_ALPHABET[remainder])
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + "".join(reversed(digits))


def base58btc_decode(text: str) -> bytes:
    """Decode Bitcoin base58 text; raise ValueError on characters outside the alphabet."""
    if len(text) > MAX_ENCODED_LENGTH:
        raise ValueError(f"base58 text longer than {MAX_ENCODED_LENGTH} characters")
    digits = text.encode("utf-8", "surrogatepass").translate(_DIGIT_OF_BYTE)
    if len(digits) != len(text) or _NOT_A_DIGIT in digits:
        for char in text:
            if char not in _BASE58_INDEX:
                raise ValueError(f"{char!r} is not a base58btc character")
    if len(digits) <= _LANE_DIGITS:
        number = _combine_lanes(digits)
    else:
        # Five digits at a time in small integers: the big number is touched once per
        # five digits instead of once per digit.
        head = len(digits) % 5
        number = 0
        for digit in digits[:head]:
            number = number * 58 + digit
        chunks = iter(digits[head:])
        for a, b, c, d, e in zip(chunks, chunks, chunks, chunks, chunks, strict=True):
            number = number * _58_TO_THE_5 + (((a * 58 + b) * 58 + c) * 58 + d) * 58 + e
    leading_zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * leading_zeros + body


def _combine_lanes(digits: bytes) -> int:
    number = int.from_bytes(digits, "big")
    for half, low_halves, scale in _LANE_STEPS:
        number = ((number >> half) & low_halves) * scale + (number & low_halves)
    return number


def multibase_encode(data: bytes) -> str:
    """Encode bytes as multibase base58btc (``z…``)."""
    return "z" + base58btc_encode(data)


def multibase_decode(text: str) -> bytes:
    """Decode multibase base58btc text; other multibase encodings are refused."""
    if not text.startswith("z"):
        raise ValueError("only multibase base58btc ('z' prefix) is supported")
    return base58btc_decode(text[1:])
