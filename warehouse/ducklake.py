"""The lake as a DuckLake: a SQL catalog (SQLite file or PostgreSQL) plus Parquet data on any storage.

Every connection that reads or writes the lake attaches it as the database `lake`; writers commit through
`commit()` (one DuckLake transaction, tagged with the refresh's run id), readers attach it read-only and see
the latest committed snapshot (or a past one, by version or time).

DuckDB extensions come from the installed PyPI packages (`duckdb-extension-<name>==1.5.5`), never from the
network: `INSTALL '<path of the packaged binary>'` then `LOAD`.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import duckdb
from filelock import FileLock

from warehouse.lake import reject_embedded_credentials, sql_ident, sql_str

LAKE = "lake"
SCHEMAS = ("ingest", "audit", "core", "ref", "marts", "exports", "meta")
EXTENSION_PACKAGES = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",
}
RUN_ID_VARIABLE = "computeflow_run_id"
OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class LakeNotFoundError(RuntimeError):
    """The catalog does not exist yet (nothing has been refreshed)."""


def extension_path(name: str) -> str:
    """Path of a DuckDB extension binary inside its installed PyPI package."""
    package = EXTENSION_PACKAGES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            f"DuckDB extension {name} is not installed: pip install {package.replace('_', '-')}"
        )
    version = duckdb.__version__
    found = glob.glob(
        os.path.join(os.path.dirname(spec.origin), "extensions", f"v{version}", "*.duckdb_extension")
    )
    if not found:
        raise RuntimeError(f"{package} holds no extension for DuckDB {version}: pin both to the same version")
    return found[0]


def s3_secret_sql(env: dict[str, str] | None = None) -> str:
    """A DuckDB S3 secret from the standard AWS environment variables (credentials never live in a URL)."""
    env = dict(os.environ if env is None else env)
    options = ["TYPE s3"]
    for option, variable in (("KEY_ID", "AWS_ACCESS_KEY_ID"), ("SECRET", "AWS_SECRET_ACCESS_KEY")):
        if env.get(variable):
            options.append(f"{option} {sql_str(env[variable])}")
    if env.get("AWS_SESSION_TOKEN"):
        options.append(f"SESSION_TOKEN {sql_str(env['AWS_SESSION_TOKEN'])}")
    options.append(f"REGION {sql_str(env.get('AWS_DEFAULT_REGION') or env.get('AWS_REGION') or 'us-east-1')}")
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options += [
            f"ENDPOINT {sql_str(parts.netloc)}",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if parts.scheme == 'https' else 'false'}",
        ]
    return f"CREATE OR REPLACE SECRET computeflow_s3 ({', '.join(options)})"


def postgres_parts(url: str) -> dict[str, str | int | None]:
    """dbname, host, port and user of a postgresql:// URL (None where the URL gives none); a URL that carries
    a password is refused: it comes from PGPASSWORD only."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"not a postgresql:// URL: {url!r}")
    if parts.password:
        raise ValueError(
            "postgresql:// URL with a password refused: give it through PGPASSWORD, never in a URL"
        )
    return {
        "dbname": unquote(parts.path.lstrip("/")) or None,
        "host": parts.hostname,
        "port": parts.port,
        "user": unquote(parts.username) if parts.username else None,
    }


def _postgres_conninfo(url: str) -> str:
    """libpq key=value connection string of a postgresql:// URL (a password comes from PGPASSWORD)."""
    return " ".join(f"{k}={v}" for k, v in postgres_parts(url).items() if v)


