"""Scale-out deployments on real services: a PostgreSQL DuckLake catalog, Parquet data (and landing) on S3.

The services are a throwaway PostgreSQL 15 cluster and a moto S3 server on loopback (tests/services.py);
nothing is mocked. Each test runs under a time limit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import fsspec
import pytest

from assets.ingest.check import load_checked_specs
from assets.ingest.engine import landed_files
from pipelines.instance import instance_directory
from tests.conftest import Deployment, make_deployment, settings_for
from tests.services import postgres_cluster, s3_server
from warehouse.ducklake import OFFLINE, LakeConfig, connect_reader, qualified
from warehouse.lake import Location, sql_str
from warehouse.settings import REPO_ROOT

pytestmark = pytest.mark.slow  # starts PostgreSQL and an S3-protocol server and refreshes through them

DAYS = 2
SCALE = 0.2
COMPARED = ("core.compute_usage", "audit.ingest_ledger", "marts.chip_mix", "marts.subsidy_attribution")
IGNORED = {"audit.ingest_ledger": ("run_id",)}  # columns that name the run, which differs between lakes
BUCKET = "computeflow"
WRITERS = 5
REFRESH_LIMIT_S = 1200
WRITERS_LIMIT_S = 600


class Overtime(BaseException):
    """A test ran past its time limit (a BaseException, so that no `except Exception` swallows it)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail the block with Overtime when it runs longer than `seconds` (SIGALRM; main thread only)."""

    def expire(signum: int, frame: object) -> None:
        raise Overtime(f"over the time limit of {seconds:.0f}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def fresh_s3_clients() -> Iterator[None]:
    """No cached s3fs filesystem (fsspec caches them by arguments, not by the AWS_* environment they read)
    is shared with code outside the block."""
    s3 = fsspec.get_filesystem_class("s3")
    s3.clear_instance_cache()
    try:
        yield
    finally:
        s3.clear_instance_cache()


def upload_tree(client: Any, root: Path, bucket: str, prefix: str) -> int:
    """Upload every file under `root` to s3://bucket/prefix/<relative path>; returns the number of files."""
    count = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(root).as_posix()}")
        count += 1
    return count


def export_tables(lake: LakeConfig, target: Path) -> None:
    """Copy the compared tables (or views) of a lake's latest snapshot to target/<name>.parquet."""
    target.mkdir(parents=True)
    with connect_reader(lake) as con:
        for name in COMPARED:
            con.execute(
                f"COPY (SELECT * FROM {name}) TO {sql_str(str(target / f'{name}.parquet'))} (FORMAT parquet)"
            )


def exported_difference(local: Path, remote: Path, name: str) -> tuple[tuple, tuple, list[tuple]]:
    """Row count and order-independent content hash of a table exported from each lake (without the columns
    that name a run), and a few rows that only one of them has."""
    exclude = ", ".join(IGNORED.get(name, ()))
    with duckdb.connect(config=OFFLINE) as con:

        def rows(directory: Path) -> str:
            scan = f"read_parquet({sql_str(str(directory / f'{name}.parquet'))})"
            return f"(SELECT * EXCLUDE ({exclude}) FROM {scan})" if exclude else f"(SELECT * FROM {scan})"

        def fingerprint(directory: Path) -> tuple:
            return con.execute(
                "SELECT count(*), md5(string_agg(md5(CAST(t AS VARCHAR)), ',' ORDER BY md5(CAST(t AS VARCHAR)))) "
                f"FROM {rows(directory)} t"
            ).fetchone()

        only = con.execute(
            f"(SELECT 'local only' AS side, * FROM ({rows(local)} EXCEPT ALL {rows(remote)}) LIMIT 3) UNION ALL "
            f"(SELECT 'remote only' AS side, * FROM ({rows(remote)} EXCEPT ALL {rows(local)}) LIMIT 3)"
        ).fetchall()
        return fingerprint(local), fingerprint(remote), only


