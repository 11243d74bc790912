"""Reference tables: strict loads of small CSV files into ref/*.parquet, and the views ingest joins."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from assets.contracts.declared import declared
from warehouse.ducklake import qualified
from warehouse.introspect import lake_tables
from warehouse.lake import Location, first_row, scalar, sql_ident, sql_str
from warehouse.rewrite import holds
from warehouse.settings import CONTRACTS_DIR
from warehouse.transactions import commit


class ReferenceDataError(ValueError):
    """A reference file that breaks its contract; the message names file, row and column."""


@dataclass(frozen=True)
class RefTable:
    """A reference table: where its CSV comes from; its typed columns and its key are those its declaration
    (data_contracts/tables/ref.<name>.yaml) gives."""

    name: str
    landing_file: str | None = None
    shipped_file: str | None = None
    renames: tuple[tuple[str, str], ...] = ()
    defaults: tuple[tuple[str, str | None], ...] = ()  # optional columns and the value they take when absent

    @property
    def columns(self) -> dict[str, str]:
        """Each column's SQL type, in the declared order."""
        return declared(f"ref.{self.name}").types

    @property
    def key(self) -> tuple[str, ...]:
        """The columns that identify a row (the declared row id)."""
        return declared(f"ref.{self.name}").row_id


REF_TABLES: dict[str, RefTable] = {
    t.name: t
    for t in (
        RefTable(
            "chips",
            shipped_file="reference/chip_specs.csv",
            renames=(("dense_bf16_or_fp16_tflops", "dense_tflops"),),
        ),
        RefTable(
            "chip_aliases",
            shipped_file="reference/chip_aliases.csv",
        ),
        RefTable(
            "licenses",
            shipped_file="reference/licenses.csv",
        ),
        RefTable(
            "modalities",
            shipped_file="reference/modalities.csv",
        ),
        RefTable(
            "programming_languages",
            shipped_file="reference/programming_languages.csv",
        ),
        RefTable(
            "focus_service_subcategories",
            shipped_file="reference/focus_1_2/service_subcategories.csv",
        ),
        RefTable(
            "task_categories",
            shipped_file="reference/task_categories.csv",
        ),
        RefTable(
            "sites",
            landing_file="reference/sites.csv",
        ),
        RefTable(
            "providers",
            landing_file="reference/providers.csv",
        ),
        RefTable(
            "tenants",
            landing_file="reference/tenants.csv",
        ),
        RefTable(
            "rate_cards",
            landing_file="reference/rate_cards.csv",
            # GPU time is priced per chip; model-API tokens per model (files without model_id price chips only)
            defaults=(("model_id", None),),
        ),
        RefTable(
            "fx_rates",
            landing_file="reference/fx_rates.csv",
        ),
        RefTable(
            "capacity_plan",
            landing_file="reference/capacity_plan.csv",
            # without pool_share, every card serves the tenants we receive usage of
            defaults=(("pool_share", "1.0"),),
        ),
    )
}

INGEST_REFERENCE = ("chips", "chip_aliases", "rate_cards", "fx_rates", "providers")


def _default_sql(value: str | None) -> str:
    return "CAST(NULL AS VARCHAR)" if value is None else sql_str(value)


def _empty_select(table: RefTable) -> str:
    return "SELECT " + ", ".join(f"CAST(NULL AS {t}) AS {sql_ident(c)}" for c, t in table.columns.items())


def load_reference_table(con: duckdb.DuckDBPyConnection, table: RefTable, landing: Location) -> int:
    """Validate one reference CSV strictly and replace the lake table ref.<name> (one commit); its row count."""
    rows = stage_reference_table(con, table, landing)
    with commit(con, f"reference {table.name}"):
        write_staged(con, table)
    return rows


def write_staged(con: duckdb.DuckDBPyConnection, table: RefTable) -> bool:
    """Replace ref.<name> with the staged rows (call inside a lake commit), unless it holds the same rows in the
    same columns already: then nothing is written, and checks that validate what changed see no change. Whether
    it wrote."""
    columns = ", ".join(sql_ident(c) for c in table.columns)
    keys = ", ".join(sql_ident(k) for k in table.key)
    name = "ref." + table.name
    staged = f"SELECT {columns} FROM __ref"
    changed = not holds(con, name, staged)
    if changed:
        con.execute(f"CREATE OR REPLACE TABLE {qualified(name)} AS {staged} ORDER BY {keys}")
    con.execute("DROP TABLE __ref")
    return changed


