"""Base58btc and its multibase form (``z`` prefix), as used by Multikeys and proof values."""

from __future__ import annotations

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: index for index, char in enumerate(BASE58_ALPHABET)}

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
    number = 0
    for char in text:
        index = _BASE58_INDEX.get(char)
        if index is None:
            raise ValueError(f"{char!r} is not a base58btc character")
        number = number * 58 + index
    leading_zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * leading_zeros + body


def multibase_encode(data: bytes) -> str:
    """Encode bytes as multibase base58btc (``z…``)."""
    return "z" + base58btc_encode(data)


def multibase_decode(text: str) -> bytes:
    """Decode multibase base58btc text; other multibase encodings are refused."""
    if not text.startswith("z"):
        raise ValueError("only multibase base58btc ('z' prefix) is supported")
    return base58btc_decode(text[1:])
