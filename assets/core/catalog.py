"""core.dataset_catalog: a type-2 history over catalog snapshots, its terms normalised (core.dataset_terms)."""

from __future__ import annotations

import duckdb

from assets.core.queries import union_sources
from assets.core.vocabulary import build_terms, normalised_lists_sql
from assets.ingest.attributes import json_path
from assets.ingest.spec import SourceSpec
from assets.ingest.targets import CATALOG
from assets.tables import TABLES
from warehouse.ducklake import qualified
from warehouse.lake import sql_ident, sql_str
from warehouse.rewrite import replace_table
from warehouse.transactions import commit

# A dataset's attributes whose change makes a new version (its id and the times of the snapshot do not).
HISTORY_ATTRIBUTES = tuple(c for c in CATALOG.columns if c not in ("dataset_id", "updated_at", "snapshot_at"))


def catalog_history_query(union: str, version_on: dict[str, list[str]] | None = None) -> str:
    """core.dataset_catalog as a type-2 history over catalog snapshots.

    A snapshot is a day of a source: the day partition of its file, else the day of its `snapshot_at`. A
    dataset gets a new version when any tracked attribute changes between consecutive snapshots of its
    catalog: the columns of HISTORY_ATTRIBUTES, and the kept attributes its source lists in `version_on`
    (source name -> attribute names). An unchanged dataset adds nothing; a version carries the kept
    attributes of the last snapshot it was current in. A dataset missing from a snapshot has its version
    closed on that snapshot's day and marked removed, also when it comes back in a later snapshot (with a
    new version).
    """
    attrs = ", ".join([*(f"CAST({sql_ident(a)} AS VARCHAR)" for a in HISTORY_ATTRIBUTES), _kept(version_on)])
    return f"""
    WITH rows AS (
        SELECT * FROM (
            SELECT *, coalesce(TRY_CAST(partition_key AS DATE), CAST(snapshot_at AS DATE)) AS snapshot_date,
                   md5(concat_ws('|', {attrs})) AS __hash
            FROM ({union})
        )
        QUALIFY row_number() OVER (
            PARTITION BY source_name, dataset_id, snapshot_date ORDER BY source_file, source_row
        ) = 1
    ),
    snaps AS (
        SELECT source_name, snapshot_date,
               row_number() OVER (PARTITION BY source_name ORDER BY snapshot_date) AS snap_idx,
               count(*) OVER (PARTITION BY source_name) AS snap_count
        FROM (SELECT DISTINCT source_name, snapshot_date FROM rows)
    ),
    indexed AS (
        SELECT r.*, s.snap_idx, s.snap_count FROM rows r JOIN snaps s USING (source_name, snapshot_date)
    ),
    marked AS (
        SELECT *, (lag(__hash) OVER w IS DISTINCT FROM __hash OR lag(snap_idx) OVER w <> snap_idx - 1) AS __new
        FROM indexed WINDOW w AS (PARTITION BY source_name, dataset_id ORDER BY snap_idx)
    ),
    runs AS (
        SELECT *, sum(CAST(__new AS INTEGER)) OVER (PARTITION BY source_name, dataset_id ORDER BY snap_idx) AS __run
        FROM marked
    ),
    versions AS (
        SELECT * REPLACE (last_value(attributes) OVER run AS attributes), max(snap_idx) OVER run AS __last_idx
        FROM runs
        WINDOW run AS (
            PARTITION BY source_name, dataset_id, __run ORDER BY snap_idx
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        )
        QUALIFY __new
    ),
    closed AS (  -- a version closes on a change (the next version opens on the next snapshot) or a removal
        SELECT *, lead(snap_idx) OVER (PARTITION BY source_name, dataset_id ORDER BY snap_idx) AS __next_from
        FROM versions
    )
    SELECT v.* EXCLUDE (__hash, __new, __run, __last_idx, __next_from, snap_idx, snap_count),
           v.snapshot_date AS valid_from,
           s.snapshot_date AS valid_to,
           s.snapshot_date IS NULL AS is_current,
           (v.__last_idx < v.snap_count AND v.__next_from IS DISTINCT FROM v.__last_idx + 1) AS is_removed
    FROM closed v
    LEFT JOIN snaps s ON s.source_name = v.source_name AND s.snap_idx = v.__last_idx + 1
    """


