"""Seeds derived from named parts, so every random draw has an address.

A run never draws from one long global stream: a crash would lose the stream's position and a
resumed run would draw different numbers. Instead each unit of work (a training epoch, a scoring
chunk) seeds its own generator from (run seed, round, phase, epoch|chunk), and a resumed unit draws
exactly what the uninterrupted run drew.
"""

from __future__ import annotations

import hashlib


def derive_seed(*parts: int | str) -> int:
    """A stable 63-bit seed from `parts`: the same parts give the same seed in every process.

    Python's `hash()` is salted per process for strings, so a keyed cryptographic hash of a
    type-tagged encoding is used instead. The tag keeps `derive_seed(1)` and `derive_seed("1")`
    apart; the separator keeps `("ab", "c")` and `("a", "bc")` apart.
    """
    encoded = "\x1f".join(f"{type(p).__name__}:{p}" for p in parts).encode()
    digest = hashlib.blake2b(encoded, digest_size=8, person=b"gltui-seed").digest()
    return int.from_bytes(digest, "little") >> 1  # < 2**63: fits torch's and numpy's seed range
