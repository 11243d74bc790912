"""Where the contract suites live and what they say, readable without importing Great Expectations."""

from __future__ import annotations

import json
from pathlib import Path

from assets.tables import TABLES
from warehouse.settings import REPO_ROOT

SUITES_DIR = REPO_ROOT / "data_contracts" / "expectations"


def suite_paths(directory: Path = SUITES_DIR) -> dict[str, Path]:
    """Suite files by table name (`<schema>.<table>.json`)."""
    return {p.stem: p for p in sorted(directory.glob("*.json"))}


def suite_document(path: Path) -> dict:
    """The JSON of a suite file; a suite for a table the warehouse does not have names the file."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if path.stem not in TABLES:
        raise ValueError(f"{path}: no warehouse table {path.stem!r} (known: {', '.join(sorted(TABLES))})")
    return document
