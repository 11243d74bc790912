"""Dagster concurrency pools: one writer per lake table at a time across runs, writers of different tables at once."""

from __future__ import annotations

import dagster as dg


def write_pool(key: dg.AssetKey | str) -> str:
    """The pool of the step that writes the table of asset `key` (or of a named group of tables)."""
    return "lake/" + (key if isinstance(key, str) else "/".join(key.path))
