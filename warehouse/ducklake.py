"""The lake as a DuckLake: a SQL catalog (SQLite file or PostgreSQL) plus Parquet data on any storage.

Every connection that reads or writes the lake attaches it as the database `lake`; writers commit through
`commit()` (one DuckLake transaction, tagged with the refresh's run id), readers attach it read-only and see
the latest committed snapshot (or a past one, by version or time).

DuckDB extensions come from the installed PyPI packages (`duckdb-extension-<name>==1.5.5`), never from the
network: `INSTALL '<path of the packaged binary>'` then `LOAD`. DuckDB checks an extension's signature on every
load by hashing the whole binary (36 MB for ducklake: about 70 ms per connection); a process checks each installed
file once, and its later connections (made with `offline_config()`) load the same, unchanged file unchecked.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import re
import sqlite3
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import duckdb

from warehouse.lake import reject_embedded_credentials, sql_ident, sql_str
from warehouse.transactions import LAKE, commit

SCHEMAS = ("ingest", "audit", "core", "ref", "marts", "exports", "meta")
EXTENSION_PACKAGES = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",
}
OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
# extension name -> (device, inode, size, mtime) of the installed binary whose signature this process has checked
_CHECKED: dict[str, tuple[int, int, int, int]] = {}


def offline_config(**settings: object) -> dict[str, object]:
    """The configuration of a DuckDB connection that reaches the lake: no extension downloaded or loaded
    automatically and, once this process has checked an extension's signature, no second check of the same
    file (`load_extension` checks any other file first)."""
    return {**OFFLINE, "allow_unsigned_extensions": bool(_CHECKED), **settings}


def _identity(path: str) -> tuple[int, int, int, int]:
    found = os.stat(path)
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """INSTALL an extension from its package's file and LOAD it, its signature checked by DuckDB unless this
    process has checked the same installed file before."""
    con.execute(f"INSTALL {sql_str(extension_path(name))}")
    installed, unchecked = con.execute(
        "SELECT install_path, current_setting('allow_unsigned_extensions') FROM duckdb_extensions() "
        "WHERE extension_name = ?",
        [name],
    ).fetchone()
    identity = _identity(installed)
    if unchecked and _CHECKED.get(name) != identity:
        with duckdb.connect(config=OFFLINE) as checking:  # checks the signature of exactly that file
            checking.execute(f"LOAD {sql_str(installed)}")
    con.execute(f"LOAD {name}")
    _CHECKED[name] = identity


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


# Rows a commit keeps in the catalog rather than in a data file when it inserts no more than this many: none.
# DuckLake inlines up to 10 by default, and every statement that then reads such a table loads the catalog's whole
# schema again (about 25 catalog queries on SQLite, 20 ms, where a table of data files costs 4 queries, 6 ms):
# with inlining, the small tables a refresh reads many times made a small lake's refresh cost a third more.
INLINED_ROWS = 0


def lake_extensions(config: LakeConfig) -> list[str]:
    """The extensions a connection to the lake loads."""
    extensions = ["ducklake", "postgres_scanner" if config.is_postgres else "sqlite_scanner"]
    return [*extensions, "httpfs"] if config.on_s3 else extensions


def attach_statements(config: LakeConfig, read_only: bool = False, snapshot: int | None = None) -> list[str]:
    """The SQL that loads the extensions (from the installed packages) and attaches the lake as `lake`."""
    loads = [
        s
        for name in lake_extensions(config)
        for s in (f"INSTALL {sql_str(extension_path(name))}", f"LOAD {name}")
    ]
    return loads + _attach_only(config, read_only, snapshot)


def _attach_only(config: LakeConfig, read_only: bool, snapshot: int | None) -> list[str]:
    """The statements of `attach_statements` after the extensions are loaded."""
    statements = [s3_secret_sql()] if config.on_s3 else []
    options = [f"DATA_PATH {sql_str(config.data_path())}"]
    if read_only:
        options.append("READ_ONLY")
    else:
        options.append(f"DATA_INLINING_ROW_LIMIT {INLINED_ROWS}")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    statements.append(f"ATTACH {sql_str(config.attach_target())} AS {LAKE} ({', '.join(options)})")
    return statements


def enable_s3(con: duckdb.DuckDBPyConnection) -> None:
    """Let DuckDB read and write s3:// paths with its own client (httpfs) and the environment's credentials."""
    load_extension(con, "httpfs")
    con.execute(s3_secret_sql())


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
    for name in lake_extensions(config):
        load_extension(con, name)
    for statement in (*MACROS, *_attach_only(config, read_only, snapshot)):
        con.execute(statement)
    if path and not read_only:
        use_wal(path)
    if not read_only:
        query = "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ?"
        present = {r[0] for r in con.execute(query, [LAKE]).fetchall()}
        missing = [s for s in SCHEMAS if s not in present]
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
    con = duckdb.connect(config=offline_config())
    con.execute("SET TimeZone = 'UTC'")
    attach(con, config, read_only=True, snapshot=snapshot)
    con.execute(f"USE {LAKE}")
    for statement in sandbox_statements(config) if sandboxed else []:
        con.execute(statement)
    return con


def qualified(name: str) -> str:
    """The lake's SQL name of a table 'schema.table'."""
    schema, table = name.split(".", 1)
    return f"{LAKE}.{sql_ident(schema)}.{sql_ident(table)}"
