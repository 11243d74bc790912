"""Benchmark: the same demo refresh with landing and lake on an S3-protocol server, against local disk.

Generates one demo (default 10 days at scale 0.3), then runs `computeflow refresh` twice in separate processes,
side by side in one run: once on local disk (SQLite catalog, local lake and landing), once with the landed
files uploaded to a moto S3 server on loopback and the lake's data written there (same SQLite catalog kind).
Prints one JSON line per run (seconds, peak RSS, and for S3 the requests by method) and the ratio S3 / local.
Run: `python tests/benchmarks/bench_s3.py [--days 10] [--scale 0.3]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.measure import measure
from tests.services import s3_server
from tests.test_scale_out import upload_tree

BIN = Path(sys.executable).parent
BUCKET = "computeflow"


def main() -> None:
    """Run both refreshes and print their figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--scale", type=float, default=0.3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        local = {"COMPUTEFLOW_HOME": str(work / "local")}
        demo = [str(BIN / "computeflow"), "demo", "--days", str(args.days), "--scale", str(args.scale)]
        if measure(demo, local)["returncode"]:
            raise SystemExit("computeflow demo failed")
        figures = {"local": measure([str(BIN / "computeflow"), "refresh"], local)}
        with s3_server() as server:
            bucket = server.bucket(BUCKET)
            landed = upload_tree(server.client(), work / "local" / "landing", BUCKET, "landing")
            remote = {
                **server.env,
                "COMPUTEFLOW_HOME": str(work / "remote"),
                "COMPUTEFLOW_LANDING_URL": f"{bucket}/landing",
                "COMPUTEFLOW_LAKE_URL": f"{bucket}/lake",
            }
            server.reset_counts()
            figures["s3"] = measure([str(BIN / "computeflow"), "refresh"], remote)
            figures["s3"]["requests"] = dict(sorted(server.requests().items()))
            figures["s3"]["landed_files"] = landed
        for name, figure in figures.items():
            if figure["returncode"]:
                raise SystemExit(f"the {name} refresh failed: {figure}")
            print(json.dumps({"run": name, "days": args.days, "scale": args.scale, **figure}))
        print(
            json.dumps(
                {"ratio_s3_to_local": round(figures["s3"]["seconds"] / figures["local"]["seconds"], 2)}
            )
        )


if __name__ == "__main__":
    main()
