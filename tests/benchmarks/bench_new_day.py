"""Benchmark: what a refresh writes when one day is added, at several lengths of history.

For each history (default 30 and 120 days of the demo) it generates N+1 days, holds the last day's landed files
back, refreshes, then lands that day and refreshes again, measuring that second refresh: wall time, and the bytes
it wrote to the lake (new Parquet data and delete files, in total, by schema and by table) and to the catalog; then a
refresh with nothing new. Prints one JSON line per history (with the wall and CPU time of the first,
whole-history refresh from an empty lake, and of the refresh with nothing new) and the ratio of the longest
history's figures to the shortest's.
Run: `python tests/benchmarks/bench_new_day.py [--days 30 120]`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from assets.ingest.check import load_checked_specs
from assets.ingest.engine import landed_files
from tests.benchmarks.measure import measure
from warehouse.lake import Location
from warehouse.settings import CONTRACTS_DIR

BIN = Path(sys.executable).parent


def lake_files(home: Path) -> dict[str, int]:
    """Size of every data file under the lake."""
    return {str(p): p.stat().st_size for p in (home / "lake").rglob("*") if p.is_file()}


def run(days: int, work: Path) -> dict:
    """Measure adding day N+1 to N days of history."""
    home = work / f"days{days}"
    env = {"COMPUTEFLOW_HOME": str(home)}
    if measure([str(BIN / "computeflow"), "demo", "--days", str(days + 1)], env)["returncode"]:
        raise SystemExit("computeflow demo failed")
    landing = Location(str(home / "landing"))
    held = work / "held"
    last = None
    for spec in load_checked_specs(CONTRACTS_DIR / "sources"):
        if spec.landing.partition is None:
            continue
        grouped = landed_files(spec, landing)
        last = max([last, *grouped]) if last else max(grouped, default=None)
    for spec in load_checked_specs(CONTRACTS_DIR / "sources"):
        if spec.landing.partition is not None:
            for path in landed_files(spec, landing).get(last, []):
                target = held / Path(path).relative_to(home / "landing")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, target)
    history = measure([str(BIN / "computeflow"), "refresh"], env)
    if history["returncode"]:
        raise SystemExit("the refresh of the history failed")
    before, catalog_before = lake_files(home), (home / "catalog.sqlite").stat().st_size
    for path in held.rglob("*"):
        if path.is_file():
            target = home / "landing" / path.relative_to(held)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), target)
    refresh = measure([str(BIN / "computeflow"), "refresh"], env)
    after = lake_files(home)
    nothing = measure([str(BIN / "computeflow"), "refresh"], env)  # nothing new since
    changed = {path: size for path, size in after.items() if before.get(path) != size}
    written = sum(changed.values())
    by_schema: dict[str, int] = {}
    by_table: dict[str, int] = {}
    for path, size in changed.items():
        schema, table = Path(path).relative_to(home / "lake").parts[:2]
        by_schema[schema] = by_schema.get(schema, 0) + size
        by_table[f"{schema}.{table}"] = by_table.get(f"{schema}.{table}", 0) + size
    catalog = (home / "catalog.sqlite").stat().st_size - catalog_before
    return {
        "history_days": days,
        "new_day": last,
        "lake_bytes_written": written,
        "lake_bytes_written_by_schema": dict(sorted(by_schema.items())),
        "lake_bytes_written_by_table": dict(sorted(by_table.items(), key=lambda item: -item[1])),
        "catalog_bytes_grown": catalog,
        "lake_bytes_total": sum(after.values()),
        **refresh,
        "history_refresh_seconds": round(history["seconds"], 1),
        "history_refresh_cpu_seconds": round(history["cpu_seconds"], 1),
        "history_refresh_peak_rss_mib": round(history["peak_rss_mib"]),
        "no_change_refresh_seconds": round(nothing["seconds"], 1),
        "no_change_refresh_cpu_seconds": round(nothing["cpu_seconds"], 1),
        "no_change_lake_bytes_written": sum(s for p, s in lake_files(home).items() if after.get(p) != s),
    }


def main() -> None:
    """Measure every requested history length, then the ratio of the longest to the shortest."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, nargs="+", default=[30, 120])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="computeflow-bench-"))
    try:
        results = [run(days, work) for days in args.days]
        for result in results:
            print(json.dumps(result), flush=True)
        first, last = results[0], results[-1]
        print(
            json.dumps(
                {
                    "ratio": f"{last['history_days']} / {first['history_days']} days",
                    "bytes_written": round(
                        last["lake_bytes_written"] / max(1, first["lake_bytes_written"]), 2
                    ),
                    "seconds": round(last["seconds"] / first["seconds"], 2),
                }
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
