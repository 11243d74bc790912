"""Benchmark: ingest one large provider CSV end to end into core.compute_usage, against DuckDB's own COPY.

For each size (default 1M and 10M rows) it writes China Unicom's FOCUS CSV feed with `computeflow demo --scale`,
joins the daily files into one UTF-8 (byte-order mark) CSV, then measures in separate processes:
  baseline:    DuckDB `COPY (SELECT * FROM read_csv(file)) TO 'x.parquet'`
  computeflow: `computeflow refresh --skip-checks` of ingest/unicom_sh and core/compute_usage for that file's
               day, committed to the DuckLake lake (reference tables loaded first, outside the measurement)
  contract:    `computeflow check core.compute_usage`, the table's Great Expectations suite on the result
Prints one JSON line per measurement (seconds, peak RSS) and the ratio. Run: `python tests/benchmarks/bench_ingest.py`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.measure import measure
from warehouse.ducklake import LakeConfig, connect_reader

BIN = Path(sys.executable).parent
ROWS_PER_SCALE = 16_900  # Unicom feed rows over 120 days at --scale 1
DAY = "2025-11-28"  # the last demo day: the file holds charges of the 120 days up to it
SELECTION = "key:ingest/unicom_sh or key:core/compute_usage"


def build_csv(rows: int, work: Path) -> tuple[Path, Path]:
    """A CSV of exactly `rows` data rows from the demo's Unicom feed, and the demo landing (for reference data)."""
    home = work / "demo"
    scale = max(1, round(rows / ROWS_PER_SCALE * 1.02))
    code = measure(
        [str(BIN / "computeflow"), "demo", "--scale", str(scale), "--provider", "unicom_sh"],
        {"COMPUTEFLOW_HOME": str(home)},
    )["returncode"]
    if code:
        raise SystemExit("computeflow demo failed")
    target = work / f"focus_{rows}.csv"
    written = 0
    with open(target, "wb") as out:
        for i, daily in enumerate(sorted((home / "landing" / "providers" / "unicom_sh").glob("focus_*.csv"))):
            with open(daily, "rb") as handle:
                header = handle.readline()
                if i == 0:
                    out.write(header)
                for line in handle:
                    if written == rows:
                        break
                    out.write(line)
                    written += 1
            daily.unlink()
    if written < rows:
        raise SystemExit(f"the demo wrote {written} rows, fewer than {rows}")
    return target, home / "landing"


def run(rows: int, work: Path) -> None:
    """Measure one size."""
    csv_path, demo_landing = build_csv(rows, work)
    baseline = measure(
        [
            sys.executable,
            "-c",
            (
                'import duckdb; duckdb.execute("SET enable_progress_bar=false"); '
                f"duckdb.execute(\"COPY (SELECT * FROM read_csv('{csv_path}')) TO '{work / 'baseline.parquet'}'\")"
            ),
        ]
    )
    home = work / "computeflow"
    landing = home / "landing"
    shutil.copytree(demo_landing / "reference", landing / "reference")
    drop = landing / "providers" / "unicom_sh" / f"focus_{DAY}.csv"
    drop.parent.mkdir(parents=True)
    drop.hardlink_to(csv_path)
    env = {"COMPUTEFLOW_HOME": str(home)}
    if measure([str(BIN / "computeflow"), "refresh", "--select", "key:ref/*"], env)["returncode"]:
        raise SystemExit("loading the reference tables failed")
    ours = measure(
        [str(BIN / "computeflow"), "refresh", "--select", SELECTION, "--partition", DAY, "--skip-checks"], env
    )
    contract = measure([str(BIN / "computeflow"), "check", "core.compute_usage"], env)
    with connect_reader(LakeConfig(str(home / "catalog.sqlite"), str(home / "lake"))) as con:
        read, loaded = con.execute(
            "SELECT rows_read, rows_loaded FROM audit.ingest_ledger WHERE source_name = 'unicom_sh'"
        ).fetchall()[0]
        core = con.execute("SELECT count(*) FROM core.compute_usage").fetchall()
    size = csv_path.stat().st_size
    print(json.dumps({"rows": rows, "bytes": size, "step": "duckdb COPY baseline", **baseline}))
    print(
        json.dumps(
            {
                "rows": rows,
                "step": "computeflow ingest -> core.compute_usage",
                "rows_read": read,
                "rows_loaded": loaded,
                "core_rows": core[0][0],
                **ours,
                "ratio_to_baseline": round(ours["seconds"] / baseline["seconds"], 2),
            }
        ),
        flush=True,
    )
    print(
        json.dumps(
            {
                "rows": rows,
                "step": "contract check of core.compute_usage",
                **contract,
                "ratio_to_ingest": round(contract["seconds"] / ours["seconds"], 2),
            }
        ),
        flush=True,
    )
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    """Run every requested size."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    for rows in args.rows:
        run(rows, Path(tempfile.mkdtemp(prefix="computeflow-bench-")))


if __name__ == "__main__":
    main()