def _kept(version_on: dict[str, list[str]] | None) -> str:
    """SQL of the kept attributes a row's source versions on, as one text (NULL for a source that has none);
    an attribute that is null counts as absent."""
    cases = [
        f"WHEN {sql_str(source)} THEN to_json(["
        + ", ".join(
            f"nullif(CAST(json_extract(attributes, {sql_str(json_path(a))}) AS VARCHAR), 'null')"
            for a in names
        )
        + "])"
        for source, names in (version_on or {}).items()
        if names
    ]
    return f"CASE source_name {' '.join(cases)} END" if cases else "NULL"


def catalog_query(history: str, terms: str) -> str:
    """core.dataset_catalog: the history table `history` with licences, modalities, languages and tasks
    normalised through the lookup table `terms` (see assets.core.vocabulary) and ref.licenses.

    `license_spdx` joins the SPDX ids of all the version's licences; `commercial_use` is false when any licence
    forbids it, true when every licence is known to allow it, NULL otherwise (unknown or unmapped licences);
    `unmapped_licenses` counts the licences given that ref.licenses does not know (none given: 0, unknown).
    """
    maps, lists = normalised_lists_sql(terms)
    return f"""
    WITH each AS (
        SELECT * FROM (
            SELECT source_name, dataset_id, valid_from, unnest(coalesce(licenses, [license])) AS raw_license
            FROM {history}
        )
        WHERE trim(raw_license) <> ''
    ),
    mapped AS (
        SELECT e.source_name, e.dataset_id, e.valid_from,
               string_agg(DISTINCT m.spdx_id, ' AND ' ORDER BY m.spdx_id) AS license_spdx,
               CASE WHEN bool_or(NOT m.commercial_use) THEN false
                    WHEN count(m.commercial_use) = count(*) THEN true END AS commercial_use,
               count(*) FILTER (WHERE m.raw_license IS NULL) AS unmapped_licenses
        FROM each e LEFT JOIN ref_licenses m ON lower(trim(e.raw_license)) = lower(m.raw_license)
        GROUP BY ALL
    )
    SELECT h.*, m.license_spdx, m.commercial_use, coalesce(m.unmapped_licenses, 0) AS unmapped_licenses, {lists}
    FROM {history} h LEFT JOIN mapped m USING (source_name, dataset_id, valid_from) CROSS JOIN {maps}
    ORDER BY source_name, dataset_id, valid_from
    """


def write_dataset_catalog(con: duckdb.DuckDBPyConnection, sources: list[SourceSpec]) -> dict[str, int]:
    """Rebuild core.dataset_catalog and core.dataset_terms from the catalog sources' loaded rows, in one commit;
    returns how many raw terms of each facet are unmapped."""
    union = union_sources(con, sources, "catalog")
    if union is None:
        for name in ("dataset_catalog", "dataset_terms"):
            table = TABLES[f"core.{name}"]
            replace_table(con, table.name, f"{table.empty_select()} LIMIT 0")
        return {}
    version_on = {s.name: s.attributes.version_on for s in sources if s.attributes}
    con.execute(f"CREATE OR REPLACE TEMP TABLE __history AS {catalog_history_query(union, version_on)}")
    build_terms(con, "__history", "__terms")
    with commit(con, "core.dataset_catalog and core.dataset_terms"):
        con.execute(
            f"CREATE OR REPLACE TABLE {qualified('core.dataset_catalog')} AS {catalog_query('__history', '__terms')}"
        )
        con.execute(f"CREATE OR REPLACE TABLE {qualified('core.dataset_terms')} AS SELECT * FROM __terms")
    return dict(
        con.execute("SELECT facet, count(*) FROM __terms WHERE method = 'unmapped' GROUP BY 1").fetchall()
    )
