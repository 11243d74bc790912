"""Write exports.focus_cost_and_usage to a FOCUS file (Parquet or CSV), streamed by DuckDB's COPY.

The rows never pass through Python: DuckDB reads the lake and writes the file batch by batch, so memory stays
bounded whatever the span. CSV carries date/times in the FOCUS form (`2025-08-01T16:00:00Z`, UTC) and lists
as `;`-joined text; Parquet keeps them typed (UTC timestamps). The file appears whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb

from assets.dictionary.sources import is_sample
from warehouse.ducklake import qualified
from warehouse.lake import sql_str

EXPORT_TABLE = "exports.focus_cost_and_usage"
FORMATS = ("parquet", "csv")
FOCUS_DATETIME = "%Y-%m-%dT%H:%M:%SZ"


def export_query(
    con: duckdb.DuckDBPyConnection,
    start: dt.date | None = None,
    end: dt.date | None = None,
    fmt: str = "parquet",
    samples: bool = False,
) -> str:
    """The export's rows charged on Asia/Shanghai days `start`..`end` (inclusive), the reference samples' only
    if `samples`, with each column as the format wants it."""
    table = qualified(EXPORT_TABLE)
    columns = con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
    selected = []
    for name, sql_type, *_ in columns:
        ident = f'"{name}"'
        if fmt == "csv" and sql_type == "TIMESTAMP WITH TIME ZONE":
            selected.append(f"strftime(timezone('UTC', {ident}), '{FOCUS_DATETIME}') AS {ident}")
        elif fmt == "csv" and sql_type.endswith("[]"):
            selected.append(f"array_to_string({ident}, ';') AS {ident}")
        else:
            selected.append(ident)
    where = ["TRUE"]
    if start:
        where.append(f"x_ChargeDate >= DATE {sql_str(start.isoformat())}")
    if end:
        where.append(f"x_ChargeDate <= DATE {sql_str(end.isoformat())}")
    if not samples:
        where.append(f"NOT {is_sample('source', 'x_SourceName')}")
    return f"SELECT {', '.join(selected)} FROM {table} WHERE {' AND '.join(where)}"


def write_focus_file(con: duckdb.DuckDBPyConnection, query: str, path: Path, fmt: str) -> int:
    """Stream `query` into `path` (written beside it, then renamed into place); the rows written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
    try:
        rows = con.execute(f"COPY ({query}) TO {sql_str(str(partial))} ({options})").fetchone()
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return int(rows[0]) if rows else 0
