"""Deterministic bad rows: about 0.2% of each usage file, one defect per row."""

from __future__ import annotations

import numpy as np

OK, UNPARSABLE, MISSING_REQUIRED, NEGATIVE_QUANTITY = 0, 1, 2, 3
KIND_NAMES = {
    UNPARSABLE: "unparsable",
    MISSING_REQUIRED: "missing_required",
    NEGATIVE_QUANTITY: "negative_quantity",
}
ALL_KINDS = (UNPARSABLE, MISSING_REQUIRED, NEGATIVE_QUANTITY)
BAD_SHARE = 0.002
MIN_ROWS_FOR_DEFECT = 50


def assign_defects(
    rng: np.random.Generator, n: int, kinds: tuple[int, ...] = ALL_KINDS, eligible: np.ndarray | None = None
) -> np.ndarray:
    """Defect code per row (OK for clean rows); kinds rotate from a random offset so they stay balanced."""
    codes = np.zeros(n, dtype=np.int8)
    pool = np.arange(n) if eligible is None else np.flatnonzero(eligible)
    wanted = max(1 if n >= MIN_ROWS_FOR_DEFECT else 0, round(BAD_SHARE * n))
    k = min(wanted, pool.size)
    rows = rng.choice(pool, k, replace=False) if k else pool[:0]
    offset = int(rng.integers(0, len(kinds)))
    codes[rows] = np.asarray(kinds, dtype=np.int8)[(offset + np.arange(k)) % len(kinds)]
    return codes


def defect_counts(codes: np.ndarray) -> dict[str, int]:
    """Manifest bad_rows entry for a file."""
    counts = np.bincount(codes, minlength=4)
    return {name: int(counts[code]) for code, name in KIND_NAMES.items()}


def no_defects() -> dict[str, int]:
    """bad_rows entry of a file without defects."""
    return dict.fromkeys(KIND_NAMES.values(), 0)
