"""Benchmark: wall time and peak memory of the main job and of large demo generation.

Run with `make bench` (or `python tests/benchmarks/bench_make_run.py [--scale 100]`). Prints one JSON line per
measurement. Not part of the test suite: figures depend on the machine.
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


def main() -> None:
    """Measure `demo` + `refresh` at the default size, then `demo --scale K` (10M+ usage rows at K=100)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=100.0)
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="computeflow-bench-"))
    try:
        env = {"COMPUTEFLOW_HOME": str(home / "default")}
        demo = measure([str(BIN / "computeflow"), "demo"], env)
        refresh = measure([str(BIN / "computeflow"), "refresh"], env)
        lake = LakeConfig(str(home / "default" / "catalog.sqlite"), str(home / "default" / "lake"))
        with connect_reader(lake) as con:
            rows = con.execute("select count(*) from core.compute_usage").fetchall()[0][0]
        print(json.dumps({"step": "make run: demo", **demo}))
        print(json.dumps({"step": "make run: refresh", "core_usage_rows": rows, **refresh}))
        env = {"COMPUTEFLOW_HOME": str(home / "scaled")}
        scaled = measure(
            [str(BIN / "computeflow"), "demo", "--scale", str(args.scale), "--days", str(args.days)], env
        )
        manifest = json.loads((home / "scaled" / "landing" / "_demo_manifest.json").read_text())
        usage = sum(f["rows"] for f in manifest["files"] if f["path"].startswith("providers/"))
        print(json.dumps({"step": f"demo --scale {args.scale:g}", "usage_rows": usage, **scaled}))
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