@dataclass(frozen=True)
class LakeConfig:
    """Where the DuckLake catalog and its data live.

    catalog_url: a SQLite file path (embedded default; one writer and many readers at once) or a
    postgresql:// URL (many writers on many machines). data_url: a local directory or an s3:// URL.
    """

    catalog_url: str
    data_url: str

    def __post_init__(self) -> None:
        reject_embedded_credentials(self.data_url)

    @property
    def is_postgres(self) -> bool:
        """Whether the catalog is a PostgreSQL database."""
        return self.catalog_url.startswith(("postgres://", "postgresql://"))

    @property
    def on_s3(self) -> bool:
        """Whether the lake's data is on an S3-protocol store."""
        return self.data_url.startswith(("s3://", "s3a://"))

    def catalog_path(self) -> str | None:
        """The SQLite catalog's file path (None for PostgreSQL)."""
        if self.is_postgres:
            return None
        return self.catalog_url.removeprefix("sqlite:").removeprefix("//")

    def exists(self) -> bool:
        """Whether the catalog has been created (a PostgreSQL catalog is taken to exist)."""
        path = self.catalog_path()
        return path is None or os.path.exists(path)

    def attach_target(self) -> str:
        """The `ducklake:` string that ATTACH takes."""
        if self.is_postgres:
            return f"ducklake:postgres:{_postgres_conninfo(self.catalog_url)}"
        return f"ducklake:sqlite:{self.catalog_path()}"

    def data_path(self) -> str:
        """DATA_PATH of the lake (a trailing slash: a directory)."""
        return self.data_url.rstrip("/") + "/"

    def describe(self) -> dict[str, str]:
        """Catalog and data locations, for logs and metadata (no secrets)."""
        return {"catalog": self.catalog_url, "data": self.data_url}


def attach_statements(config: LakeConfig, read_only: bool = False, snapshot: int | None = None) -> list[str]:
    """The SQL that loads the extensions (from the installed packages) and attaches the lake as `lake`."""
    extensions = ["ducklake", "postgres_scanner" if config.is_postgres else "sqlite_scanner"]
    if config.on_s3:
        extensions.append("httpfs")
    statements = [
        s for name in extensions for s in (f"INSTALL {sql_str(extension_path(name))}", f"LOAD {name}")
    ]
    if config.on_s3:
        statements.append(s3_secret_sql())
    options = [f"DATA_PATH {sql_str(config.data_path())}"]
    if read_only:
        options.append("READ_ONLY")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    statements.append(f"ATTACH {sql_str(config.attach_target())} AS {LAKE} ({', '.join(options)})")
    return statements


def enable_s3(con: duckdb.DuckDBPyConnection) -> None:
    """Let DuckDB read and write s3:// paths with its own client (httpfs) and the environment's credentials."""
    for statement in (f"INSTALL {sql_str(extension_path('httpfs'))}", "LOAD httpfs", s3_secret_sql()):
        con.execute(statement)


# exact_sum(x): a sum of floating-point hours that does not depend on the summation order (each value as a
# decimal of 9 places, summed exactly, rounded to 6), so that a re-run of a mart gives byte-identical numbers.
MACROS = ("CREATE OR REPLACE MACRO exact_sum(x) AS CAST(round(sum(CAST(x AS DECIMAL(38,9))), 6) AS DOUBLE)",)


def attach(
    con: duckdb.DuckDBPyConnection, config: LakeConfig, read_only: bool = False, snapshot: int | None = None
) -> None:
    """Attach the lake as `lake` on a connection (with the MACROS in its own database); a writer also gets the
    lake's schemas."""
    if read_only and not config.exists():
        raise LakeNotFoundError(
            f"no lakehouse at {config.catalog_url}: run `computeflow refresh` first (landing is the source of truth)"
        )
    path = config.catalog_path()
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if not config.on_s3:
        os.makedirs(config.data_path(), exist_ok=True)
    for statement in (*MACROS, *attach_statements(config, read_only, snapshot)):
        con.execute(statement)
    if path and not read_only:
        use_wal(path)
    if not read_only:
        query = "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ?"
        missing = [s for s in SCHEMAS if s not in {r[0] for r in con.execute(query, [LAKE]).fetchall()}]
        if missing:
            with commit(con, "create schemas"):
                for schema in missing:
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {LAKE}.{schema}")


def use_wal(path: str) -> None:
    """Put a SQLite catalog in write-ahead-log mode (kept in the file), so that readers holding a snapshot
    open never block the writer's commits."""
    with contextlib.closing(sqlite3.connect(path, timeout=60)) as db:
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode=WAL")


def sandbox_statements(config: LakeConfig) -> list[str]:
    """Statements that confine a connection, once the lake is attached, to reading the lake's data files: no
    other file can be read or written, no database attached, no extension installed, and the settings locked."""
    return [
        f"SET allowed_directories = [{sql_str(config.data_path())}]",
        "SET enable_external_access = false",
        "SET lock_configuration = true",
    ]


