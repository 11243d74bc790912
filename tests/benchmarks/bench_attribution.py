"""Benchmark: voucher attribution of synthetic charge lines, generated in DuckDB.

A year of lines (md5 line ids, 99.8% paid usage, 0.1% unlinked credits, 0.1% tax, a few storage and network
lines) over one tenant per five vouchers, eight providers and three affiliated tenant/provider pairs; vouchers
split 60/40 between city (30%) and district (20-70%) funders, valid for a year from a date between October 2024
and October 2025. Prints one JSON line with the wall time of generation and of attribution and the peak RSS.
DuckDB runs under `--memory-limit` (default 2GB, as a refresh would set COMPUTEFLOW_DUCKDB_MEMORY) and spills to
a temporary directory beyond it.
Run: `python tests/benchmarks/bench_attribution.py --lines 10000000 --vouchers 10000 [--memory-limit 2GB]`.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from assets.subsidy.attribution import attribute
from assets.subsidy.policy import load_policy

PROVIDERS = (
    "telecom_sh",
    "unicom_sh",
    "mobile_sh",
    "volcano_engine",
    "infinigence",
    "sensetime",
    "alibaba_pai",
)


def _pick(values: tuple[str, ...], salt: str) -> str:
    return f"[{', '.join(repr(v) for v in values)}][CAST(hash(i, '{salt}') % {len(values)} AS BIGINT) + 1]"


def generate(con: duckdb.DuckDBPyConnection, lines: int, vouchers: int, tenants: int) -> None:
    """Tables lines, vouchers and affiliations, deterministic for given sizes."""
    tenant = f"'T' || lpad(CAST(hash(i, 'tenant') % {tenants} AS VARCHAR), 5, '0')"
    scale = max(1.0, lines / 1_000_000)  # face values grow with the usage so that most lines stay subsidised
    draw = "(hash(i, '{}') % 1000000) / 1e6"
    con.execute(
        f"""
        CREATE TABLE lines AS
        SELECT md5(CAST(i AS VARCHAR)) AS charge_line_id, {tenant} AS tenant_id,
               {_pick(PROVIDERS, "provider")} AS provider_id,
               TIMESTAMPTZ '2025-01-01 00:00:00+08' + to_seconds(CAST(hash(i, 'time') % 31536000 AS BIGINT))
                   AS charge_period_start,
               CAST(CASE WHEN u < 0.001 THEN -(1 + 200 * {draw.format("cost")})
                         ELSE 1 + 2000 * {draw.format("cost")} END AS DECIMAL(18,4)) AS billed_cost_cny,
               CASE WHEN u < 0.001 THEN 'Credit' WHEN u < 0.002 THEN 'Tax' ELSE 'Usage' END AS charge_category,
               CASE WHEN u < 0.95 THEN 'AI and Machine Learning' WHEN u < 0.97 THEN 'Compute'
                    WHEN u < 0.99 THEN 'Storage' ELSE 'Networking' END AS service_category
        FROM (SELECT i, {draw.format("kind")} AS u FROM range({lines}) r(i))
        """
    )
    con.execute(
        f"""
        CREATE TABLE vouchers AS
        SELECT 'V' || lpad(CAST(i AS VARCHAR), 6, '0') AS voucher_id, {tenant} AS tenant_id, 'compute' AS programme,
               CASE WHEN u < 0.6 THEN 'city' ELSE 'district' END AS funder,
               CAST((10000 + 490000 * {draw.format("face")}) * {scale} AS DECIMAL(18,4)) AS face_value_cny,
               CASE WHEN u < 0.6 THEN 0.3 ELSE 0.2 + 0.1 * (hash(i, 'ratio') % 6) END AS coverage_ratio,
               DATE '2024-10-01' + CAST(hash(i, 'from') % 365 AS INTEGER) AS valid_from,
               DATE '2024-10-01' + CAST(hash(i, 'from') % 365 AS INTEGER) + 364 AS valid_to,
               CAST(CASE WHEN u < 0.6 THEN 5000000 ELSE 2000000 END AS DECIMAL(18,4)) AS annual_cap
        FROM (SELECT i, {draw.format("funder")} AS u FROM range({vouchers}) r(i))
        """
    )
    con.execute(
        "CREATE TABLE affiliations AS SELECT * FROM (VALUES ('T00011', 'sensetime', 'subsidiary'), "
        "('T00012', 'infinigence', 'spin_off'), ('T00013', 'telecom_sh', 'subsidiary')) "
        "t(tenant_id, provider_id, relation)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--vouchers", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, help="default: one per five vouchers, at least 100")
    parser.add_argument("--memory-limit", default="2GB", help="DuckDB memory_limit; 'none' for no limit")
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="bench-attribution-")
    config = {"temp_directory": scratch.name}
    if args.memory_limit != "none":
        config["memory_limit"] = args.memory_limit
    con = duckdb.connect(config=config)
    start = time.perf_counter()
    generate(con, args.lines, args.vouchers, args.tenants or max(100, args.vouchers // 5))
    generated = time.perf_counter()
    attribute(con, "lines", "vouchers", load_policy(), "affiliations")
    done = time.perf_counter()
    counts = con.execute(
        "SELECT (SELECT count(*) FROM subsidy_attribution), (SELECT sum(amount) FROM subsidy_attribution), "
        "(SELECT count(*) FROM subsidy_unattributed), (SELECT count(*) FROM subsidy_voucher_balances)"
    ).fetchone()
    print(
        json.dumps(
            {
                "lines": args.lines,
                "vouchers": args.vouchers,
                "memory_limit": args.memory_limit,
                "generate_seconds": round(generated - start, 2),
                "attribute_seconds": round(done - generated, 2),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "attribution_rows": counts[0],
                "subsidy_total": str(counts[1]),
                "unattributed_lines": counts[2],
                "balance_rows": counts[3],
            }
        )
    )


if __name__ == "__main__":
    main()
