"""Real loopback services for tests: a throwaway PostgreSQL 15 cluster and a moto S3 server.

Both listen on 127.0.0.1 only, on a port of their own, and are torn down when their context exits.
Also helpers that load DuckDB extensions offline from the `duckdb-extension-*` PyPI packages.
"""

from __future__ import annotations

import importlib.resources
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

LOOPBACK = "127.0.0.1"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_SYSTEM_USER = "postgres"
PG_SUPERUSER = "postgres"
PG_INSTALL_HINT = (
    "PostgreSQL 15 server binaries are missing from {bin}: run "
    "`apt-get update && apt-get install -y postgresql` (CI's .ci/run installs it)"
)
READY_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.05
# A unix socket path must fit in sockaddr_un.sun_path (108 bytes including the NUL).
MAX_SOCKET_DIR_LEN = 107 - len("/.s.PGSQL.65535")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class PostgresCluster:
    """A running throwaway cluster: trust auth, superuser `user`, reachable on host:port."""

    host: str
    port: int
    user: str
    dbname: str
    root: Path
    bin_dir: Path = PG_BIN

    @property
    def url(self) -> str:
        """URL of the default database, e.g. postgresql://postgres@127.0.0.1:PORT/postgres."""
        return self.url_for(self.dbname)

    def url_for(self, dbname: str) -> str:
        """URL of database `dbname` on this cluster."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def conninfo(self, dbname: str | None = None) -> str:
        """libpq keyword string (as DuckDB's postgres/ducklake ATTACH takes it) for `dbname`."""
        return f"dbname={dbname or self.dbname} host={self.host} port={self.port} user={self.user}"

    def create_database(self, name: str) -> str:
        """Create database `name` and return its URL."""
        _run([str(self.bin_dir / "createdb"), *self._client_args(), name], what=f"createdb {name}")
        return self.url_for(name)

    def psql(self, sql: str, dbname: str | None = None) -> str:
        """Run `sql` with psql (unaligned, tuples only, stop on error) and return its stdout."""
        cmd = [
            str(self.bin_dir / "psql"),
            *self._client_args(),
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            dbname or self.dbname,
            "-c",
            sql,
        ]
        return _run(cmd, what="psql").stdout

    def _client_args(self) -> list[str]:
        return ["-h", self.host, "-p", str(self.port), "-U", self.user]


def _run(cmd: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run `cmd`, raising a RuntimeError with its output when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def _as_pg_user(cmd: list[str]) -> list[str]:
    """`cmd` run as the unprivileged postgres system user when we are root (initdb refuses root)."""
    return ["runuser", "-u", PG_SYSTEM_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def _pg_user_can_enter(path: Path) -> bool:
    """Whether the postgres system user can reach (search) directory `path`."""
    if os.geteuid() != 0:
        return os.access(path, os.X_OK | os.W_OK)
    probe = subprocess.run(_as_pg_user(["test", "-x", str(path)]), stdin=subprocess.DEVNULL, check=False)
    return probe.returncode == 0


def _cluster_root(tmp_dir: Path) -> Path:
    """A fresh directory owned by the postgres user, under `tmp_dir` when that user can reach it.

    pytest's tmp_path lives below /tmp/pytest-of-root (mode 0700), which the postgres user cannot
    enter, and a deep tmp_path may be too long for a unix socket path: /tmp is the fallback.
    """
    for parent in (tmp_dir, Path(tempfile.gettempdir()), Path("/tmp")):
        if parent.is_dir() and len(str(parent)) + 12 <= MAX_SOCKET_DIR_LEN and _pg_user_can_enter(parent):
            root = Path(tempfile.mkdtemp(prefix="pg-", dir=parent))
            break
    else:
        raise RuntimeError(f"no directory that the {PG_SYSTEM_USER} user can reach for a cluster")
    if os.geteuid() == 0:
        user = pwd.getpwnam(PG_SYSTEM_USER)
        os.chown(root, user.pw_uid, user.pw_gid)
    root.chmod(0o700)
    return root


def _check_pg_install() -> None:
    for tool in ("initdb", "postgres", "pg_ctl", "pg_isready", "psql", "createdb"):
        if not (PG_BIN / tool).exists():
            raise RuntimeError(PG_INSTALL_HINT.format(bin=PG_BIN))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            raise RuntimeError(
                f"no `{PG_SYSTEM_USER}` system user to run PostgreSQL as (initdb refuses root): "
                "`apt-get install -y postgresql` creates it"
            ) from None
        if shutil.which("runuser") is None:
            raise RuntimeError("`runuser` (util-linux) is needed to run PostgreSQL as the postgres user")


def _start_postmaster(data: Path, root: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start the postmaster on a free port and wait until pg_isready accepts connections.

    Retries with another port when the one picked was taken in the meantime (parallel workers).
    """
    for _attempt in range(5):
        port = free_port()
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                _as_pg_user([str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port)]),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=root,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-q", "-h", LOOPBACK, "-p", str(port), "-t", "1"],
                stdin=subprocess.DEVNULL,
                check=False,
            )
            if ready.returncode == 0:
                return proc, port
            if proc.poll() is not None:
                break
            time.sleep(POLL_INTERVAL_S)  # bounded readiness polling
        else:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"PostgreSQL not ready after {READY_TIMEOUT_S:.0f}s:\n{_tail(log_path)}")
        log_text = _tail(log_path)
        if "could not bind" not in log_text and "already in use" not in log_text:
            raise RuntimeError(f"PostgreSQL exited on start ({proc.returncode}):\n{log_text}")
    raise RuntimeError(f"PostgreSQL found no free port:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def postgres_cluster(tmp_dir: Path) -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL 15 cluster on 127.0.0.1:<free port>, removed on exit.

    Runs as the `postgres` system user when the tests run as root; trust auth; fsync off.
    Raises RuntimeError (never skips) when Debian's postgresql package is not installed.
    """
    _check_pg_install()
    root = _cluster_root(Path(tmp_dir))
    data = root / "data"
    log_path = root / "postgres.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        _run(
            _as_pg_user(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    PG_SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ]
            ),
            what="initdb",
            cwd=root,
        )
        settings = {
            "listen_addresses": f"'{LOOPBACK}'",
            "unix_socket_directories": f"'{root}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "'32MB'",
            "max_connections": "50",
        }
        # root created nothing under data/, so appending keeps the file owned by postgres.
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/services.py\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        proc, port = _start_postmaster(data, root, log_path)
        yield PostgresCluster(host=LOOPBACK, port=port, user=PG_SUPERUSER, dbname="postgres", root=root)
    finally:
        if proc is not None and proc.poll() is None:
            subprocess.run(
                _as_pg_user([str(PG_BIN / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w"]),
                capture_output=True,
                stdin=subprocess.DEVNULL,
                check=False,
            )
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- S3 (moto)


class _RequestCounter:
    """WSGI middleware counting S3 requests by kind: HEAD, GET, PUT, POST, DELETE and LIST.

    A GET on a bucket itself (path style: /bucket or /bucket/) is a LIST; moto's own
    /moto-api/ endpoints are not counted.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/moto-api"):
            method = environ.get("REQUEST_METHOD", "")
            if method == "GET" and "/" not in path.strip("/") and path.strip("/"):
                method = "LIST"
            with self.lock:
                self.counts[method] += 1
        return self.app(environ, start_response)


@dataclass
class S3Server:
    """A moto S3 server on 127.0.0.1; buckets are addressed path style."""

    host: str
    port: int
    _counter: _RequestCounter = field(repr=False)
    access_key_id: str = "testing"
    secret_access_key: str = "testing"
    region: str = "us-east-1"

    @property
    def endpoint_url(self) -> str:
        """http://127.0.0.1:PORT."""
        return f"http://{self.host}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """AWS_* environment variables that point AWS clients at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    def client(self) -> Any:
        """A boto3 S3 client for this server."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )

    def bucket(self, name: str) -> str:
        """Create bucket `name` (one PUT) and return its URL, s3://name."""
        self.client().create_bucket(Bucket=name)
        return f"s3://{name}"

    def duckdb_secret_sql(self, name: str = "moto") -> str:
        """CREATE SECRET statement that points DuckDB's httpfs S3 client at this server."""
        return (
            f"CREATE OR REPLACE SECRET {name} (TYPE s3, KEY_ID '{self.access_key_id}', "
            f"SECRET '{self.secret_access_key}', ENDPOINT '{self.host}:{self.port}', "
            f"URL_STYLE 'path', USE_SSL false, REGION '{self.region}')"
        )

    def requests(self) -> Counter[str]:
        """A copy of the request counts by kind (HEAD, GET, PUT, POST, DELETE, LIST)."""
        with self._counter.lock:
            return Counter(self._counter.counts)

    def reset_counts(self) -> None:
        """Zero the request counts."""
        with self._counter.lock:
            self._counter.counts.clear()

    def reset_state(self) -> None:
        """Drop every bucket and object (moto's backends are global to the process)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server on 127.0.0.1:<free port> with request counting, stopped on exit.

    This is moto's ThreadedMotoServer (a werkzeug server around DomainDispatcherApplication),
    run here with a counting middleware in front. moto's state lives in this process, so it is
    reset on exit.
    """
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            """No access log on stderr."""

    counter = _RequestCounter(DomainDispatcherApplication(create_backend_app))
    # Port 0: the kernel picks a free port, so parallel workers never race for one.
    server = make_server(LOOPBACK, 0, counter, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="moto-s3", daemon=True)
    thread.start()
    s3 = S3Server(LOOPBACK, server.server_address[1], counter)
    try:
        yield s3
    finally:
        try:
            s3.reset_state()
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=30)


# --------------------------------------------------------------------------- DuckDB extensions


def duckdb_extension_file(name: str) -> Path:
    """The `name`.duckdb_extension binary shipped by PyPI package duckdb-extension-<name>."""
    package = f"duckdb_extension_{name}"
    try:
        root = Path(str(importlib.resources.files(package)))
    except ModuleNotFoundError:
        raise RuntimeError(
            f"install the PyPI package {package.replace('_', '-')}=={duckdb.__version__}"
        ) from None
    wanted = root / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if wanted.is_file():
        return wanted
    found = sorted(root.glob(f"extensions/*/{name}.duckdb_extension"))
    raise RuntimeError(
        f"{package} has no extension for DuckDB {duckdb.__version__} (found: {[str(p) for p in found]})"
    )


def load_extensions_offline(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> None:
    """INSTALL each extension from its PyPI package's file (never a download) and LOAD it."""
    for name in names:
        path = str(duckdb_extension_file(name)).replace("'", "''")
        con.execute(f"INSTALL '{path}'")
        con.execute(f"LOAD {name}")


def offline_duckdb(
    extension_dir: Path, extensions: Iterable[str] = (), database: str = ":memory:"
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that never downloads extensions, with `extensions` loaded offline.

    Extensions are installed into `extension_dir`, so tests do not write to ~/.duckdb.
    """
    con = duckdb.connect(
        database,
        config={"extension_directory": str(extension_dir), "autoinstall_known_extensions": False},
    )
    load_extensions_offline(con, extensions)
    return con
