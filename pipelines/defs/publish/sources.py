"""The meta/sources asset: one row per source spec, which says which sources are reference samples."""

import hashlib

import dagster as dg
from dagster import AssetExecutionContext

from assets.dictionary.sources import source_rows
from assets.ingest.spec import SourceSpec
from assets.keys import SOURCES_KEY
from assets.pools import write_pool
from assets.resources import Lakehouse
from assets.table_metadata import add_table_metadata
from assets.tables import SOURCES_TABLE, TABLES
from assets.versions import project_code_version
from warehouse.rewrite import replace_table


def build_sources_asset(specs: list[SourceSpec]) -> dg.AssetsDefinition:
    """The meta/sources asset: rewritten whenever the code or any spec changes."""
    version = hashlib.sha1(
        (project_code_version() + "".join(s.model_dump_json() for s in specs)).encode()
    ).hexdigest()[:16]

    @dg.asset(
        key=SOURCES_KEY,
        group_name="warehouse",
        kinds={"duckdb", "ducklake"},
        pool=write_pool(SOURCES_KEY),
        code_version=version,
        description="Source specs: kind, provider, provenance and whether each is a reference sample (left "
        "out of dashboards and headline figures unless asked).",
    )
    def sources(context: AssetExecutionContext, lakehouse: Lakehouse) -> dg.MaterializeResult:
        declared = TABLES[SOURCES_TABLE].columns
        columns = ", ".join(f"{c} {t}" for c, t in declared.items())
        with lakehouse.connect() as con:
            con.execute(f"CREATE OR REPLACE TEMP TABLE __sources ({columns})")
            rows = source_rows(specs)
            if rows:
                con.executemany(f"INSERT INTO __sources VALUES ({', '.join('?' for _ in declared)})", rows)
            replace_table(con, SOURCES_TABLE, "SELECT * FROM __sources ORDER BY source_name")
            con.execute("DROP TABLE __sources")
            add_table_metadata(context, con, SOURCES_TABLE)
        return dg.MaterializeResult(metadata={"samples": sum(r[3] for r in rows)})

    return sources