def stage_reference_table(con: duckdb.DuckDBPyConnection, table: RefTable, landing: Location) -> int:
    """Validate one reference CSV strictly into the temp table __ref; returns the row count."""
    if table.shipped_file:
        path, display = str(CONTRACTS_DIR / table.shipped_file), f"data_contracts/{table.shipped_file}"
    else:
        assert table.landing_file is not None
        if not landing.exists(table.landing_file):
            raise ReferenceDataError(f"{table.landing_file}: reference file is missing from the landing zone")
        path, display = landing.duckdb_path(landing.path(table.landing_file)), table.landing_file
    scan = f"read_csv({sql_str(path)}, all_varchar = true, header = true)"
    try:
        header = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
    except duckdb.Error as exc:
        raise ReferenceDataError(f"{display}: cannot read: {str(exc).splitlines()[0]}") from None
    renames = dict(table.renames)
    present = {renames.get(h, h): h for h in header}
    defaults = dict(table.defaults)
    missing = [c for c in table.columns if c not in present and c not in defaults]
    if missing:
        raise ReferenceDataError(
            f"{display}: missing column(s) {', '.join(missing)}; the file has {', '.join(header)}"
        )
    text = {
        c: f"nullif(trim({sql_ident(present[c])}), '')" if c in present else _default_sql(defaults[c])
        for c in table.columns
    }
    typed = ", ".join(f"TRY_CAST({text[c]} AS {t}) AS {sql_ident(c)}" for c, t in table.columns.items())
    raw = ", ".join(f"{text[c]} AS {sql_ident('raw_' + c)}" for c in table.columns)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __ref AS SELECT row_number() OVER () AS __row, {typed}, {raw} "
        f"FROM {scan}"
    )
    for column, sql_type in table.columns.items():
        bad = first_row(
            con,
            f"SELECT __row, {sql_ident('raw_' + column)} FROM __ref WHERE {sql_ident('raw_' + column)} IS NOT NULL "
            f"AND {sql_ident(column)} IS NULL ORDER BY __row LIMIT 1",
        )
        if bad:
            raise ReferenceDataError(
                f"{display}: row {bad[0]}: column {column}: {bad[1]!r} is not a valid {sql_type}"
            )
    keys = ", ".join(sql_ident(k) for k in table.key)
    dup = first_row(con, f"SELECT {keys}, count(*) FROM __ref GROUP BY ALL HAVING count(*) > 1 LIMIT 1")
    if dup:
        raise ReferenceDataError(f"{display}: duplicate key {dict(zip(table.key, dup, strict=False))}")
    for key in table.key[:1]:
        empty = scalar(con, f"SELECT min(__row) FROM __ref WHERE {sql_ident(key)} IS NULL")
        if empty is not None:
            raise ReferenceDataError(f"{display}: row {empty}: key column {key} is empty")
    return int(scalar(con, "SELECT count(*) FROM __ref"))


# The schema of the in-memory database that holds the ref_* views, searched after the connection's own objects.
REF_VIEWS = "memory.ref_views"
SEARCH_PATH = f"SET search_path = 'memory.main,{REF_VIEWS}'"


def create_ref_views(con: duckdb.DuckDBPyConnection) -> None:
    """Views ref_<name> over the lake's reference tables (typed and empty when not yet loaded), plus
    ref_chip_lookup (normalised alias keys), in a schema of the in-memory database: every cursor of the same
    DuckDB instance shares them once it sets SEARCH_PATH (DuckDB binds a view's names each time it is read, so a
    replaced reference table is read as it is now)."""
    existing = lake_tables(con)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {REF_VIEWS}")
    for name in REF_TABLES:
        create_ref_view(con, name, f"ref.{name}" in existing)
    con.execute(SEARCH_PATH)
    con.execute(
        f"CREATE OR REPLACE VIEW {REF_VIEWS}.ref_chip_lookup AS "
        "SELECT DISTINCT upper(regexp_replace(name, '[ _-]', '', 'g')) AS key, chip_model FROM ("
        "SELECT chip_model AS name, chip_model FROM ref_chips "
        "UNION ALL SELECT alias AS name, chip_model FROM ref_chip_aliases)"
    )


def create_ref_view(con: duckdb.DuckDBPyConnection, name: str, loaded: bool = True) -> None:
    """The view ref_<name> over the lake's reference table, or typed and empty while it is not `loaded`."""
    source = qualified(f"ref.{name}") if loaded else f"({_empty_select(REF_TABLES[name])} LIMIT 0)"
    con.execute(f"CREATE OR REPLACE VIEW {REF_VIEWS}.ref_{name} AS SELECT * FROM {source}")
