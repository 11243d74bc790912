"""A `map` over a list of tasks, in this process or in spawned worker processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]


@contextmanager
def mapper(n_jobs: int) -> Iterator[Mapper]:
    """A `map` over a list, in `n_jobs` spawned processes when above 1.

    The mapped function must be a top-level (picklable) one.
    """
    if n_jobs <= 1:
        yield lambda func, items: [func(item) for item in items]
        return
    with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn")) as pool:
        yield lambda func, items: list(pool.map(func, items, chunksize=max(1, len(items) // (n_jobs * 64))))
