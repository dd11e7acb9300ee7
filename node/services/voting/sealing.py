"""Sealed ballot papers: a key per ballot split among its tellers, papers sealed to it.

Pure functions with no database and no Flask, so the cryptography can be read and
tested on its own (the ballot services store what these return):

- ``make_key`` makes a ballot's X25519 key pair; ``deal`` splits the private key among
  ``n`` tellers so that any ``k`` of them can rebuild it (Shamir's scheme, from
  PyCryptodome, over each 16-byte half of the key) and returns, for each teller, the
  share as a code to keep and a commitment the node stores to check it when it comes
  back.
- ``seal`` pads a paper's choices to one fixed length and seals it to the public key
  (libsodium's sealed box, through PyNaCl), so neither its size nor its bytes say
  anything; ``tracker`` is the hash of a sealed paper, the member's receipt: it proves a
  paper was cast and counted, never what it says.
- ``teller_code`` frames a teller's own X25519 private key the same way (another prefix):
  their share is sealed to its public half, so the code opens the share when they give it.
- ``rebuild`` takes ``k`` checked shares back to the private key, and ``open_paper``
  reads a sealed paper with it (``None`` for a spoilt one).

No home-made cryptography: the field arithmetic, the curve and the cipher are the
libraries'; this module only frames their inputs and outputs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from Crypto.Protocol.SecretSharing import Shamir
from nacl.bindings import crypto_box_SEALBYTES
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

# A paper's choices as JSON, padded to this many bytes before sealing: room for a ranked
# ballot of 60 options ("[0,1,…,59]" is 230 bytes), and every paper seals to one size.
PAPER_BYTES = 256
SEALED_BYTES = PAPER_BYTES + crypto_box_SEALBYTES  # every sealed paper is this long
SHARE_PREFIX = "BLS1"  # a share code's version, so a code from elsewhere is refused early
TELLER_PREFIX = "BLT1"  # a teller's key code: the private key their share is sealed to


class ShareError(ValueError):
    """A share that is not one of this ballot's, repeated, or too few to rebuild the key."""


@dataclass(frozen=True)
class Share:
    """One teller's part of a ballot's key: ``index`` from 1, ``value`` 32 bytes."""

    index: int
    value: bytes

    @property
    def raw(self) -> bytes:
        """Return the index and value as 33 bytes (what a teller's sealed share holds)."""
        return bytes([self.index]) + self.value

    @property
    def code(self) -> str:
        """Return the share as text a teller can copy, save and type back."""
        return _frame(SHARE_PREFIX, self.raw)


def share_from_raw(raw: bytes) -> Share:
    """Read a share back from its 33 raw bytes."""
    if len(raw) != 33 or raw[0] == 0:
        raise ShareError("That is not a ballot share.")
    return Share(raw[0], raw[1:])


def _frame(prefix: str, raw: bytes) -> str:
    # Base 32 with a 4-byte check: survives being read aloud, mistypes are caught.
    check = hashlib.sha256(raw).digest()[:4]
    return f"{prefix}-" + base64.b32encode(raw + check).decode().rstrip("=")


def _unframe(prefix: str, code: str, length: int, what: str) -> bytes:
    text = "".join(code.split()).upper()
    found, _, body = text.partition("-")
    if found != prefix or not body:
        raise ShareError(f"That is not a {what}.")
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError:
        raise ShareError(f"That {what} has a character it cannot have.") from None
    data, check = raw[:length], raw[length:]
    if len(raw) != length + 4 or not hmac.compare_digest(hashlib.sha256(data).digest()[:4], check):
        raise ShareError(f"That {what} is mistyped or incomplete.")
    return data


def parse_share(code: str) -> Share:
    """Read a share code back, refusing one mistyped or not a share at all."""
    raw = _unframe(SHARE_PREFIX, code, 33, "ballot share code")
    return Share(raw[0], raw[1:33])


