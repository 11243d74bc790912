"""Deterministic random streams: one independent generator per (source, index)."""

from __future__ import annotations

import zlib

import numpy as np

# Keeps SeedSequence entropy non-negative for indices before the start day (jobs carried over).
_INDEX_OFFSET = 100_000


def source_key(source: str) -> int:
    """Stable 32-bit key of a source name (crc32, independent of PYTHONHASHSEED)."""
    return zlib.crc32(source.encode("utf-8"))


def rng_for(seed: int, source: str, index: int = 0) -> np.random.Generator:
    """Generator for one source and one index (usually a day), independent of every other pair."""
    if seed < 0:
        raise ValueError("seed must be non-negative")
    entropy = [seed, source_key(source), index + _INDEX_OFFSET]
    return np.random.default_rng(np.random.SeedSequence(entropy))
