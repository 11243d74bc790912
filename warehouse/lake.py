"""Lake path handling: fsspec URLs, atomic Parquet writes from DuckDB, and scans of lake files."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from urllib.parse import urlsplit

import duckdb
import fsspec
from fsspec.implementations.local import LocalFileSystem


def sql_str(value: str) -> str:
    """Quote a value as a SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """Quote a name as a SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


TMP_DIR = ".tmp"


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
        """The name DuckDB reads a file by: a local path, or a URL served by the registered fsspec fs."""
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def listing(self, paths: Iterable[str]) -> str:
        """A SQL list literal of files under this location, as DuckDB reads them."""
        return "[" + ", ".join(sql_str(self.duckdb_path(p)) for p in paths) + "]"

    def glob(self, pattern: str) -> list[str]:
        """Sorted paths of the files matching a glob relative to the root."""
        return sorted(p for p in self.fs.glob(self.path(pattern)) if not self.fs.isdir(p))

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

    def move_in(self, local_path: str, relative: str) -> None:
        """Put a finished local file at `relative`, atomically: a rename on local disk (the file must be on the
        lake's filesystem), one object upload elsewhere. Readers see the old file or the new one, never half."""
        final = self.path(relative)
        if self.is_local:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(local_path, final)
        else:
            self.fs.makedirs(os.path.dirname(final), exist_ok=True)
            self.fs.put_file(local_path, final)

    def snapshot(self, source: str, relative: str) -> None:
        """Make `relative` a frozen copy of the file at path `source` (same location), atomically.

        On local disk this is a hard link, so no bytes are copied; later replacements of the source (which
        are renames) leave the snapshot as it was. Object stores copy server-side.
        """
        final = self.path(relative)
        if not self.is_local:
            self.fs.makedirs(os.path.dirname(final), exist_ok=True)
            self.fs.copy(source, final)
            return
        os.makedirs(os.path.dirname(final), exist_ok=True)
        if os.path.exists(final) and os.path.samefile(source, final):
            return
        tmp = os.path.join(self.path(TMP_DIR), f"{os.getpid()}-{uuid.uuid4().hex}.parquet")
        os.makedirs(os.path.dirname(tmp), exist_ok=True)
        os.link(source, tmp)
        os.replace(tmp, final)

    def write_query(self, con: duckdb.DuckDBPyConnection, query: str, relative: str) -> None:
        """Write the result of a query as one Parquet file under `relative`, atomically (see move_in)."""
        # Written under the lake's .tmp (which no table glob reaches) so a crash leaves no partial file where
        # readers look; object stores get a local temporary file.
        scratch = self.path(TMP_DIR) if self.is_local else tempfile.mkdtemp(prefix="computeflow-")
        os.makedirs(scratch, exist_ok=True)
        tmp = os.path.join(scratch, f"{os.getpid()}-{uuid.uuid4().hex}.parquet")
        try:
            copy_to_parquet(con, query, tmp)
            self.move_in(tmp, relative)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
            if not self.is_local:
                shutil.rmtree(scratch, ignore_errors=True)


def copy_to_parquet(con: duckdb.DuckDBPyConnection, query: str, local_path: str) -> None:
    """COPY a query to a local Parquet file (zstd, order preserved)."""
    con.execute(
        f"COPY ({query}) TO {sql_str(local_path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
    )


def parquet_scan(location: Location, paths: Iterable[str], empty_select: str) -> str:
    """A FROM-clause source over lake files, or a typed empty select when there are none."""
    files = list(paths)
    if not files:
        return f"({empty_select} LIMIT 0)"
    return f"read_parquet({location.listing(files)}, union_by_name = true)"


def first_row(con: duckdb.DuckDBPyConnection, query: str) -> tuple | None:
    """The first row of a query, with the result fully consumed (the connection is free afterwards)."""
    rows = con.execute(query).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, query: str) -> object:
    """The single value of a one-row, one-column query."""
    row = first_row(con, query)
    return row[0] if row else None


def parquet_rows(con: duckdb.DuckDBPyConnection, location: Location, relative: str) -> int:
    """Rows in one Parquet file of a location."""
    return int(
        scalar(
            con,
            f"SELECT count(*) FROM read_parquet({sql_str(location.duckdb_path(location.path(relative)))})",
        )
    )
