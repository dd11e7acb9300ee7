"""Base58btc decoding takes shortcuts for speed; it must decode exactly as the definition."""

from __future__ import annotations

import random

import pytest

from federation.multibase import (
    BASE58_ALPHABET,
    MAX_ENCODED_LENGTH,
    base58btc_decode,
    base58btc_encode,
    multibase_decode,
)


def _by_definition(text: str) -> bytes:
    # One digit at a time, the way base58 is defined.
    number = 0
    for char in text:
        number = number * 58 + BASE58_ALPHABET.index(char)
    leading_zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * leading_zeros + body


# Both sides of the 128-digit line between the merged-lanes path and the chunked one.
@pytest.mark.parametrize("length", [*range(0, 140), 200, 500, MAX_ENCODED_LENGTH])
def test_decoding_any_text_matches_the_definition(length):
    rng = random.Random(length)
    for text in (
        "".join(rng.choice(BASE58_ALPHABET) for _ in range(length)),
        "z" * length,  # the largest digit everywhere: the lanes' fullest case
        "1" * length,
        "1" * (length // 2) + "z" * (length - length // 2),
    ):
        assert base58btc_decode(text) == _by_definition(text)


@pytest.mark.parametrize("size", [0, 1, 16, 32, 34, 64, 65, 90, 93, 94, 100, 200])
def test_random_bytes_round_trip(size):
    rng = random.Random(size)
    for _ in range(50):
        data = bytes(rng.choice([0, 255, rng.randrange(256)]) for _ in range(size))
        assert base58btc_decode(base58btc_encode(data)) == data


@pytest.mark.parametrize(
    "bad", ["é", "abcé", "\ud800", "\uff11", "1\x00", "z" * 87 + "0", "l" + "z" * 130]
)
def test_non_alphabet_characters_are_refused_on_every_path(bad):
    with pytest.raises(ValueError, match="not a base58btc character"):
        base58btc_decode(bad)


def test_proof_values_decode_to_their_64_bytes():
    signature = bytes(range(64))
    assert multibase_decode("z" + base58btc_encode(signature)) == signature
