"""Several partitions of a source commit together, with the same outcome as one commit each; when one of them
fails, it rolls back alone and the others commit; commits are bounded by partitions and landed bytes."""

from pathlib import Path

import pytest

from assets.ingest.engine import COMMIT_BYTES, COMMIT_PARTITIONS, Ingestor, PartitionResult, commit_batches
from assets.tables import ingest_table
from tests.conftest import chip_lake, lake_connection
from tests.ingest_support import MIXED_FILES, land, latest_snapshot, spec_of
from warehouse.ducklake import LakeConfig, qualified
from warehouse.lake import Location

pytestmark = pytest.mark.slow  # runs the ingest engine


def ingest(lake: LakeConfig, root: Path, partitions: list[tuple[str, list[str]]], together: bool) -> dict:
    """Ingest the partitions one commit each or all in one call; what the lake then holds, and the outcomes."""
    spec = spec_of()
    with lake_connection(lake) as con:
        ingestor = Ingestor(con, spec, Location(str(root / "landing")), str(root / "scratch"), "r1")
        before = latest_snapshot(lake)  # (after the ingestor made its table)
        if together:
            outcomes = ingestor.run_together(partitions)
        else:
            outcomes = [ingestor.run(key, paths) for key, paths in partitions]
        ingestor.close()
        return {
            "outcomes": outcomes,
            "commits": latest_snapshot(lake) - before,
            "ledger": con.execute(
                f"SELECT * EXCLUDE (run_id) FROM {qualified('audit.ingest_ledger')} ORDER BY source_file"
            ).fetchall(),
            "rows": con.execute(
                f"SELECT * FROM {qualified(ingest_table(spec.name))} ORDER BY ALL"
            ).fetchall(),
            "lines": con.execute(
                f"SELECT source_file, source_row, period_part, period_parts, billed_cost "
                f"FROM {qualified(ingest_table(spec.name))} ORDER BY ALL"
            ).fetchall(),
            "quarantine": con.execute(
                f"SELECT * EXCLUDE (run_id) FROM {qualified('audit.quarantine')} ORDER BY ALL"
            ).fetchall(),
        }


def partitions_of(root: Path, days: list[str]) -> list[tuple[str, list[str]]]:
    return [(day, [str(root / "landing" / f"acme/{day}.csv")]) for day in days]


def test_partitions_committed_together_load_as_one_commit_each(tmp_path: Path) -> None:
    results = {}
    for together in (False, True):
        root = tmp_path / str(together)
        land(root, MIXED_FILES)
        days = sorted(name.split("/")[1][:-4] for name in MIXED_FILES)
        results[together] = ingest(chip_lake(root), root, partitions_of(root, days), together)
    assert results[True]["commits"] == 1 and results[False]["commits"] == len(MIXED_FILES)
    for part in ("ledger", "rows", "quarantine"):
        assert results[True][part] == results[False][part], part
    assert len(results[True]["rows"]) == 7
    # the overnight line in two daily parts; the rows keep their numbers in the file past the rejected record
    assert [line[:4] for line in results[True]["lines"] if line[0] == "acme/2025-08-05.csv"] == [
        ("acme/2025-08-05.csv", 1, 1, 2),
        ("acme/2025-08-05.csv", 1, 2, 2),
        ("acme/2025-08-05.csv", 4, 1, 1),
    ]
    quarantined = [(q[2], q[3], q[4]) for q in results[True]["quarantine"]]
    assert quarantined == [
        ("acme/2025-08-01.csv", 2, "unparsable:gpu_count"),
        ("acme/2025-08-05.csv", 2, "unparsable:gpu_count"),
        ("acme/2025-08-05.csv", 3, "unparsable_record"),
    ]
    assert [r.rows for r in results[True]["outcomes"]] == [r.rows for r in results[False]["outcomes"]]


def test_a_partition_that_fails_in_a_joint_commit_rolls_back_alone(tmp_path: Path, lake: LakeConfig) -> None:
    land(tmp_path, MIXED_FILES)
    partitions = partitions_of(tmp_path, ["2025-08-01", "2025-08-06", "2025-08-04"])  # no file for the 6th
    found = ingest(lake, tmp_path, partitions, together=True)
    first, failed, last = found["outcomes"]
    assert isinstance(first, PartitionResult) and isinstance(last, PartitionResult)
    assert isinstance(failed, FileNotFoundError)
    assert found["commits"] == 2  # the joint commit rolled back; each good partition then committed alone
    loaded = {row[3]: row[13] for row in found["ledger"]}  # source_file -> status
    assert loaded == {"acme/2025-08-01.csv": "loaded", "acme/2025-08-04.csv": "loaded"}
    assert [row[-1] for row in found["ledger"]] == [
        1,
        2,
    ]  # arrivals numbered as if the failed commit never was


def test_commits_are_bounded_by_partitions_and_landed_bytes() -> None:
    keys = [f"2025-08-{day:02d}" for day in range(1, 41)]
    small = dict.fromkeys(keys, 1000)
    assert [len(b) for b in commit_batches(keys, small)] == [COMMIT_PARTITIONS, COMMIT_PARTITIONS, 8]
    sizes = {**small, keys[3]: COMMIT_BYTES + 1, keys[5]: COMMIT_BYTES // 2, keys[6]: COMMIT_BYTES // 2}
    batches = commit_batches(keys, sizes)
    assert [key for batch in batches for key in batch] == keys
    assert [keys[3]] in batches  # a partition larger than a commit's bytes commits alone
    assert all(sum(sizes[k] for k in b) <= COMMIT_BYTES or len(b) == 1 for b in batches)
    assert not any(keys[5] in b and keys[6] in b for b in batches)