def make_teller_key() -> tuple[bytes, str]:
    """Make a teller's X25519 key pair; return (public, the private half as a code)."""
    private = PrivateKey.generate()
    return bytes(private.public_key), teller_code(bytes(private))


def teller_code(private: bytes) -> str:
    """Return a teller's private key as text they can copy, save and type back."""
    return _frame(TELLER_PREFIX, private)


def parse_teller_code(code: str) -> bytes:
    """Read a teller's code back to their 32-byte private key, refusing a mistyped one."""
    return _unframe(TELLER_PREFIX, code, 32, "teller code")


def teller_public(private: bytes) -> bytes:
    """Return the public half of a teller's private key."""
    return bytes(PrivateKey(private).public_key)


def seal_share(teller_key: bytes, share: Share) -> bytes:
    """Seal a share to its teller's public key: only their code opens it."""
    return SealedBox(PublicKey(teller_key)).encrypt(share.raw)


def open_share(private: bytes, sealed: bytes) -> Share:
    """Open a teller's sealed share with their private key, refusing another's key."""
    try:
        raw = SealedBox(PrivateKey(private)).decrypt(sealed)
    except CryptoError:
        raise ShareError("That code does not open this teller's share.") from None
    return share_from_raw(raw)


def commitment(ballot_salt: bytes, share: Share) -> str:
    """Return what the node keeps of a share: enough to recognise it, nothing to rebuild."""
    return hashlib.sha256(ballot_salt + bytes([share.index]) + share.value).hexdigest()


def make_key() -> tuple[bytes, bytes]:
    """Make a ballot's key pair; return (public, private), 32 bytes each."""
    private = PrivateKey.generate()
    return bytes(private.public_key), bytes(private)


def deal(private: bytes, k: int, n: int) -> list[Share]:
    """Split a private key into ``n`` shares, any ``k`` of which rebuild it."""
    if not 1 <= k <= n <= 32:
        raise ValueError("Need 1 <= k <= n <= 32 tellers.")
    halves = [Shamir.split(k, n, private[:16]), Shamir.split(k, n, private[16:])]
    return [
        Share(index, first + second)
        for (index, first), (_, second) in zip(halves[0], halves[1], strict=True)
    ]


def rebuild(shares: list[Share], public: bytes) -> bytes:
    """Rebuild the private key from ``k`` shares, checked against the ballot's public key."""
    if len({s.index for s in shares}) != len(shares):
        raise ShareError("The same share was given twice.")
    first = Shamir.combine([(s.index, s.value[:16]) for s in shares])
    second = Shamir.combine([(s.index, s.value[16:]) for s in shares])
    private = first + second
    if not hmac.compare_digest(bytes(PrivateKey(private).public_key), public):
        raise ShareError("These shares do not rebuild this ballot's key.")
    return private


def seal(public: bytes, choices: list[int]) -> bytes:
    """Seal a paper's choices to a ballot's public key, padded to one length."""
    text = json.dumps(list(choices), separators=(",", ":")).encode()
    if len(text) > PAPER_BYTES:
        raise ValueError("Too many choices for one paper.")
    return SealedBox(PublicKey(public)).encrypt(text + b" " * (PAPER_BYTES - len(text)))


def open_paper(box: SealedBox, sealed: bytes) -> list[int] | None:
    """Read a sealed paper; return its choices, or None when it is spoilt."""
    try:
        choices = json.loads(box.decrypt(sealed))
    except (CryptoError, ValueError):
        return None
    if not isinstance(choices, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in choices
    ):
        return None
    return choices


def opener(private: bytes) -> SealedBox:
    """Return the box that opens papers sealed to ``private``'s public key."""
    return SealedBox(PrivateKey(private))


def tracker(sealed: bytes) -> str:
    """Return a sealed paper's tracker: the hash a member checks in the ballot box."""
    return hashlib.sha256(sealed).hexdigest()
