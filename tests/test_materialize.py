"""Per-asset and per-partition materializations with `dg.materialize`, on a small lake of two demo days: each
asset of the code location runs on its own, in process, and writes what it should and nothing more."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from assets.ingest.check import load_checked_specs
from assets.resources import Lakehouse
from pipelines.definitions import build_definitions
from pipelines.demo import generate_demo
from tests.conftest import Deployment, make_deployment, settings_for
from warehouse.introspect import current_snapshot, table_changed

DAY_1, DAY_2 = "2025-08-01", "2025-08-02"
SOURCE = "telecom_sh"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, dg.Definitions]]:
    """Two demo days in a landing zone, an empty lake and the code location loaded for them."""
    settings = settings_for(tmp_path_factory.mktemp("small") / "home")
    manifest = generate_demo(settings.landing_url, days=2, scale=0.1, seed=7, start=date(2025, 8, 1))
    deployment = Deployment(settings, dg.DagsterInstance.ephemeral(), manifest)
    with deployment.environment():
        yield deployment, build_definitions()


def materialize(
    defs: dg.Definitions, keys: list[str], partition: str | None = None
) -> dg.ExecuteInProcessResult:
    """Materialize the named assets (only them) in process, as one run."""
    selection = [dg.AssetKey.from_user_string(k) for k in keys]
    return dg.materialize(
        list(defs.assets or []), selection=selection, partition_key=partition, resources=defs.resources
    )


def reference_keys(defs: dg.Definitions) -> list[str]:
    return [s.key.to_user_string() for s in defs.resolve_all_asset_specs() if s.group_name == "reference"]


@pytest.fixture(scope="module")
def referenced(small: tuple[Deployment, dg.Definitions]) -> dg.ExecuteInProcessResult:
    """The small lake's reference tables materialized (once per module)."""
    _deployment, defs = small
    return materialize(defs, reference_keys(defs))


def test_reference_assets_load_every_row_of_their_files(
    small: tuple[Deployment, dg.Definitions], referenced: dg.ExecuteInProcessResult
) -> None:
    deployment, _defs = small
    assert referenced.success
    written = {
        e.asset_key.to_user_string(): e.materialization.metadata["dagster/row_count"].value
        for e in referenced.get_asset_materialization_events()
        if "dagster/row_count" in e.materialization.metadata
    }
    for key, rows in written.items():
        assert deployment.query(f"SELECT count(*) FROM lake.{key.replace('/', '.')}")[0][0] == rows
    assert written["ref/providers"] > 0 and written["ref/chips"] > 0


def test_one_ingest_partition_loads_that_day_only_and_accounts_for_every_row(
    small: tuple[Deployment, dg.Definitions], referenced: dg.ExecuteInProcessResult
) -> None:
    deployment, defs = small
    result = materialize(defs, [f"ingest/{SOURCE}"], partition=DAY_2)
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["rows_read"] == metadata["rows_loaded"] + metadata["rows_quarantined"] > 0
    days = deployment.query(
        "SELECT DISTINCT partition_key FROM lake.audit.ingest_ledger WHERE source_name = ?", [SOURCE]
    )
    assert days == [(DAY_2,)]
    assert deployment.query(f"SELECT count(*) FROM lake.ingest.{SOURCE}")[0][0] == metadata["rows_loaded"]


def test_a_core_partition_then_a_mart_reconcile_with_what_was_ingested(
    small: tuple[Deployment, dg.Definitions], referenced: dg.ExecuteInProcessResult
) -> None:
    deployment, defs = small
    specs = load_checked_specs(deployment.settings.sources_dir)
    usage = [f"ingest/{s.name}" for s in specs if s.kind == "usage" and s.landing.partition is not None]
    assert materialize(defs, usage, partition=DAY_1).success
    assert materialize(defs, ["core/compute_usage"], partition=DAY_1).success
    assert materialize(defs, ["core/compute_usage_statements", "marts/chip_mix"]).success
    mart = deployment.query(
        "SELECT sum(gpu_hours), min(usage_date), max(usage_date) FROM lake.marts.chip_mix"
    )
    core = deployment.query(
        "SELECT sum(gpu_hours) FROM lake.core.compute_usage WHERE charge_category = 'Usage' AND gpu_hours IS NOT NULL"
    )
    assert mart[0][0] == pytest.approx(core[0][0], abs=1e-3)  # lines summed to 6 places and core[0][0] > 0


def test_a_reference_table_is_rewritten_only_when_its_rows_change(tmp_path: Path) -> None:
    deployment = make_deployment(tmp_path / "home", days=1, scale=0.1)
    settings = deployment.settings
    lakehouse = Lakehouse.from_settings(settings)
    with deployment.environment():
        defs = build_definitions()
        keys = reference_keys(defs)

        def rewritten() -> dict[str, bool]:
            result = materialize(defs, keys)
            assert result.success
            return {
                e.asset_key.to_user_string(): e.materialization.metadata["rewritten"].value
                for e in result.get_asset_materialization_events()
            }

        assert set(rewritten().values()) == {True}  # an empty lake: every table is written
        with lakehouse.read() as con:
            before = current_snapshot(con)
        assert set(rewritten().values()) == {False}  # the same files again: nothing is written
        fx_rates = Path(settings.landing_url) / "reference" / "fx_rates.csv"
        fx_rates.write_text(fx_rates.read_text().replace("USD,6.7800,", "USD,6.7900,", 1))
        again = rewritten()
        with lakehouse.read() as con:
            changed = {k for k in keys if table_changed(con, k.replace("/", "."), before)}
            rate = con.execute(
                "SELECT rate_to_cny FROM lake.ref.fx_rates WHERE currency = 'USD' AND valid_from = '2023-01-01'"
            ).fetchone()[0]
    deployment.instance.dispose()
    assert again == {k: k == "ref/fx_rates" for k in keys}
    assert changed == {"ref/fx_rates"} and float(rate) == 6.79
