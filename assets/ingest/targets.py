"""Canonical tables that sources map into: columns, types and the columns a spec must provide."""

from __future__ import annotations

from dataclasses import dataclass, field

# The local time zone of the platform: charge days, file days and sanity horizons are days in Shanghai.
LOCAL_TZ = "Asia/Shanghai"

# Canonical column types (SQL). "list" is a VARCHAR[] parsed from a JSON array or a ;-separated string.
MONEY = "DECIMAL(18,4)"


@dataclass(frozen=True)
class Target:
    """The canonical shape of one kind of source."""

    kind: str
    inputs: dict[str, str]
    required: tuple[str, ...]
    defaults: dict[str, str] = field(default_factory=dict)
    numeric_checks: tuple[str, ...] = ()
    interval: tuple[str, str] | None = None


USAGE = Target(
    kind="usage",
    inputs={
        "billing_account_id": "VARCHAR",
        "billing_account_name": "VARCHAR",
        "billing_currency": "VARCHAR",
        "billed_cost": MONEY,
        "effective_cost": MONEY,
        "list_cost": MONEY,
        "contracted_cost": MONEY,
        "charge_period_start": "TIMESTAMPTZ",
        "charge_period_end": "TIMESTAMPTZ",
        "charge_category": "VARCHAR",
        "charge_class": "VARCHAR",
        "charge_frequency": "VARCHAR",
        "charge_description": "VARCHAR",
        "provider_name": "VARCHAR",
        "invoice_issuer_name": "VARCHAR",
        "publisher_name": "VARCHAR",
        "service_category": "VARCHAR",
        "service_subcategory": "VARCHAR",
        "service_name": "VARCHAR",
        "region_id": "VARCHAR",
        "resource_id": "VARCHAR",
        "sku_id": "VARCHAR",
        "model_id": "VARCHAR",
        "sub_account_id": "VARCHAR",
        "consumed_quantity": "DOUBLE",
        "consumed_unit": "VARCHAR",
        "pricing_quantity": "DOUBLE",
        "pricing_unit": "VARCHAR",
        "chip": "VARCHAR",
        "gpu_count": "DOUBLE",
        "gpu_hours": "DOUBLE",
        "job_id": "VARCHAR",
        "job_status": "VARCHAR",
        "job_submit_time": "TIMESTAMPTZ",
        "dataset_id": "VARCHAR",
        "tenant_id": "VARCHAR",
        "site_id": "VARCHAR",
    },
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
    inputs={
        "transfer_id": "VARCHAR",
        "tenant_id": "VARCHAR",
        "dataset_id": "VARCHAR",
        "source_site_id": "VARCHAR",
        "destination_site_id": "VARCHAR",
        "bytes": "BIGINT",
        "requested_at": "TIMESTAMPTZ",
        "start_time": "TIMESTAMPTZ",
        "end_time": "TIMESTAMPTZ",
        "base_bandwidth_mbps": "DOUBLE",
        "boost_bandwidth_mbps": "DOUBLE",
        "boost_start": "TIMESTAMPTZ",
        "boost_end": "TIMESTAMPTZ",
        "billed_hours": "DOUBLE",
        "cost": MONEY,
        "currency": "VARCHAR",
        "status": "VARCHAR",
        "result_code": "VARCHAR",
        "streams": "INTEGER",
        "direction": "VARCHAR",
        "host": "VARCHAR",
        "file_path": "VARCHAR",
    },
    required=("transfer_id", "bytes", "start_time", "end_time"),
    numeric_checks=("bytes", "billed_hours"),
    interval=("start_time", "end_time"),
)

CATALOG = Target(
    kind="catalog",
    inputs={
        "dataset_id": "VARCHAR",
        "name": "VARCHAR",
        "name_zh": "VARCHAR",
        "publisher": "VARCHAR",
        "modality": "VARCHAR[]",
        "tasks": "VARCHAR[]",
        "languages": "VARCHAR[]",
        "license": "VARCHAR",
        "licenses": "VARCHAR[]",
        "version": "VARCHAR",
        "size_bytes": "BIGINT",
        "rows": "BIGINT",
        "hours": "DOUBLE",
        "downloads": "BIGINT",
        "updated_at": "TIMESTAMPTZ",
        "homepage": "VARCHAR",
        "snapshot_at": "TIMESTAMPTZ",
    },
    required=("dataset_id", "name"),
    numeric_checks=("size_bytes", "rows", "hours", "downloads"),
)

VOUCHERS = Target(
    kind="vouchers",
    inputs={
        "voucher_id": "VARCHAR",
        "tenant_id": "VARCHAR",
        "programme": "VARCHAR",
        "funder": "VARCHAR",
        "funder_name": "VARCHAR",
        "face_value": MONEY,
        "currency": "VARCHAR",
        "is_cash": "BOOLEAN",
        "coverage_ratio": "DOUBLE",
        "issued_date": "DATE",
        "valid_from": "DATE",
        "valid_to": "DATE",
        "annual_cap": MONEY,
        "eligible_categories": "VARCHAR[]",
    },
    required=("voucher_id", "tenant_id", "programme", "funder", "face_value", "valid_from", "valid_to"),
    numeric_checks=("face_value", "annual_cap", "coverage_ratio"),
    interval=("valid_from", "valid_to"),
)

TARGETS: dict[str, Target] = {t.kind: t for t in (USAGE, TRANSFERS, CATALOG, VOUCHERS)}