def refuse_statements(query: str) -> None:
    """Raise ValueError unless every statement of `query` is a query (SELECT, FROM, DESCRIBE, SHOW, SUMMARIZE,
    PRAGMA of a setting) or an EXPLAIN of one: no COPY, SET, ATTACH, CALL, CREATE, INSTALL or LOAD."""
    for statement in duckdb.extract_statements(query):
        text = statement.query.strip()
        if statement.type == duckdb.StatementType.EXPLAIN:
            explained = re.sub(r"^explain\s+(analyze\s+)?", "", text, flags=re.IGNORECASE)
            if explained != text:
                refuse_statements(explained)
                continue
        if statement.type != duckdb.StatementType.SELECT:
            kind = str(statement.type).rsplit(".", 1)[-1]
            raise ValueError(
                f"only queries run on the read-only lakehouse; refused a {kind} statement: {text}"
            )


def reader_init_sql(config: LakeConfig, sandboxed: bool = False) -> str:
    """Statements that open the lake read-only in any DuckDB 1.5.5 client (the duckdb CLI, Harlequin);
    `sandboxed` confines the client to the lake's data files (see sandbox_statements)."""
    statements = [*attach_statements(config, read_only=True), f"USE {LAKE}", "SET TimeZone = 'UTC'"]
    return "; ".join(statements + (sandbox_statements(config) if sandboxed else [])) + ";"


def connect_reader(
    config: LakeConfig, snapshot: int | None = None, sandboxed: bool = False
) -> duckdb.DuckDBPyConnection:
    """A read-only connection on the latest committed snapshot (or a past one), with `lake` as the default
    database so that tables read as `core.compute_usage`; `sandboxed` confines it to the lake's data files."""
    con = duckdb.connect(config=OFFLINE)
    con.execute("SET TimeZone = 'UTC'")
    attach(con, config, read_only=True, snapshot=snapshot)
    con.execute(f"USE {LAKE}")
    for statement in sandbox_statements(config) if sandboxed else []:
        con.execute(statement)
    return con


def tag_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Tag every later commit of this connection with a run id."""
    con.execute(f"SET VARIABLE {RUN_ID_VARIABLE} = {sql_str(run_id)}")


def qualified(name: str) -> str:
    """The lake's SQL name of a table 'schema.table'."""
    schema, table = name.split(".", 1)
    return f"{LAKE}.{sql_ident(schema)}.{sql_ident(table)}"


def lake_tables(con: duckdb.DuckDBPyConnection, views: bool = True) -> set[str]:
    """'schema.table' of every table (and view, unless `views` is false) the lake has.

    Read from duckdb_columns() (tables and views): duckdb_tables() costs several times more on a DuckLake
    catalog, for it sizes every table."""
    query = "SELECT DISTINCT schema_name || '.' || table_name FROM duckdb_columns() WHERE database_name = ?"
    found = {r[0] for r in con.execute(query, [LAKE]).fetchall()}
    if views:
        return found
    query = "SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE database_name = ?"
    return found - {r[0] for r in con.execute(query, [LAKE]).fetchall()}


def lake_columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """The column names of every table and view the lake has, by 'schema.table'."""
    query = (
        "SELECT schema_name || '.' || table_name, column_name FROM duckdb_columns() WHERE database_name = ?"
    )
    found: dict[str, set[str]] = {}
    for table, column in con.execute(query, [LAKE]).fetchall():
        found.setdefault(table, set()).add(column)
    return found


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the lake has a table 'schema.table'."""
    return name in lake_tables(con)


_COMMIT_LOCKS: dict[str, FileLock] = {}


def commit_lock(con: duckdb.DuckDBPyConnection) -> contextlib.AbstractContextManager:
    """What serialises write transactions on the lake of `con`: for a SQLite catalog, a lock file beside it
    held from BEGIN to COMMIT (SQLite takes one writer at a time, and a transaction that starts only after the
    previous one committed sees its rows: a second refresh skips the files the first one loaded); nothing for
    PostgreSQL, where DuckLake resolves concurrent commits itself."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = ?", [LAKE]).fetchone()
    path = row[0] if row and row[0] else ""
    if not path.startswith("sqlite:"):
        return contextlib.nullcontext()
    lock_path = path.removeprefix("sqlite:") + ".lock"
    if lock_path not in _COMMIT_LOCKS:
        _COMMIT_LOCKS[lock_path] = FileLock(lock_path, thread_local=False)
    return _COMMIT_LOCKS[lock_path]


