"""Key pairs: RSA for HTTP signatures, Ed25519 for object proofs, as PEM files and Multikeys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeAlias

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from federation.errors import KeyFormatError
from federation.multibase import multibase_decode, multibase_encode

PublicKey: TypeAlias = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

RSA_KEY_SIZE = 2048
RSA_PUBLIC_EXPONENT = 65537

# Multicodec codes as unsigned varints: ed25519-pub (0xed) and ed25519-priv (0x1300).
ED25519_PUBLIC_MULTICODEC = b"\xed\x01"
ED25519_PRIVATE_MULTICODEC = b"\x80\x26"
ED25519_KEY_LENGTH = 32


def generate_rsa_key() -> rsa.RSAPrivateKey:
    """Generate an RSA-2048 key for signing HTTP requests."""
    return rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=RSA_KEY_SIZE)


def generate_ed25519_key() -> ed25519.Ed25519PrivateKey:
    """Generate an Ed25519 key for signing feed entries and other objects."""
    return ed25519.Ed25519PrivateKey.generate()


def private_key_to_pem(key: PrivateKey) -> bytes:
    """Serialise a private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def public_key_to_pem(key: PublicKey) -> str:
    """Serialise a public key as SubjectPublicKeyInfo PEM, the form actors publish."""
    return key.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode("ascii")


def load_private_key_pem(data: bytes | str) -> PrivateKey:
    """Load an unencrypted RSA or Ed25519 private key from PEM."""
    raw = data.encode("ascii") if isinstance(data, str) else data
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError) as error:
        raise KeyFormatError(f"not an unencrypted PEM private key: {error}") from error
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise KeyFormatError(f"unsupported private key type {type(key).__name__}")
    return key


def load_public_key_pem(data: bytes | str) -> PublicKey:
    """Load an RSA or Ed25519 public key from PEM (SPKI, or PKCS#1 for RSA)."""
    raw = data.encode("ascii") if isinstance(data, str) else data
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        raise KeyFormatError(f"not a PEM public key: {error}") from error
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise KeyFormatError(f"unsupported public key type {type(key).__name__}")
    return key


def write_private_key(
    path: str | os.PathLike[str], key: PrivateKey, *, overwrite: bool = False
) -> None:
    """Write a private key as PEM to a file only its owner can read (mode 0600).

    The file is created with that mode rather than chmod-ed afterwards, so there is no
    moment when it is readable by others. Replacing an existing key must be asked for.
    """
    target = Path(path)
    pem = private_key_to_pem(key)
    written = target.with_name(target.name + ".new") if overwrite else target
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(written, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    except BaseException:
        written.unlink(missing_ok=True)
        raise
    if overwrite:
        os.replace(written, target)


def read_private_key(path: str | os.PathLike[str]) -> PrivateKey:
    """Read a PEM private key written by ``write_private_key``."""
    return load_private_key_pem(Path(path).read_bytes())


def ed25519_public_key_to_multikey(key: ed25519.Ed25519PublicKey) -> str:
    """Encode an Ed25519 public key as a FEP-521a ``publicKeyMultibase`` value."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return multibase_encode(ED25519_PUBLIC_MULTICODEC + raw)


def ed25519_public_key_from_multikey(value: str) -> ed25519.Ed25519PublicKey:
    """Decode a ``publicKeyMultibase`` value that holds an Ed25519 public key."""
    raw = _decode_multikey(value, ED25519_PUBLIC_MULTICODEC, "Ed25519 public key")
    return ed25519.Ed25519PublicKey.from_public_bytes(raw)


def ed25519_private_key_to_multikey(key: ed25519.Ed25519PrivateKey) -> str:
    """Encode an Ed25519 private key as ``secretKeyMultibase`` (for test vectors and backups)."""
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return multibase_encode(ED25519_PRIVATE_MULTICODEC + raw)


def ed25519_private_key_from_multikey(value: str) -> ed25519.Ed25519PrivateKey:
    """Decode a ``secretKeyMultibase`` value that holds an Ed25519 private key."""
    raw = _decode_multikey(value, ED25519_PRIVATE_MULTICODEC, "Ed25519 private key")
    return ed25519.Ed25519PrivateKey.from_private_bytes(raw)


def _decode_multikey(value: str, prefix: bytes, what: str) -> bytes:
    try:
        decoded = multibase_decode(value)
    except ValueError as error:
        raise KeyFormatError(f"not a multibase {what}: {error}") from error
    if not decoded.startswith(prefix):
        raise KeyFormatError(f"multikey does not carry the {what} multicodec prefix")
    raw = decoded[len(prefix) :]
    if len(raw) != ED25519_KEY_LENGTH:
        raise KeyFormatError(f"{what} must be {ED25519_KEY_LENGTH} bytes, got {len(raw)}")
    return raw
