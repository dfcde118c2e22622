"""Verifiable randomness for draws: commit to a secret seed, draw, reveal, replay.

Before a draw the round publishes ``commit(seed)`` (a SHA-256 hash); after the draw it
reveals ``seed``. Anyone holding the published pool snapshot (checked against its
``pool_digest``) and the seed derives the same generators with :func:`rng_from_seed`
and replays the draw to the identical list.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["commit", "new_salts", "new_seed", "pool_digest", "rng_from_seed", "unit_keys", "verify"]

_DOMAIN = b"shuangsui/draw-seed/v1:"
_UNIT_DOMAIN = b"shuangsui/pool-unit/v1:"


def new_seed() -> str:
    """A fresh 256-bit secret seed as 64 hex characters."""
    return secrets.token_hex(32)


def _check(seed: str) -> bytes:
    try:
        raw = bytes.fromhex(seed)
    except ValueError:
        raise ValueError("seed must be a hex string") from None
    if len(raw) < 16:
        raise ValueError("seed must carry at least 128 bits")
    return raw


def commit(seed: str) -> str:
    """The public commitment to ``seed``: ``sha256("shuangsui/draw-seed/v1:" + seed bytes)``.

    Examples
    --------
    >>> len(commit("00" * 32))
    64
    """
    return hashlib.sha256(_DOMAIN + _check(seed)).hexdigest()


def verify(seed: str, commitment: str) -> bool:
    """Whether ``seed`` is the one committed to (constant-time comparison)."""
    try:
        return hmac.compare_digest(commit(seed), commitment.lower())
    except ValueError:
        return False


def pool_digest(uids: Sequence[str] | ArrayLike, *columns: ArrayLike) -> str:
    """SHA-256 over the pool snapshot in draw order: identifiers and design columns.

    Each column is hashed in a canonical form (int64, float64 or bool, little-endian),
    so a snapshot re-read from JSON gives the same digest.

    Examples
    --------
    >>> pool_digest(["A", "B"], [0, 1]) == pool_digest(("A", "B"), np.array([0, 1], dtype=np.int8))
    True
    """
    h = hashlib.sha256()
    ids = [str(u) for u in np.asarray(uids, dtype=object).tolist()]
    h.update(len(ids).to_bytes(8, "little"))
    h.update("\n".join(ids).encode("utf-8"))
    for col in columns:
        arr = np.asarray(col)
        if arr.dtype == bool:
            canon = arr.astype("<u1")
        elif np.issubdtype(arr.dtype, np.integer):
            canon = arr.astype("<i8")
        else:
            canon = arr.astype("<f8")
        if len(canon) != len(ids):
            raise ValueError(f"column has {len(canon)} values for {len(ids)} units")
        h.update(b"|" + canon.dtype.str.encode() + b"|")
        h.update(canon.tobytes())
    return h.hexdigest()


def new_salts(n: int) -> np.ndarray:
    """``n`` fresh 128-bit salts as 32 hex characters each, one per pool unit."""
    return np.array([secrets.token_hex(16) for _ in range(n)], dtype="<U32")


def unit_keys(uids: Sequence[str] | ArrayLike, salts: Sequence[str] | ArrayLike) -> np.ndarray:
    """Hiding, binding keys of pool units: ``sha256("shuangsui/pool-unit/v1:" + salt + ":" + uid)``.

    A published pool lists each unit by its key only: without the unit's salt nobody can
    tell which entity a row is (so the stratum and weight of an entity that was not drawn
    stay private), while a drawn entity's published salt lets anyone check that the
    row the replayed draw picked is that entity.

    Examples
    --------
    >>> k = unit_keys(["91330100MA0000000X"], ["00" * 16])
    >>> k.shape, len(k[0])
    ((1,), 64)
    >>> bool(unit_keys(["A"], ["01" * 16])[0] == unit_keys(["A"], ["02" * 16])[0])
    False
    """
    ids = np.asarray(uids, dtype=object).tolist()
    salt_list = np.asarray(salts, dtype=object).tolist()
    if len(ids) != len(salt_list):
        raise ValueError(f"{len(salt_list)} salts for {len(ids)} units")
    return np.array([hashlib.sha256(_UNIT_DOMAIN + str(s).encode() + b":" + str(u).encode("utf-8")).hexdigest()
                     for u, s in zip(ids, salt_list, strict=True)], dtype="<U64")


def rng_from_seed(seed: str, *, purpose: str) -> np.random.Generator:
    """An independent, reproducible generator per ``purpose`` ("entities", "inspectors", …).

    Examples
    --------
    >>> a = rng_from_seed("ab" * 32, purpose="entities").random()
    >>> b = rng_from_seed("ab" * 32, purpose="entities").random()
    >>> c = rng_from_seed("ab" * 32, purpose="inspectors").random()
    >>> a == b and a != c
    True
    """
    raw = _check(seed)
    tag = hashlib.sha256(purpose.encode("utf-8")).digest()
    entropy = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, len(raw), 4)]
    spawn = [int.from_bytes(tag[i:i + 4], "little") for i in range(0, 16, 4)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=spawn)))
