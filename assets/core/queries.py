"""SQL that builds the core tables from ingest-layer lake files."""

from __future__ import annotations

import duckdb

from assets.ingest.dedup import source_rows
from assets.ingest.spec import SourceSpec


def union_sources(
    con: duckdb.DuckDBPyConnection, specs: list[SourceSpec], kind: str, partitions: list[str] | None = None
) -> str | None:
    """Loaded rows of every source of a kind, each deduplicated on its spec's keys (latest file wins)."""
    parts = [p for s in specs if s.kind == kind and (p := source_rows(con, s, partitions))]
    return " UNION ALL ".join(f"({p})" for p in parts) if parts else None


def transfers_query(union: str) -> str:
    """core.data_transfers in start order."""
    return f"SELECT * FROM ({union}) ORDER BY start_time, transfer_id, source_name"


def vouchers_query(union: str) -> str:
    """core.vouchers ordered by id."""
    return f"SELECT * FROM ({union}) ORDER BY voucher_id, source_name"
