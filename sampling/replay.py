"""Verify a published draw from public material only: the round's public record and its pool file.

Anyone holding the public JSON of a round (``/api/v1/public/rounds/<id>``) and its pool file
(``…/pool.csv``: ``key,stratum,weight,forced,excluded``) can check, without the bureau's
database or server:

1. the revealed seed matches the commitment published before the draw;
2. the pool file matches the digest fixed at the draw;
3. re-running the draw on the file with the seed picks exactly the rows whose keys are
   ``sha256(salt:USCC)`` of the published entities.

This module is pure (numpy, :mod:`sampling`); ``shuangsui draw verify`` wraps it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sampling.draw import DrawResult, pps_sample, stratified_sample
from sampling.seed import pool_digest, rng_from_seed, unit_keys, verify

__all__ = ["PublicPool", "draw_for_design", "parse_pool_csv", "verify_publication"]

#: Stratum codes of credit-stratified rounds: the position of the grade in "ABCD".
GRADE_STRATA = {g: i for i, g in enumerate("ABCD")}


@dataclass
class PublicPool:
    """The columns of a published pool file, in draw order."""

    keys: np.ndarray
    strata: np.ndarray
    weights: np.ndarray
    forced: np.ndarray
    excluded: np.ndarray

    def digest(self) -> str:
        return pool_digest(self.keys, self.strata, self.weights, self.forced, self.excluded)


def parse_pool_csv(text: str) -> PublicPool:
    """Read a published pool file (header ``key,stratum,weight,forced,excluded``).

    Raises
    ------
    ValueError
        When the header or a value is not what the format says.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header != ["key", "stratum", "weight", "forced", "excluded"]:
        raise ValueError(f"pool file header should be key,stratum,weight,forced,excluded, not {header}")
    rows = [r for r in reader if r]
    cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    return PublicPool(np.array(cols[0], dtype=str), np.array(cols[1], dtype=np.int64),
                      np.array(cols[2], dtype=np.float64), np.array(cols[3], dtype=np.int64) == 1,
                      np.array(cols[4], dtype=np.int64) == 1)


def draw_for_design(design: str, ratios: Mapping[str, float], strata: np.ndarray, weights: np.ndarray,
                    forced: np.ndarray, excluded: np.ndarray, seed: str, *, purpose: str) -> DrawResult:
    """The draw of a round design as a pure function of the pool columns and the seed.

    Parameters
    ----------
    design : {"stratified", "uniform", "pps"}
        Credit-stratified simple random sampling, one simple random sample, or πps.
    ratios : mapping
        Grade ("A"–"D") → ratio for ``stratified``; ``{"overall": r}`` otherwise.
    strata, weights, forced, excluded : ndarray
        The pool columns, in draw order.
    seed : str
        The revealed seed.
    purpose : str
        The generator's purpose tag (``"round:<id>:entities"``).
    """
    rng = rng_from_seed(seed, purpose=purpose)
    if design == "stratified":
        return stratified_sample(strata, {GRADE_STRATA[g]: float(r) for g, r in ratios.items()}, forced=forced,
                                 excluded=excluded, rng=rng)
    if design == "uniform":
        return stratified_sample(np.zeros(len(strata), dtype=np.int64), {0: float(ratios["overall"])},
                                 forced=forced, excluded=excluded, rng=rng)
    if design == "pps":
        eligible = int((~excluded).sum())
        k = min(eligible, int(round(float(ratios["overall"]) * eligible)) + int((forced & ~excluded).sum()))
        return pps_sample(weights, k, forced=forced, excluded=excluded, rng=rng)
    raise ValueError(f"unknown design {design!r}")


def verify_publication(record: Mapping[str, Any], pool: PublicPool) -> dict[str, Any]:
    """Check a published round against its pool file; every check from public data only.

    ``record`` is the round's public JSON: ``id``, ``design_code``, ``ratios`` (list of
    ``{"stratum", "ratio"}``), ``seed``, ``seed_commitment``, ``pool_digest`` and
    ``entities`` (each with ``uscc`` and ``replay_salt``).
    """
    seed = record.get("seed") or ""
    ratios = {r["stratum"]: r["ratio"] for r in record.get("ratios", [])}
    entities: Sequence[Mapping[str, Any]] = record.get("entities", [])
    digest = pool.digest()
    replayed: set[str] = set()
    if seed:
        result = draw_for_design(str(record["design_code"]), ratios, pool.strata, pool.weights, pool.forced,
                                 pool.excluded, seed, purpose=f"round:{record['id']}:entities")
        replayed = set(pool.keys[result.indices].tolist())
    salted = [e for e in entities if e.get("replay_salt")]
    published = set(unit_keys([e["uscc"] for e in salted], [e["replay_salt"] for e in salted]).tolist())
    return {
        "round": record.get("id"),
        "seed_matches_commitment": bool(seed) and verify(seed, str(record.get("seed_commitment") or "")),
        "pool_digest": digest, "pool_digest_matches": digest == record.get("pool_digest"),
        "drawn": len(entities), "replayed": len(replayed),
        "draw_matches": bool(seed) and len(salted) == len(entities) and replayed == published,
    }
