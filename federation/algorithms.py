"""The signature algorithms both HTTP signature schemes use, by their RFC 9421 names."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from federation.errors import SignatureError
from federation.keys import PrivateKey, PublicKey

RSA_V1_5_SHA256 = "rsa-v1_5-sha256"
RSA_PSS_SHA512 = "rsa-pss-sha512"
ED25519 = "ed25519"
SUPPORTED = (RSA_V1_5_SHA256, RSA_PSS_SHA512, ED25519)

# RFC 9421 section 3.3.1: MGF1 with SHA-512 and a 64-byte salt.
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)


def algorithms_for_key(key: PublicKey | PrivateKey) -> tuple[str, ...]:
    """Name the algorithms a key can be used with, most common first."""
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return (ED25519,)
    return (RSA_V1_5_SHA256, RSA_PSS_SHA512)


def sign_bytes(algorithm: str, key: PrivateKey, data: bytes) -> bytes:
    """Sign ``data`` with ``key`` using the named algorithm."""
    if algorithm == ED25519 and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, rsa.RSAPrivateKey):
        if algorithm == RSA_V1_5_SHA256:
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if algorithm == RSA_PSS_SHA512:
            return key.sign(data, _PSS, hashes.SHA512())
    raise ValueError(f"cannot sign with {algorithm} using a {type(key).__name__}")


def verify_bytes(algorithm: str, key: PublicKey, signature: bytes, data: bytes) -> bool:
    """Return whether ``signature`` over ``data`` verifies; refuse a key of the wrong type."""
    if algorithm not in algorithms_for_key(key):
        raise SignatureError(f"algorithm {algorithm} does not fit {_key_kind(key)} key")
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif algorithm == RSA_V1_5_SHA256:
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(signature, data, _PSS, hashes.SHA512())
    except InvalidSignature:
        return False
    return True


def _key_kind(key: PublicKey) -> str:
    return "an Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "an RSA"