def test_refresh_on_postgres_catalog_and_s3_lake_equals_local(
    refreshed: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = refreshed  # the small demo, refreshed on the embedded default (SQLite catalog, local lake)
    with time_limit(REFRESH_LIMIT_S):
        export_tables(local.settings.lake, tmp_path / "export" / "local")

        with postgres_cluster(tmp_path) as cluster, s3_server() as server, fresh_s3_clients():
            for name, value in server.env.items():
                monkeypatch.setenv(name, value)
            bucket = server.bucket(BUCKET)
            landed = upload_tree(server.client(), Path(local.settings.landing_url), BUCKET, "landing")
            settings = replace(
                settings_for(tmp_path / "remote"),
                catalog_url=cluster.create_database("lake"),
                lake_url=f"{bucket}/lake",
                landing_url=f"{bucket}/landing",
            )
            instance = dg.DagsterInstance.from_config(instance_directory(settings))
            remote = Deployment(settings, instance, local.manifest)
            server.reset_counts()
            started = time.monotonic()
            try:
                outcome = remote.refresh(checks=False)
            finally:
                remote.instance.dispose()
            requests = server.requests()
            print(
                f"remote refresh (PostgreSQL catalog, S3 lake and landing): {time.monotonic() - started:.1f}s; "
                f"{landed} landed files; S3 requests by method: {dict(sorted(requests.items()))}"
            )
            assert outcome.success, outcome.failures
            export_tables(settings.lake, tmp_path / "export" / "remote")

    problems = []
    for name in COMPARED:
        expected, actual, only = exported_difference(
            tmp_path / "export" / "local", tmp_path / "export" / "remote", name
        )
        print(f"{name}: local {expected}, remote {actual}")
        if not expected[0]:
            problems.append(f"{name} is empty in the local lake")
        if actual != expected:
            rows = "\n    ".join(repr(r) for r in only)
            problems.append(
                f"{name} differs: local {expected}, remote {actual}; rows of one side:\n    {rows}"
            )
    if not requests["PUT"]:
        problems.append("no PUT reached S3: the lake's data did not land there")
    # Listings give sizes and dates: landed files are not probed one by one.
    if requests["HEAD"] >= landed:
        problems.append(f"{requests['HEAD']} HEAD requests for {landed} landed files")
    if requests["LIST"] >= landed:
        problems.append(f"{requests['LIST']} LIST requests for {landed} landed files")
    assert not problems, "\n".join(problems)


WRITER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path

    from assets.ingest.engine import Ingestor, landed_files
    from assets.resources import Lakehouse
    from warehouse.settings import Settings
    from warehouse.transactions import tag_run

    name, ready, go, run_id = sys.argv[1:5]
    lakehouse = Lakehouse.from_settings(Settings.from_env())
    (spec,) = [s for s in lakehouse.specs() if s.name == name]
    with lakehouse.connect() as con:
        tag_run(con, run_id)
        ingestor = Ingestor(con, spec, lakehouse.landing, lakehouse.scratch_path, run_id)
        grouped = landed_files(spec, lakehouse.landing)
        Path(ready).touch()
        deadline = time.monotonic() + 120
        while not os.path.exists(go):
            if time.monotonic() > deadline:
                sys.exit(f"{name}: no go signal within 120s")
            time.sleep(0.01)
        started = time.time()
        errors, files = [], 0
        for key, paths in sorted(grouped.items()):
            result = ingestor.run(key, paths)
            errors += result.errors
            files += len(result.rows)
        ended = time.time()
    print(json.dumps({"source": name, "files": files, "started": started, "ended": ended, "errors": errors}))
    sys.exit(1 if errors else 0)
    """
)


def race_writers(deployment: Deployment, count: int, tmp_path: Path) -> tuple[list[str], dict[str, int]]:
    """Start one writer process per usage source (the `count` with the most landed files), release them at
    once, and return the sources and their landed file counts once every writer has exited 0 after really
    overlapping with the others."""
    landing = Location(deployment.settings.landing_url)
    usage = [s for s in load_checked_specs(deployment.settings.sources_dir) if s.kind == "usage"]
    files = {s.name: sum(len(p) for p in landed_files(s, landing).values()) for s in usage}
    sources = sorted(sorted(files), key=lambda n: -files[n])[:count]
    assert len(sources) == count and all(files[n] for n in sources), files
    env = {
        **os.environ,
        "COMPUTEFLOW_HOME": str(deployment.settings.home),
        "COMPUTEFLOW_LANDING_URL": deployment.settings.landing_url,
        "COMPUTEFLOW_LAKE_URL": deployment.settings.lake_url,
        "COMPUTEFLOW_CATALOG_URL": deployment.settings.catalog_url,
        "COMPUTEFLOW_SOURCES_DIR": str(deployment.settings.sources_dir),
        "PYTHONPATH": str(REPO_ROOT),
    }
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    go = barrier / "go"
    writers = {
        name: subprocess.Popen(
            [sys.executable, "-c", WRITER, name, str(barrier / f"{name}.ready"), str(go), f"writer-{name}"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in sources
    }
    try:
        deadline = time.monotonic() + 180
        while not all((barrier / f"{n}.ready").exists() for n in sources):
            exited = {n: p.returncode for n, p in writers.items() if p.poll() is not None}
            assert not exited, f"writers exited before the barrier: {exited}"
            assert time.monotonic() < deadline, "the writers did not get ready within 180s"
            time.sleep(0.05)
        started = time.monotonic()
        go.touch()
        outputs = {n: p.communicate(timeout=300) for n, p in writers.items()}
        elapsed = time.monotonic() - started
    finally:
        for process in writers.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    print(f"{count} writers ingested {sources} in {elapsed:.1f}s")
    failed = {n: f"exit {writers[n].returncode}: {err[-4000:]}" for n, (_out, err) in outputs.items()}
    failed = {n: detail for n, detail in failed.items() if writers[n].returncode != 0}
    assert not failed, "\n\n".join(f"{n} {detail}" for n, detail in failed.items())
    reports = {n: json.loads(out.strip().splitlines()[-1]) for n, (out, _err) in outputs.items()}
    for name, report in reports.items():
        print(f"  {name}: {report['files']} files in {report['ended'] - report['started']:.1f}s")
    # Every writer was loading at one same moment: the commits really raced.
    assert max(r["started"] for r in reports.values()) < min(r["ended"] for r in reports.values()), reports
    return sources, files


def assert_writers_reconcile(deployment: Deployment, sources: list[str], files: dict[str, int]) -> None:
    """Every writer's files have ledger rows, and the ledger's rows and money equal its table's and quarantine's;
    every writer's commits are snapshots of the lake."""
    with connect_reader(LakeConfig(deployment.settings.catalog_url, deployment.settings.lake_url)) as con:
        ledger = con.execute(
            "SELECT source_name, status, count(*) FROM audit.ingest_ledger GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        print(f"ledger (source, status, files): {ledger}")
        assert {status for _source, status, _n in ledger} <= {"loaded", "empty"}, ledger
        assert set(sources) <= {source for source, _status, _n in ledger}, ledger
        for name in sources:
            table = qualified(f"ingest.{name}")
            booked = con.execute(
                "SELECT count(*), sum(rows_loaded), sum(money_loaded), sum(rows_quarantined) "
                "FROM audit.ingest_ledger WHERE source_name = ?",
                [name],
            ).fetchone()
            held = con.execute(  # lines (a usage line split by day is one) and their money
                f"SELECT count(DISTINCT (source_file, source_row)), sum(billed_cost) FROM {table}"
            ).fetchone()
            (quarantined,) = con.execute(
                "SELECT count(*) FROM audit.quarantine WHERE source_name = ?", [name]
            ).fetchone()
            assert booked[0] == files[name], f"{name}: {booked[0]} ledger rows for {files[name]} files"
            assert booked[1] == held[0] > 0, f"{name}: ledger rows_loaded {booked[1]} != {held[0]} rows"
            assert booked[2] == held[1], f"{name}: ledger money_loaded {booked[2]} != billed_cost {held[1]}"
            assert booked[3] == quarantined, f"{name}: ledger quarantined {booked[3]} != {quarantined}"
        commits = con.execute(
            "SELECT commit_extra_info FROM lake.snapshots() WHERE commit_extra_info LIKE '%writer-%' "
            "ORDER BY snapshot_id"
        ).fetchall()
    order = [json.loads(r[0])["run_id"].removeprefix("writer-") for r in commits]
    print(f"writer commits in snapshot order: {order}")
    assert set(order) == set(sources), order


def test_five_writers_commit_different_sources_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        time_limit(WRITERS_LIMIT_S),
        postgres_cluster(tmp_path) as cluster,
        s3_server() as server,
        fresh_s3_clients(),
    ):
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        deployment = make_deployment(
            tmp_path / "home",
            days=DAYS,
            scale=SCALE,
            catalog_url=cluster.create_database("lake"),
            lake_url=f"{server.bucket(BUCKET)}/lake",
        )
        try:  # the reference tables the writers read (their contract checks are not the subject here)
            outcome = deployment.refresh("key:ref/*", checks=False)
        finally:
            deployment.instance.dispose()
        assert outcome.success, outcome.failures
        server.reset_counts()
        sources, files = race_writers(deployment, WRITERS, tmp_path)
        print(f"S3 requests by method during the writes: {dict(sorted(server.requests().items()))}")
        assert_writers_reconcile(deployment, sources, files)


def test_two_writers_and_a_reader_share_the_embedded_sqlite_catalog(tmp_path: Path) -> None:
    """On the SQLite catalog, writers in two processes take turns to commit (none fails with "database is
    locked"), while a reader in a third holds its snapshot throughout."""
    with time_limit(WRITERS_LIMIT_S):
        deployment = make_deployment(tmp_path / "home", days=DAYS, scale=SCALE)
        try:  # the reference tables the writers read (their contract checks are not the subject here)
            outcome = deployment.refresh("key:ref/*", checks=False)
        finally:
            deployment.instance.dispose()
        assert outcome.success, outcome.failures
        with connect_reader(deployment.settings.lake) as reader:
            reader.execute("BEGIN TRANSACTION")
            ledger_before = reader.execute("SELECT count(*) FROM audit.ingest_ledger").fetchone()
            sources, files = race_writers(deployment, 2, tmp_path)
            assert reader.execute("SELECT count(*) FROM audit.ingest_ledger").fetchone() == ledger_before
            reader.execute("COMMIT")
        assert_writers_reconcile(deployment, sources, files)


def test_two_machines_share_one_dagster_instance_on_postgres(tmp_path: Path) -> None:
    """With COMPUTEFLOW_DAGSTER_STORAGE_URL, runs and materializations live in PostgreSQL: a refresh from one
    machine's instance is a run the other machine's instance sees, and the other way round."""
    with time_limit(WRITERS_LIMIT_S), postgres_cluster(tmp_path) as cluster:
        storage = cluster.create_database("dagster")
        first = make_deployment(
            tmp_path / "home",
            days=DAYS,
            scale=SCALE,
            catalog_url=cluster.create_database("lake"),
            dagster_storage_url=storage,
        )
        # The other machine: its own instance directory, the same storage, lake and landing.
        settings = replace(first.settings, dagster_home=tmp_path / "machine-b" / "dagster")
        second = Deployment(
            settings, dg.DagsterInstance.from_config(instance_directory(settings)), first.manifest
        )
        try:
            assert "postgres" in (settings.dagster_home / "dagster.yaml").read_text(encoding="utf-8")
            by_first = first.refresh("key:ref/chips", checks=False)  # a run, not its contract checks
            assert by_first.success, by_first.failures
            run = second.instance.get_run_by_id(by_first.run_id)
            assert run is not None and run.job_name == "refresh_all"
            assert run.status == dg.DagsterRunStatus.SUCCESS
            chips = second.instance.get_latest_materialization_event(dg.AssetKey(["ref", "chips"]))
            assert chips is not None and chips.run_id == by_first.run_id
            by_second = second.refresh("key:ref/tenants", checks=False)
            assert by_second.success, by_second.failures
            assert first.instance.get_run_by_id(by_second.run_id) is not None
        finally:
            first.instance.dispose()
            second.instance.dispose()