@contextmanager
def commit(con: duckdb.DuckDBPyConnection, message: str) -> Iterator[None]:
    """One DuckLake transaction: everything inside commits together or not at all.

    The snapshot carries the message and the run id set on the connection (RUN_ID_VARIABLE); lake.snapshots()
    shows both, which tags what a refresh published. Writers of a SQLite catalog take turns (`commit_lock`).
    """
    with commit_lock(con), _transaction(con, message):
        yield


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection, message: str) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        run_id = con.execute(f"SELECT getvariable('{RUN_ID_VARIABLE}')").fetchone()[0]
        extra = json.dumps({"run_id": run_id} if run_id else {})
        con.execute(
            f"CALL {LAKE}.set_commit_message('computeflow', {sql_str(message)}, extra_info => {sql_str(extra)})"
        )
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.TransactionException):  # a failed COMMIT has ended the transaction
            con.execute("ROLLBACK")
        raise


@contextmanager
def read_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Several reads in one transaction: one snapshot of the lake, and its catalog looked up once instead of
    once per statement (which is most of what a small read costs). Writes nothing; never commits a snapshot."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    finally:
        con.execute("ROLLBACK")


@dataclass(frozen=True)
class Maintenance:
    """What one maintenance pass of the lake did."""

    files_before: int
    files_after: int
    files_merged: int
    snapshots_expired: int
    files_deleted: int


def maintain(con: duckdb.DuckDBPyConnection, retain_days: int) -> Maintenance:
    """Keep the lake fast with DuckLake's own maintenance: write rows inlined in the catalog to data files, merge
    small adjacent data files (snapshots, time
    travel and change feeds stay as they were), rewrite files that deletes have mostly emptied, expire snapshots
    older than `retain_days` (they can no longer be read with AT (VERSION => n)) and delete the files no
    snapshot needs any more (those unused for over a day, so that no running query loses a file it reads)."""
    metadata = f"__ducklake_metadata_{LAKE}"
    live = f"SELECT count(*) FROM {metadata}.ducklake_data_file WHERE end_snapshot IS NULL"
    with commit_lock(con):
        con.execute(f"CALL ducklake_flush_inlined_data({sql_str(LAKE)})").fetchall()
        before = int(con.execute(live).fetchone()[0])
        merged = con.execute(f"CALL ducklake_merge_adjacent_files({sql_str(LAKE)})").fetchall()
        con.execute(f"CALL ducklake_rewrite_data_files({sql_str(LAKE)})").fetchall()
        expired = con.execute(
            f"CALL ducklake_expire_snapshots({sql_str(LAKE)}, older_than => now() - INTERVAL {int(retain_days)} DAY)"
        ).fetchall()
        day_old = "older_than => now() - INTERVAL 1 DAY"
        deleted = con.execute(f"CALL ducklake_cleanup_old_files({sql_str(LAKE)}, {day_old})").fetchall()
        deleted += con.execute(f"CALL ducklake_delete_orphaned_files({sql_str(LAKE)}, {day_old})").fetchall()
        after = int(con.execute(live).fetchone()[0])
    return Maintenance(before, after, sum(int(r[2]) for r in merged), len(expired), len(deleted))


def replace_table(con: duckdb.DuckDBPyConnection, name: str, query: str) -> int:
    """Replace a whole table with a query's rows in one commit; returns its row count."""
    with commit(con, f"replace {name}"):
        con.execute(f"CREATE OR REPLACE TABLE {qualified(name)} AS {query}")
    return table_rows(con, name)


