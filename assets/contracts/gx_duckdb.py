"""Run Great Expectations' SQL execution engine on DuckDB (through duckdb-engine) without losing results.

duckdb-engine's DBAPI cursor is the DuckDB connection itself, which holds one lazily streamed result. GX's
SqlAlchemyExecutionEngine returns a query's result after leaving its `with engine.connect()` block, and the
rollback SQLAlchemy issues when that block closes discards DuckDB's pending result, so every metric comes back
empty. The dialect below leaves DuckDB in its own autocommit mode (no BEGIN, ROLLBACK or COMMIT from
SQLAlchemy), so a result survives until GX fetches it. Validation only reads, so no transaction is needed.

GX picks its regex operators by dialect and knows none for DuckDB; `enable_regex` lets it emit PostgreSQL's
`~` / `!~`, which DuckDB implements with the same (search) semantics.
"""

from __future__ import annotations

import types

import duckdb_engine
import sqlalchemy
from sqlalchemy.dialects import postgresql, registry

URL_SCHEME = "duckdb+computeflow"


class AutocommitDuckDBDialect(duckdb_engine.Dialect):
    """duckdb-engine without SQLAlchemy-managed transactions."""

    supports_statement_cache = False

    def do_begin(self, dbapi_connection: object) -> None:
        """No explicit BEGIN: DuckDB autocommits."""

    def do_rollback(self, dbapi_connection: object) -> None:
        """No ROLLBACK: it would discard the pending result."""

    def do_commit(self, dbapi_connection: object) -> None:
        """Nothing to commit."""


registry.register("duckdb.computeflow", __name__, "AutocommitDuckDBDialect")


class _PostgresLikeDialect(AutocommitDuckDBDialect, postgresql.dialect):
    """Only for GX's dialect checks (regex syntax); never instantiated."""

    supports_statement_cache = False


class _DialectModule(types.ModuleType):
    dialect = _PostgresLikeDialect

    def __getattr__(self, name: str) -> object:
        return getattr(sqlalchemy, name)


def enable_regex(datasource: object) -> None:
    """Let a GX SQL datasource on DuckDB compile regex expectations (call after creating it)."""
    datasource.get_execution_engine().dialect_module = _DialectModule("computeflow_duckdb_dialect")
