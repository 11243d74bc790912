"""Writing landing files through fsspec and keeping the manifest."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from typing import Any

import fsspec
import polars as pl

from .defects import no_defects

MANIFEST_NAME = "_demo_manifest.json"


def csv_text(frame: pl.DataFrame, **options: Any) -> str:
    """A frame as CSV text (nulls empty); options go to `DataFrame.write_csv`."""
    return frame.write_csv(None, **options)


class Landing:
    """The landing zone: writes files under one fsspec root and records them for the manifest."""

    def __init__(self, url: str, on_file: Callable[[str, int], None] | None = None) -> None:
        self.fs, root = fsspec.core.url_to_fs(url)
        self.root = root.rstrip("/") or root
        self.on_file = on_file
        self.files: list[dict[str, Any]] = []
        self._dirs: set[str] = set()

    def put(self, rel: str, data: bytes) -> None:
        """Store one file's bytes (safe to call from worker threads; nothing is recorded)."""
        path = posixpath.join(self.root, rel)
        parent = posixpath.dirname(path)
        if parent not in self._dirs:
            self.fs.makedirs(parent, exist_ok=True)
            self._dirs.add(parent)
        with self.fs.open(path, "wb") as f:
            f.write(data)

    def record(self, rel: str, source: str, rows: int, bad_rows: dict[str, int] | None = None) -> None:
        """Add a stored file to the manifest and report it to `on_file`."""
        self.files.append({"path": rel, "source": source, "rows": rows, "bad_rows": bad_rows or no_defects()})
        if self.on_file is not None:
            self.on_file(rel, rows)

    def write(
        self, rel: str, data: bytes, source: str, rows: int, bad_rows: dict[str, int] | None = None
    ) -> None:
        """Store and record one file."""
        self.put(rel, data)
        self.record(rel, source, rows, bad_rows)

    def write_csv(self, rel: str, frame: pl.DataFrame, source: str, **options: Any) -> None:
        """Write a plain UTF-8 CSV (LF line ends, header row)."""
        self.write(rel, csv_text(frame, **options).encode("utf-8"), source, frame.height)

    def manifest(self, header: dict[str, Any]) -> dict[str, Any]:
        """Manifest document: run arguments, files in write order and row totals per source."""
        totals: dict[str, int] = {}
        for f in self.files:
            totals[f["source"]] = totals.get(f["source"], 0) + f["rows"]
        return {**header, "files": list(self.files), "totals": totals}

    def write_manifest(self, header: dict[str, Any]) -> dict[str, Any]:
        """Write `_demo_manifest.json` at the landing root and return it."""
        doc = self.manifest(header)
        self.put(MANIFEST_NAME, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        if self.on_file is not None:
            self.on_file(MANIFEST_NAME, len(doc["files"]))
        return doc