def replace_changed(
    con: duckdb.DuckDBPyConnection, name: str, query: str, key: str, within: str = ""
) -> int | None:
    """Bring the lake table 'schema.table' to `query`'s rows by rewriting only the groups of rows (rows sharing
    a `key` value) that differ: a group the query adds, drops or changes is deleted and re-inserted, any other
    is not touched, so nothing is written when nothing differs. `within` (a condition on the table's rows)
    limits the comparison to the groups that `query` computes, when it computes only some. A table that does
    not exist yet or whose columns differ from the query's is replaced whole (returns None). Run it inside a
    commit; returns the number of groups rewritten."""
    table = qualified(name)
    con.execute(f"CREATE OR REPLACE TEMP TABLE __replace_rows AS {query}")
    try:
        if _columns(con, LAKE, name) != _columns(con, "temp", "main.__replace_rows"):
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM __replace_rows")
            return None
        current = f"(SELECT * FROM {table}{f' WHERE {within}' if within else ''})"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __replace_keys AS SELECT DISTINCT {key} FROM ("
            f"(SELECT * FROM __replace_rows EXCEPT ALL SELECT * FROM {current}) UNION ALL "
            f"(SELECT * FROM {current} EXCEPT ALL SELECT * FROM __replace_rows))"
        )
        groups = con.execute("SELECT count(*) FROM __replace_keys").fetchone()[0]
        if groups:
            con.execute(
                f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM __replace_keys) "
                f"OR ({key} IS NULL AND EXISTS (SELECT 1 FROM __replace_keys WHERE {key} IS NULL))"
            )
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT r.* FROM __replace_rows r "
                f"SEMI JOIN __replace_keys k ON r.{key} IS NOT DISTINCT FROM k.{key}"
            )
        con.execute("DROP TABLE __replace_keys")
        return groups
    finally:
        con.execute("DROP TABLE __replace_rows")


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    """The id of the lake's current snapshot (as this connection's transaction sees it)."""
    return con.execute(f"SELECT id FROM {LAKE}.current_snapshot()").fetchone()[0]


def change_feed(name: str, since: int, now: int) -> str:
    """DuckLake's change feed of the lake table 'schema.table' over the commits after snapshot `since` up to
    `now`, as a relation (it fails when the table was created or replaced in between)."""
    schema, table = name.split(".", 1)
    return f"ducklake_table_changes({sql_str(LAKE)}, {sql_str(schema)}, {sql_str(table)}, {since + 1}, {now})"


def table_changed(con: duckdb.DuckDBPyConnection, name: str, since: int) -> bool:
    """Whether a commit after snapshot `since` changed rows of the lake table 'schema.table' (DuckLake's change
    feed); True when the feed cannot tell (the table was created or replaced since)."""
    now = current_snapshot(con)
    if now <= since:
        return False
    try:
        feed = change_feed(name, since, now)
        return con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {feed} LIMIT 1)").fetchone()[0] > 0
    except duckdb.Error:
        return True


def _columns(con: duckdb.DuckDBPyConnection, database: str, name: str) -> list[tuple[str, str]]:
    """Names and types of a table's columns 'schema.table' in `database`, in order."""
    schema, table = name.split(".", 1)
    query = (
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name = ? AND table_name = ? ORDER BY column_index"
    )
    return con.execute(query, [database, schema, table]).fetchall()


def define_view(con: duckdb.DuckDBPyConnection, name: str, query: str) -> bool:
    """(Re)define the lake view 'schema.table' as `query` (names relative to the lake), in one commit and only
    when its definition changes; a table of that name (an earlier layout) is dropped in the same commit.
    Returns whether it changed."""
    schema, view = name.split(".", 1)
    current = con.execute(
        "SELECT sql FROM duckdb_views() WHERE database_name = ? AND schema_name = ? AND view_name = ?",
        [LAKE, schema, view],
    ).fetchone()
    if current and query in current[0]:
        return False
    with commit(con, f"define view {name}"):
        if name in lake_tables(con, views=False):
            con.execute(f"DROP TABLE {qualified(name)}")
        con.execute(f"CREATE OR REPLACE VIEW {qualified(name)} AS {query}")
    return True


def table_rows(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """Rows of a lake table."""
    row = con.execute(f"SELECT count(*) FROM {qualified(name)}").fetchone()
    return int(row[0]) if row else 0
