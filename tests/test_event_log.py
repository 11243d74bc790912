"""The embedded instance's event log keeps its SQLite files open: what it writes is committed at once (another
process reads it, a killed writer loses nothing), the run-log watchers hear writes only, and few files stay open."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy

from pipelines.event_log import OPEN_FILES, KeptOpenSqliteEventLogStorage
from pipelines.instance import instance_directory
from tests.conftest import settings_for

DAYS = dg.DailyPartitionsDefinition(start_date="2025-08-01", end_date="2025-08-04")


@dg.asset(partitions_def=DAYS)
def daily() -> None:
    """A day-partitioned asset of no data."""


def open_instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(instance_directory(settings_for(home)))


def materializations(home: Path) -> int:
    """The materializations of `daily` another process reads from the instance under `home`."""
    code = (
        "import dagster as dg, sys; "
        "i = dg.DagsterInstance.from_config(sys.argv[1]); "
        "print(len(i.fetch_materializations(dg.AssetKey('daily'), limit=100).records))"
    )
    directory = instance_directory(settings_for(home))
    return int(
        subprocess.run([sys.executable, "-c", code, directory], check=True, capture_output=True).stdout
    )


def db_files_open(base_dir: str) -> set[str]:
    """The event log files this process holds open (a SQLite file in WAL mode opens two more beside it)."""
    names = set()
    for fd in os.listdir("/proc/self/fd"):
        target = os.path.realpath(f"/proc/self/fd/{fd}")
        if target.startswith(os.path.realpath(base_dir)):
            names.add(target.removesuffix("-wal").removesuffix("-shm"))
    return names


def test_another_process_reads_every_event_while_the_files_stay_open(tmp_path: Path) -> None:
    with open_instance(tmp_path) as instance:
        assert isinstance(instance.event_log_storage, KeptOpenSqliteEventLogStorage)
        for day in ("2025-08-01", "2025-08-02", "2025-08-03"):
            assert dg.materialize([daily], partition_key=day, instance=instance).success
        assert materializations(tmp_path) == 3  # read by another process, the writer's files still open


def test_a_writer_killed_without_closing_its_files_loses_no_event(tmp_path: Path) -> None:
    code = (
        "import os, sys, dagster as dg; "
        "from tests.test_event_log import daily, open_instance; "
        "from pathlib import Path; "
        "i = open_instance(Path(sys.argv[1])); "
        "ok = all(dg.materialize([daily], partition_key=d, instance=i).success for d in ('2025-08-01', '2025-08-02')); "
        "os._exit(0 if ok else 1)"  # no clean-up: the files are left open, their write-ahead logs not merged
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, cwd=root)
    assert materializations(tmp_path) == 2


def test_a_run_file_changes_on_a_write_and_not_on_a_read(tmp_path: Path) -> None:
    with open_instance(tmp_path) as instance:
        run = dg.materialize([daily], partition_key="2025-08-01", instance=instance).dagster_run
        path = instance.event_log_storage.path_for_shard(run.run_id)
        os.utime(path, (1, 1))
        assert instance.get_records_for_run(run.run_id).records
        assert os.stat(path).st_mtime == 1  # a reader does not wake the watchers (who then read)
        instance.report_engine_event("a note on the run", run)
        assert os.stat(path).st_mtime > 1


def test_few_files_stay_open_and_a_wipe_starts_afresh(tmp_path: Path) -> None:
    with open_instance(tmp_path) as instance:
        for day in ("2025-08-01", "2025-08-02", "2025-08-03") * 3:
            assert dg.materialize([daily], partition_key=day, instance=instance).success
        storage = instance.event_log_storage
        assert len(storage.get_all_run_ids()) == 9
        assert 1 < len(db_files_open(os.path.dirname(storage.path_for_shard("index")))) <= OPEN_FILES
        instance.wipe()
        assert storage.get_all_run_ids() == []
        assert dg.materialize([daily], partition_key="2025-08-02", instance=instance).success
        assert materializations(tmp_path) == 1


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def days_at_once() -> None:
    """A day-partitioned asset of no data that one run materializes over a range of days."""


def test_a_step_over_many_partitions_stores_its_events_as_one_batch_or_none(tmp_path: Path) -> None:
    with open_instance(tmp_path / "one") as instance:
        assert os.environ["DAGSTER_EVENT_BATCH_SIZE"]  # set by the storage: Dagster hands batches over
        span = {
            "dagster/asset_partition_range_start": "2025-08-01",
            "dagster/asset_partition_range_end": "2025-08-03",
        }
        run = dg.materialize([days_at_once], instance=instance, tags=span).dagster_run
        events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        assert sorted(e.dagster_event.partition for e in events) == ["2025-08-01", "2025-08-02", "2025-08-03"]
    with open_instance(tmp_path / "two") as other:
        storage = other.event_log_storage
        with pytest.raises(Exception):  # noqa: B017 - whatever the storage raises for a non-event
            storage.store_event_batch([*events, "not an event"])
        assert storage.get_records_for_run(run.run_id).records == []  # the batch was rolled back whole
        storage.store_event_batch(events)
        stored = other.fetch_materializations(dg.AssetKey("days_at_once"), limit=10).records
        assert sorted(r.partition_key for r in stored) == ["2025-08-01", "2025-08-02", "2025-08-03"]


@dg.asset(partitions_def=DAYS, code_version="1")
def versioned() -> None:
    """A day-partitioned asset of no data whose materializations carry data version tags (indexed by Dagster)."""


def test_the_index_files_schema_is_asked_until_found_and_not_at_every_event(tmp_path: Path) -> None:
    index_connections = []

    def on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        if dbapi_connection.execute("PRAGMA database_list").fetchall()[0][2].endswith(f"{os.sep}index.db"):
            index_connections.append(dbapi_connection)

    with open_instance(tmp_path) as instance:
        storage = instance.event_log_storage
        assert not storage.has_table("no_such_table") and not storage.has_table("no_such_table")
        assert dg.materialize([versioned], partition_key="2025-08-01", instance=instance).success
        sqlalchemy.event.listen(sqlalchemy.Engine, "connect", on_connect)
        try:
            for day in ("2025-08-02", "2025-08-03"):
                assert dg.materialize([versioned], partition_key=day, instance=instance).success
        finally:
            sqlalchemy.event.remove(sqlalchemy.Engine, "connect", on_connect)
        assert index_connections == []  # the index file's own connection stays open and nothing else opens it
        stored = instance.fetch_materializations(dg.AssetKey("versioned"), limit=10).records
        assert len(stored) == 3 and all(r.event_log_entry.tags.get("dagster/code_version") for r in stored)
        # a missing table is asked of the file again, not assumed
        assert not storage.has_table("no_such_table")
        instance.wipe()
        assert dg.materialize([versioned], partition_key="2025-08-02", instance=instance).success
