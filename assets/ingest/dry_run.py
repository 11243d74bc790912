"""`computeflow sources try`: the real ingest of one sample file into a scratch lake, and what it would load.

Nothing of the deployment is written: the sample is copied into a scratch landing zone, ingested by the same
engine as a refresh into a scratch DuckLake (the shipped reference tables, plus the deployment's rate cards,
exchange rates, providers and tenants when its landing zone has them), and read back.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import great_expectations as gx

from assets.contracts.declared import TABLES_DIR
from assets.contracts.validation import ROW_QUERY, ExpectationOutcome, load_suite, run_suite
from assets.ingest.compile import raw_fields_of
from assets.ingest.engine import UNPARTITIONED, Ingestor
from assets.ingest.ledger import LedgerRow
from assets.ingest.spec import SourceSpec
from assets.ingest.targets import TARGETS
from assets.reference.tables import REF_TABLES, create_ref_views, load_reference_table
from assets.tables import CHARGE_LINE_ID, create_lake_tables, ingest_table
from warehouse.ducklake import LakeConfig, attach, offline_config, qualified
from warehouse.lake import Location, sql_ident, sql_str

EXAMPLES = 3  # quarantined rows shown per rule
FIRST_ROWS = 5
DEPLOYMENT_REFERENCE = ("rate_cards", "fx_rates", "providers", "tenants")
SHOWN = {
    "usage": (
        "source_line",
        "tenant_id",
        "charge_period_start",
        "charge_period_end",
        "chip_model",
        "model_id",
        "gpu_hours",
        "consumed_quantity",
        "consumed_unit",
        "billed_cost",
        "billing_currency",
        "billed_cost_cny",
    ),
    "transfers": ("transfer_id", "tenant_id", "bytes", "start_time", "end_time", "cost", "status"),
    "catalog": ("dataset_id", "name", "publisher", "license", "size_bytes", "updated_at"),
    "vouchers": ("voucher_id", "tenant_id", "programme", "funder", "face_value", "valid_from", "valid_to"),
}


@dataclass
class DryRun:
    """What one sample file would load."""

    ledger: LedgerRow
    reasons: list[tuple[str, int, list[tuple[int, str]]]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    first_rows: list[tuple] = field(default_factory=list)
    totals: dict[str, object] = field(default_factory=dict)
    rates: list[tuple] = field(default_factory=list)
    contract: list[ExpectationOutcome] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


def try_sample(spec: SourceSpec, sample: Path, landing: Location | None) -> DryRun:
    """Ingest `sample` as a file of `spec` into a scratch lake; `landing` is the deployment's landing zone,
    whose reference CSVs (rate cards, exchange rates, providers, tenants) price and check the rows."""
    with tempfile.TemporaryDirectory(prefix="computeflow-try-") as scratch:
        root = Path(scratch)
        lake = LakeConfig(str(root / "catalog.sqlite"), str(root / "lake"))
        scratch_landing = Location(str(root / "landing"))
        target = root / "landing" / sample.name
        target.parent.mkdir(parents=True)
        shutil.copyfile(sample, target)
        key = (
            spec.landing.partition.day_of(sample.name) if spec.landing.partition else None
        ) or UNPARTITIONED
        with duckdb.connect(config=offline_config()) as con:
            con.execute("SET TimeZone = 'UTC'")
            attach(con, lake)
            create_lake_tables(con)
            create_ref_views(con)
            _load_reference(con, scratch_landing, landing)
            # the engine ingests the sample by its path: the spec's glob is not asked to match it
            result = Ingestor(con, spec, scratch_landing, str(root / "scratch"), "try").run(
                key, [str(target)]
            )
            run = DryRun(result.rows[0])
            run.reasons = _reasons(con, spec)
            _read_back(con, spec, run)
            run.unused = unused_keys(spec) + _missing_reference(con, spec)
            con.execute("DETACH lake")
    return run


def _load_reference(con: duckdb.DuckDBPyConnection, scratch: Location, landing: Location | None) -> None:
    for name, table in REF_TABLES.items():
        if table.shipped_file:
            load_reference_table(con, table, scratch)
        elif (
            name in DEPLOYMENT_REFERENCE and landing is not None and landing.exists(table.landing_file or "")
        ):
            load_reference_table(con, table, landing)


def _reasons(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec
) -> list[tuple[str, int, list[tuple[int, str]]]]:
    """Each quarantine or skip rule with its row count and the first rows it took (row, raw content)."""
    rows = con.execute(
        f"SELECT rule, count(*), list([CAST(source_row AS VARCHAR), raw_content] ORDER BY source_row)[:{EXAMPLES}] "
        f"FROM {qualified('audit.quarantine')} WHERE source_name = ? GROUP BY rule ORDER BY count(*) DESC, rule",
        [spec.name],
    ).fetchall()
    return [(rule, int(n), [(int(r), str(raw)) for r, raw in examples]) for rule, n, examples in rows]


def _read_back(con: duckdb.DuckDBPyConnection, spec: SourceSpec, run: DryRun) -> None:
    """The first loaded rows, money and quantity totals, the rate-card rows that priced lines, and the rows
    the published table's contract would reject."""
    table = qualified(ingest_table(spec.name))
    if not run.ledger.rows_loaded:
        return
    present = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    run.columns = [c for c in SHOWN[spec.kind] if c in present]
    listed = ", ".join(sql_ident(c) for c in run.columns)
    run.first_rows = con.execute(
        f"SELECT {listed} FROM {table} ORDER BY source_row, source_line NULLS FIRST LIMIT {FIRST_ROWS}"
        if spec.kind == "usage"
        else f"SELECT {listed} FROM {table} ORDER BY source_row LIMIT {FIRST_ROWS}"
    ).fetchall()
    totals = {
        "usage": ("billed_cost_cny", "list_cost_cny", "gpu_hours", "pflop_hours", "consumed_quantity"),
        "transfers": ("bytes", "cost_cny"),
        "vouchers": ("face_value_cny",),
        "catalog": (),
    }[spec.kind]
    if totals:
        values = con.execute(
            f"SELECT {', '.join(f'sum({sql_ident(c)})' for c in totals)} FROM {table}"
        ).fetchone()
        run.totals = dict(zip(totals, values, strict=True))
    if spec.kind == "usage" and spec.pricing:
        run.rates = _rate_rows(con, spec, table)
    run.contract = _contract(con, spec, table)


