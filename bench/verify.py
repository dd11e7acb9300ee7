"""Signed feed entries verified per second: federation.feed.verify_run against raw Ed25519.

One process, 5,000 entries of one feed. "raw" is the cryptography library's Ed25519 verify
on the same signatures and the same signed bytes, precomputed, so it is the floor no
verifier can beat; federation also canonicalises (RFC 8785), hashes and checks the chain.
Target: federation >= 0.6x raw. Raw and federation are timed alternately, --rounds times,
and the median ratio is reported, so a busy machine slows both sides alike.

    .venv/bin/python bench/verify.py [--entries 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402

from federation import proofs  # noqa: E402
from federation.feed import build_entry, verify_run  # noqa: E402
from federation.multibase import multibase_decode  # noqa: E402

ACTOR = "https://leeds.branchline.test/actor"
TARGET = 0.6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key()
    method = f"{ACTOR}#ed25519-key"
    entries, previous = [], None
    for seq in range(1, args.entries + 1):
        activity = {
            "id": f"{ACTOR}/activities/{seq}",
            "type": "Create",
            "actor": ACTOR,
            "object": {"id": f"{ACTOR}/events/{seq}", "type": "Event", "name": f"Canvass {seq}"},
        }
        previous = build_entry(
            activity,
            seq=seq,
            previous=previous,
            signing_key=key,
            verification_method=method,
            created=datetime(2026, 11, 1, tzinfo=UTC),
        )
        entries.append(previous)

    signed = []
    for entry in entries:
        options = {k: v for k, v in entry["proof"].items() if k != "proofValue"}
        unsecured = {k: v for k, v in entry.items() if k != "proof"}
        signed.append(
            (multibase_decode(entry["proof"]["proofValue"]), proofs._hash_data(options, unsecured))
        )

    def lookup(key_id: str) -> ed25519.Ed25519PublicKey | None:
        return public if key_id == method else None

    rounds: list[tuple[float, float]] = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        for signature, data in signed:
            public.verify(signature, data)
        raw = len(signed) / (time.perf_counter() - started)

        started = time.perf_counter()
        report = verify_run(entries, actor=ACTOR, lookup_key=lookup)
        ours = len(entries) / (time.perf_counter() - started)
        assert report.ok and report.verified == len(entries), report.problem
        rounds.append((raw, ours))

    raw, ours = statistics.median(r for r, _ in rounds), statistics.median(o for _, o in rounds)
    ratio = statistics.median(o / r for r, o in rounds)
    print(f"entries: {len(entries)}, rounds: {args.rounds} (medians)")
    print(f"raw Ed25519 verify: {raw:,.0f}/s")
    print(f"federation verify_run (proof + JCS + chain): {ours:,.0f}/s")
    print(
        f"ratio: {ratio:.2f}x raw (target >= {TARGET}x: {'met' if ratio >= TARGET else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
