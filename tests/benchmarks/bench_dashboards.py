"""Benchmark: regenerate the dashboard site from the lakehouse.

Builds every page of `assets.dashboards.site.build_site` from the lakehouse of COMPUTEFLOW_HOME (run
`computeflow demo` and `computeflow refresh` first; the latest check results are not read, the quality page's
check table stays empty) into a temporary directory and prints one JSON line: wall seconds, peak RSS, and rows
embedded and bytes written per page. Run: `COMPUTEFLOW_HOME=data python tests/benchmarks/bench_dashboards.py`.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from assets.dashboards.site import build_site
from warehouse.settings import Settings


def main() -> None:
    """Build the site once and report."""
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        pages = build_site(settings.lake, Path(out), [], datetime.now(UTC))
        seconds = time.perf_counter() - start
        lake_bytes = sum(p.stat().st_size for p in Path(settings.lake_url).rglob("*.parquet"))
        report = {
            "lake_mb": round(lake_bytes / 2**20, 1),
            "wall_seconds": round(seconds, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "pages": {p.name: {"rows": p.rows, "kb": round(p.path.stat().st_size / 1024)} for p in pages},
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
