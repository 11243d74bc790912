"""Locations as fsspec URLs (the landing zone), SQL quoting, and small DuckDB helpers."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterable
from urllib.parse import urlsplit

import duckdb
import fsspec
from fsspec.implementations.local import LocalFileSystem


def sql_str(value: str) -> str:
    """Quote a value as a SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_values(values: Iterable[str]) -> str:
    """Quote values as comma-separated SQL string literals, e.g. 'a', 'b' (for IN (...))."""
    return ", ".join(map(sql_str, values))


def sql_dates(dates: Iterable[dt.date]) -> str:
    """Dates as comma-separated SQL DATE literals in order, e.g. DATE '2025-08-01' (for IN (...)); NULL when there
    are none (an IN list that matches nothing)."""
    return ", ".join(f"DATE {sql_str(d.isoformat())}" for d in sorted(dates)) or "NULL"


def sql_array(values: Iterable[str]) -> str:
    """Quote values as a SQL list of string literals, e.g. ['a', 'b'] (a list of files for a reader)."""
    return f"[{sql_values(values)}]"


def sql_ident(name: str) -> str:
    """Quote a name as a SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def process_alive(pid: int) -> bool:
    """Whether a process id is alive on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphans(directory: str) -> int:
    """Delete entries named '<pid>-...' in a directory whose process is gone (left by a killed run)."""
    removed = 0
    if not os.path.isdir(directory):
        return removed
    for name in os.listdir(directory):
        pid = name.split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            path = os.path.join(directory, name)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)
            removed += 1
    return removed


def reject_embedded_credentials(url: str) -> None:
    """Refuse URLs that carry a user or secret: credentials come from the environment only."""
    netloc = urlsplit(url).netloc if "://" in url else ""
    if "@" in netloc:
        scheme = url.split("://", 1)[0]
        raise ValueError(
            f"{scheme}:// URL with credentials refused: give storage credentials through the environment "
            "(for s3://, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_ENDPOINT_URL), never in a URL"
        )


class Location:
    """A root URL (local path, file://, s3://, memory://) with helpers to address files under it."""

    def __init__(self, url: str) -> None:
        reject_embedded_credentials(url)
        self.url = url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.is_local = isinstance(self.fs, LocalFileSystem)

    @property
    def on_s3(self) -> bool:
        """Whether the location is on an S3-protocol store."""
        return self.url.startswith(("s3://", "s3a://"))

    def contains(self, path: str) -> bool:
        """Whether a path stays inside the root once symlinks are resolved (always true for object stores)."""
        if not self.is_local:
            return True
        root = os.path.realpath(self.root)
        return os.path.commonpath([root, os.path.realpath(path)]) == root

    def path(self, relative: str) -> str:
        """Filesystem path (without protocol) of a file under the root."""
        return f"{self.root}/{relative.lstrip('/')}"

    def relative(self, path: str) -> str:
        """Path of a file relative to the root."""
        return path[len(self.root) :].lstrip("/") if path.startswith(self.root) else path

    def duckdb_path(self, path: str) -> str:
        """The name DuckDB reads a file by: a local path, or a URL (s3:// through DuckDB's own S3 client, other
        protocols through the registered fsspec filesystem)."""
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def listing(self, paths: Iterable[str]) -> str:
        """A SQL list literal of files under this location, as DuckDB reads them."""
        return sql_array(self.duckdb_path(p) for p in paths)

    def listing_info(self, pattern: str) -> dict[str, dict]:
        """Path -> listing entry (size, modification time) of the files matching a glob relative to the root,
        sorted by path (one listing per prefix on an object store, no request per file)."""
        found = self.fs.glob(self.path(pattern), detail=True)
        return {p: found[p] for p in sorted(found) if found[p].get("type") != "directory"}

    def glob(self, pattern: str) -> list[str]:
        """Sorted paths of the files matching a glob relative to the root."""
        return list(self.listing_info(pattern))

    def exists(self, relative: str) -> bool:
        """Whether a file exists under the root."""
        return self.fs.exists(self.path(relative))

    def remove(self, relative: str) -> None:
        """Delete a file if it exists."""
        path = self.path(relative)
        if self.fs.exists(path):
            self.fs.rm(path)

    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        """Let DuckDB read this location's files through fsspec when it is not local."""
        if not self.is_local and not con.filesystem_is_registered(
            self.fs.protocol[0] if isinstance(self.fs.protocol, tuple) else self.fs.protocol
        ):
            con.register_filesystem(self.fs)


def copy_to_parquet(con: duckdb.DuckDBPyConnection, query: str, local_path: str) -> None:
    """COPY a query to a local scratch Parquet file (order preserved; lz4, the cheapest codec to write, since
    a staged file is read once or twice and then dropped)."""
    con.execute(
        f"COPY ({query}) TO {sql_str(local_path)} (FORMAT parquet, COMPRESSION lz4_raw, ROW_GROUP_SIZE 122880)"
    )


def first_row(con: duckdb.DuckDBPyConnection, query: str) -> tuple | None:
    """The first row of a query, with the result fully consumed (the connection is free afterwards)."""
    rows = con.execute(query).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, query: str) -> object:
    """The single value of a one-row, one-column query."""
    row = first_row(con, query)
    return row[0] if row else None
