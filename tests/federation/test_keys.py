"""Key generation, PEM files and FEP-521a Multikeys."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from federation.errors import KeyFormatError
from federation.keys import (
    ed25519_private_key_from_multikey,
    ed25519_private_key_to_multikey,
    ed25519_public_key_from_multikey,
    ed25519_public_key_to_multikey,
    generate_ed25519_key,
    generate_rsa_key,
    load_private_key_pem,
    load_public_key_pem,
    private_key_to_pem,
    public_key_to_pem,
    read_private_key,
    write_private_key,
)
from federation.multibase import base58btc_decode, base58btc_encode, multibase_decode

# The key pair of the FEP-8b32 test vector and of W3C vc-di-eddsa's TestVectors/keyPair.json.
VECTOR_SECRET_MULTIKEY = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
VECTOR_PUBLIC_MULTIKEY = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"


@pytest.mark.parametrize(
    ("data", "encoded"),
    [
        # draft-msporny-base58 section 5 examples
        (b"Hello World!", "2NEpo7TZRRrLZSi2U"),
        (
            b"The quick brown fox jumps over the lazy dog.",
            "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z",
        ),
        (bytes.fromhex("0000287fb4cd"), "11233QC4"),
        # the base58 package's own vectors
        (b"hello world", "StV1DL6CwTryKyV"),
        (b"\0\0hello world", "11StV1DL6CwTryKyV"),
        (b"\0", "1"),
        (b"", ""),
    ],
)
def test_base58btc_matches_published_vectors(data, encoded):
    assert base58btc_encode(data) == encoded
    assert base58btc_decode(encoded) == data


@pytest.mark.parametrize("bad", ["0abc", "Oops", "Il1", "abc!"])
def test_base58btc_refuses_characters_outside_the_alphabet(bad):
    with pytest.raises(ValueError, match="not a base58btc character"):
        base58btc_decode(bad)


def test_base58btc_round_trips_bytes_with_leading_zeros():
    for data in (b"\0\0\0\x01", bytes(range(256)), b"\0" * 5, os.urandom(64)):
        assert base58btc_decode(base58btc_encode(data)) == data


def test_multibase_refuses_other_encodings():
    with pytest.raises(ValueError, match="base58btc"):
        multibase_decode("mAQID")  # 'm' is base64 in multibase


def test_published_secret_multikey_yields_published_public_multikey():
    secret = ed25519_private_key_from_multikey(VECTOR_SECRET_MULTIKEY)
    assert ed25519_public_key_to_multikey(secret.public_key()) == VECTOR_PUBLIC_MULTIKEY
    assert ed25519_private_key_to_multikey(secret) == VECTOR_SECRET_MULTIKEY


def test_public_multikey_round_trips_and_starts_with_z6mk():
    key = generate_ed25519_key().public_key()
    encoded = ed25519_public_key_to_multikey(key)
    assert encoded.startswith("z6Mk")
    assert ed25519_public_key_from_multikey(encoded) == key
    assert multibase_decode(encoded)[:2] == b"\xed\x01"


def test_public_multikey_decoder_refuses_a_private_multikey():
    with pytest.raises(KeyFormatError, match="multicodec prefix"):
        ed25519_public_key_from_multikey(VECTOR_SECRET_MULTIKEY)


def test_multikey_decoder_refuses_wrong_length_and_non_multibase():
    short = "z" + base58btc_encode(b"\xed\x01" + b"\x01" * 31)
    with pytest.raises(KeyFormatError, match="32 bytes"):
        ed25519_public_key_from_multikey(short)
    with pytest.raises(KeyFormatError, match="multibase"):
        ed25519_public_key_from_multikey("u7QE")


def test_generated_keys_are_rsa_2048_and_ed25519():
    rsa_key = generate_rsa_key()
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    assert rsa_key.key_size == 2048
    assert rsa_key.public_key().public_numbers().e == 65537
    assert isinstance(generate_ed25519_key(), ed25519.Ed25519PrivateKey)


@pytest.mark.parametrize("generate", [generate_rsa_key, generate_ed25519_key])
def test_pem_round_trip_uses_pkcs8_and_spki(generate):
    key = generate()
    private_pem = private_key_to_pem(key)
    public_pem = public_key_to_pem(key.public_key())
    assert private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert private_key_to_pem(load_private_key_pem(private_pem)) == private_pem
    assert load_public_key_pem(public_pem) == key.public_key()


def test_pkcs1_rsa_public_keys_load_too(data_dir):
    key = load_public_key_pem((data_dir / "rfc9421-test-key-rsa.pem").read_bytes())
    assert isinstance(key, rsa.RSAPublicKey)


def test_loading_refuses_garbage_and_unsupported_key_types():
    with pytest.raises(KeyFormatError):
        load_public_key_pem("not a key")
    with pytest.raises(KeyFormatError):
        load_private_key_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(KeyFormatError, match="unsupported"):
        load_private_key_pem(private_key_to_pem(ec_key))  # type: ignore[arg-type]


def test_private_key_file_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "group.key"
    old_umask = os.umask(0)
    try:
        write_private_key(path, generate_ed25519_key())
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_private_key_file_is_not_overwritten_unless_asked(tmp_path):
    path = tmp_path / "group.key"
    first, second = generate_ed25519_key(), generate_ed25519_key()
    write_private_key(path, first)
    with pytest.raises(FileExistsError):
        write_private_key(path, second)
    assert read_private_key(path).public_key() == first.public_key()

    write_private_key(path, second, overwrite=True)
    assert read_private_key(path).public_key() == second.public_key()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["group.key"]