def _rate_rows(con: duckdb.DuckDBPyConnection, spec: SourceSpec, table: str) -> list[tuple]:
    """The rate-card rows that priced the loaded lines (service of the line, its chip or model, valid on its
    day), each with how many lines it priced."""
    assert spec.pricing is not None
    item = "model_id" if spec.pricing.per == "model" else "chip_model"
    services = " ".join(
        f"WHEN {sql_str(line.name)} THEN {sql_str(line.service or spec.pricing.service)}"
        for line in spec.lines
    )
    default = sql_str(spec.pricing.service)
    service = f"CASE u.source_line {services} ELSE {default} END" if spec.lines else default
    return con.execute(
        f"SELECT r.service, r.{item}, r.unit, r.list_price, r.contracted_price, r.currency, r.valid_from, "
        f"count(*) FROM {table} u JOIN ref_rate_cards r ON r.provider_id = ? AND r.service = {service} "
        f"AND r.{item} = u.{item} AND u.charge_date >= r.valid_from "
        "AND (r.valid_to IS NULL OR u.charge_date <= r.valid_to) "
        "WHERE u.priced_from_rate_card GROUP BY ALL ORDER BY ALL",
        [spec.pricing.rate_card_provider],
    ).fetchall()


def _contract(con: duckdb.DuckDBPyConnection, spec: SourceSpec, table: str) -> list[ExpectationOutcome]:
    """The published table's expectations that a single file can be held to (those on its own columns and
    row queries on its own rows; reconciliations with other tables need the whole warehouse)."""
    core = TARGETS[spec.kind].table
    suite = load_suite(TABLES_DIR / f"{core}.yaml")
    view = core.replace(".", "_")
    line_id = f"{CHARGE_LINE_ID} AS charge_line_id, " if spec.kind == "usage" else ""
    con.execute(f"CREATE OR REPLACE TABLE memory.main.{view} AS SELECT {line_id}* FROM {table}")
    present = {r[0] for r in con.execute(f"DESCRIBE memory.main.{view}").fetchall()}
    own = [e for e in suite.expectations if _on_own_rows(e, present)]
    return run_suite(con, gx.ExpectationSuite(name=suite.name, meta=suite.meta, expectations=own), view)


def _on_own_rows(expectation: gx.expectations.Expectation, present: set[str]) -> bool:
    config = expectation.configuration
    if config.type == ROW_QUERY:
        query = config.kwargs["unexpected_rows_query"]
        return "FROM {batch}" in query and not any(t in query for t in ("core_", "marts_", "audit_", "ref_"))
    kwargs = config.kwargs
    columns = [kwargs.get("column"), *(kwargs.get("column_list") or [])]
    return all(c in present for c in columns if c)


def _missing_reference(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> list[str]:
    """The reference rows a spec prices from, when there are none (no deployment landing zone, or a provider
    the rate cards do not have yet)."""
    if spec.pricing is None:
        return []
    provider = spec.pricing.rate_card_provider
    if con.execute("SELECT count(*) FROM ref_rate_cards WHERE provider_id = ?", [provider]).fetchone()[0]:
        return []
    return [
        f"pricing.rate_card_provider: ref.rate_cards has no rows for {provider!r}; add them to the landing "
        "zone's reference/rate_cards.csv (COMPUTEFLOW_HOME or COMPUTEFLOW_LANDING_URL names the deployment)"
    ]


def unused_keys(spec: SourceSpec) -> list[str]:
    """Spec keys that do nothing: optional columns nothing reads, line services without pricing, and a fallback
    chip of a spec that maps no chip."""
    found = []
    read = raw_fields_of(spec)
    for name in spec.optional_columns:
        if name not in read:
            found.append(f"optional_columns: {name!r} is not read by any mapping or rule")
    if not spec.pricing:
        found += [
            f"lines.{line.name}.service: the spec has no pricing" for line in spec.lines if line.service
        ]
    if spec.pricing and spec.pricing.fallback_chip and "chip" not in spec.columns:
        found.append("pricing.fallback_chip: the spec maps no chip, so every line takes the fallback")
    return found
