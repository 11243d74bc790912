"""Canonical tables that sources map into: their columns (typed as the published tables declare them) and the
columns a spec must provide."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from assets.contracts.declared import declared

# The local time zone of the platform: charge days, file days and sanity horizons are days in Shanghai.
LOCAL_TZ = "Asia/Shanghai"

# Canonical column types (SQL). "list" is a VARCHAR[] parsed from a JSON array or a ;-separated string.
MONEY = "DECIMAL(18,4)"


@dataclass(frozen=True)
class Target:
    """The canonical shape of one kind of source."""

    kind: str
    table: str  # the published table it feeds, whose declaration gives the columns' types
    columns: tuple[str, ...]  # the columns a spec maps into
    required: tuple[str, ...]
    defaults: dict[str, str] = field(default_factory=dict)
    numeric_checks: tuple[str, ...] = ()
    interval: tuple[str, str] | None = None

    @cached_property
    def inputs(self) -> dict[str, str]:
        """The columns a spec maps into with their SQL types, as the published table declares them (a usage
        row keeps the chip its feed named as `raw_chip`)."""
        types = declared(self.table).types
        return {name: types["raw_chip" if name == "chip" else name] for name in self.columns}


USAGE = Target(
    kind="usage",
    table="core.compute_usage",
    columns=(
        "billing_account_id",
        "billing_account_name",
        "billing_currency",
        "billed_cost",
        "effective_cost",
        "list_cost",
        "contracted_cost",
        "charge_period_start",
        "charge_period_end",
        "charge_category",
        "charge_class",
        "charge_frequency",
        "charge_description",
        "provider_name",
        "invoice_issuer_name",
        "publisher_name",
        "service_category",
        "service_subcategory",
        "service_name",
        "region_id",
        "resource_id",
        "sku_id",
        "model_id",
        "sub_account_id",
        "consumed_quantity",
        "consumed_unit",
        "pricing_quantity",
        "pricing_unit",
        "chip",
        "gpu_count",
        "gpu_hours",
        "job_id",
        "job_status",
        "job_submit_time",
        "dataset_id",
        "tenant_id",
        "site_id",
    ),
    required=("tenant_id", "charge_period_start", "charge_period_end"),
    defaults={
        "charge_category": "'Usage'",
        "service_category": "'AI and Machine Learning'",
        "consumed_unit": "'GPU-Hours'",
        "pricing_unit": "'GPU-Hours'",
    },
    numeric_checks=("gpu_count", "gpu_hours"),
    interval=("charge_period_start", "charge_period_end"),
)

TRANSFERS = Target(
    kind="transfers",
    table="core.data_transfers",
    columns=(
        "transfer_id",
        "tenant_id",
        "dataset_id",
        "source_site_id",
        "destination_site_id",
        "bytes",
        "requested_at",
        "start_time",
        "end_time",
        "base_bandwidth_mbps",
        "boost_bandwidth_mbps",
        "boost_start",
        "boost_end",
        "billed_hours",
        "cost",
        "currency",
        "status",
        "result_code",
        "streams",
        "direction",
        "host",
        "file_path",
    ),
    required=("transfer_id", "bytes", "start_time", "end_time"),
    numeric_checks=("bytes", "billed_hours"),
    interval=("start_time", "end_time"),
)

CATALOG = Target(
    kind="catalog",
    table="core.dataset_catalog",
    columns=(
        "dataset_id",
        "name",
        "name_zh",
        "publisher",
        "modality",
        "tasks",
        "languages",
        "license",
        "licenses",
        "version",
        "size_bytes",
        "rows",
        "hours",
        "downloads",
        "updated_at",
        "homepage",
        "snapshot_at",
    ),
    required=("dataset_id", "name"),
    numeric_checks=("size_bytes", "rows", "hours", "downloads"),
)

VOUCHERS = Target(
    kind="vouchers",
    table="core.vouchers",
    columns=(
        "voucher_id",
        "tenant_id",
        "programme",
        "funder",
        "funder_name",
        "face_value",
        "currency",
        "is_cash",
        "coverage_ratio",
        "issued_date",
        "valid_from",
        "valid_to",
        "annual_cap",
        "eligible_categories",
    ),
    required=("voucher_id", "tenant_id", "programme", "funder", "face_value", "valid_from", "valid_to"),
    numeric_checks=("face_value", "annual_cap", "coverage_ratio"),
    interval=("valid_from", "valid_to"),
)

TARGETS: dict[str, Target] = {t.kind: t for t in (USAGE, TRANSFERS, CATALOG, VOUCHERS)}
