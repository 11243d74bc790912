"""FOCUS 1.2 requirements the cost and usage export is held to, each quoted from the specification and checked.

A row requirement is a SQL predicate over the relation `focus` that is true on the rows breaking it; a dataset
requirement looks at the columns and their types. `FOCUS_COLUMNS_LEFT_OUT` names what the export does not carry,
and why. The requirement texts are quoted from FOCUS 1.2 (CC-BY-4.0; data_contracts/reference/focus_1_2).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from assets.exports.focus_vocabulary import (
    CHARGE_CATEGORIES,
    CHARGE_FREQUENCIES,
    focus_columns,
    service_categories,
    service_subcategories,
    sql_list,
)
from assets.ingest.units import BARE_SINGULAR_TIME, UNIT_FORMAT
from warehouse.lake import sql_str

RELATION = "focus"
FOCUS_COLUMNS_LEFT_OUT = {
    "AvailabilityZone": "RECOMMENDED; no provider reports availability zones",
    "BillingAccountType": "Conditional on account types, which providers do not report",
    "CapacityReservationId": "Conditional on capacity reservations, which providers do not report",
    "CapacityReservationStatus": "Conditional on capacity reservations, which providers do not report",
    "CommitmentDiscountCategory": "Conditional on commitment discounts, which no provider offers",
    "CommitmentDiscountId": "Conditional on commitment discounts, which no provider offers",
    "CommitmentDiscountName": "Conditional on commitment discounts, which no provider offers",
    "CommitmentDiscountQuantity": "Conditional on commitment discounts, which no provider offers",
    "CommitmentDiscountStatus": "Conditional on commitment discounts, which no provider offers",
    "CommitmentDiscountType": "Conditional on commitment discounts, which no provider offers",
    "CommitmentDiscountUnit": "Conditional on commitment discounts, which no provider offers",
    "ContractedUnitPrice": "Conditional; prices live in ref.rate_cards, the cost columns carry their product",
    "ListUnitPrice": "Conditional; prices live in ref.rate_cards, the cost columns carry their product",
    "PricingCategory": "Conditional on pricing categories, which providers do not report",
    "PricingCurrency": "Conditional on a pricing currency other than the billing currency; none is used",
    "PricingCurrencyContractedUnitPrice": "Conditional on a pricing currency; none is used",
    "PricingCurrencyEffectiveCost": "Conditional on a pricing currency; none is used",
    "PricingCurrencyListUnitPrice": "Conditional on a pricing currency; none is used",
    "ResourceName": "Conditional on resource display names, which providers do not report",
    "ResourceType": "Conditional on resource types, which providers do not report",
    "SkuMeter": "Conditional on SKU meters, which providers do not report",
    "SkuPriceDetails": "Conditional on SKU price details, which providers do not report",
    "SkuPriceId": "Conditional on SKU price ids, which providers do not report",
    "SubAccountType": "Conditional on sub-account types, which providers do not report",
    "Tags": "Conditional on tags, which providers do not report",
}
DATETIME_TEXT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"  # the extended ISO 8601 form FOCUS requires


@dataclass(frozen=True)
class Requirement:
    """One FOCUS requirement: its quoted text, its level and how a violation is found."""

    id: str
    text: str
    level: str  # MUST | SHOULD
    where: str | None = None  # rows of `focus` that break it
    columns: Callable[[list[tuple[str, str]]], list[str]] | None = None  # offending columns of (name, type)
    breaks: dict[str, object] = field(default_factory=dict)  # a row change that must break it (tests)


@dataclass(frozen=True)
class Outcome:
    """How one requirement fared on one dataset."""

    requirement: Requirement
    violations: int
    detail: str = ""

    @property
    def passed(self) -> bool:
        """No row or column breaks the requirement."""
        return self.violations == 0


def _present(name: str) -> Callable[[list[tuple[str, str]]], list[str]]:
    return lambda schema: [] if name in dict(schema) else [name]


# The SQL types that hold each FOCUS data type (a date/time may be ISO 8601 text in a text file, checked row by row).
_TYPES = {
    "String": r"VARCHAR",
    "Decimal": r"DECIMAL\(\d+,\d+\)|DOUBLE|FLOAT|BIGINT|INTEGER|HUGEINT",
    "Date/Time": r"TIMESTAMP WITH TIME ZONE|VARCHAR",
    "JSON": r"JSON|VARCHAR|MAP\(.*\)|STRUCT\(.*\)",
}


def _typed(name: str, data_type: str) -> Callable[[list[tuple[str, str]]], list[str]]:
    def offending(schema: list[tuple[str, str]]) -> list[str]:
        sql_type = dict(schema).get(name)
        if sql_type is None or re.fullmatch(_TYPES[data_type], sql_type):
            return []
        return [f"{name} {sql_type}"]

    return offending


def _custom_columns(schema: list[tuple[str, str]]) -> list[str]:
    return [n for n, _ in schema if n not in focus_columns() and not n.startswith("x_")]


def _custom_after_focus(schema: list[tuple[str, str]]) -> list[str]:
    names = [n for n, _ in schema]
    first_custom = next((i for i, n in enumerate(names) if n.startswith("x_")), len(names))
    return [n for n in names[first_custom:] if not n.startswith("x_")]


def _unit(column: str) -> str:
    return (
        f"{column} IS NOT NULL AND (NOT regexp_matches({column}, '{UNIT_FORMAT}') "
        f"OR regexp_matches({column}, '{BARE_SINGULAR_TIME}'))"
    )


def _pairs() -> str:
    return ", ".join(f"('{c}', '{s}')" for s, c in service_subcategories().items())


def _column_requirements(schema: dict[str, str]) -> list[Requirement]:
    """Presence, type, nullability, string handling and date/time format of every FOCUS column, from its content
    constraints."""
    out = []
    for col in focus_columns().values():
        name = col.column_id
        if col.feature_level == "Mandatory":
            out.append(
                Requirement(
                    f"{name}.present",
                    f"{name} MUST be present in a FOCUS dataset.",
                    "MUST",
                    columns=_present(name),
                )
            )
        elif col.feature_level == "Recommended" and name not in FOCUS_COLUMNS_LEFT_OUT:
            out.append(
                Requirement(
                    f"{name}.present",
                    f"{name} is RECOMMENDED to be present in a FOCUS dataset.",
                    "SHOULD",
                    columns=_present(name),
                )
            )
        if name not in schema:
            continue
        out.append(
            Requirement(
                f"{name}.type",
                f"{name} MUST be of type {col.data_type}.",
                "MUST",
                columns=_typed(name, col.data_type),
            )
        )
        if not col.allows_nulls:
            out.append(
                Requirement(
                    f"{name}.not_null",
                    f"{name} MUST NOT be null.",
                    "MUST",
                    f"{name} IS NULL",
                    breaks={name: None},
                )
            )
        if col.data_type == "Date/Time" and schema[name] == "VARCHAR":
            out.append(
                Requirement(
                    f"{name}.datetime_format",
                    "Values providing information about a specific moment in time MUST be represented in the extended "
                    "ISO 8601 format with UTC offset ('YYYY-MM-DDTHH:mm:ssZ').",
                    "MUST",
                    f"NOT regexp_matches({name}, '{DATETIME_TEXT}')",
                    breaks={name: "2025-08-01 16:00:00+00:00"},
                )
            )
        if col.data_type == "String":
            out.append(
                Requirement(
                    f"{name}.no_empty_string",
                    "Columns MUST NOT use empty strings or placeholder values such as 0 for numeric columns or "
                    '"Not Applicable" for string columns to represent a null or not having a value (NullHandling).',
                    "MUST",
                    f"trim({name}) = '' OR {name} IN ('Not Applicable', 'N/A')",
                    breaks={name: " "},
                )
            )
    return out


def _specific_requirements() -> list[Requirement]:
    """The requirements of single columns and of columns together, quoted from their column pages."""
    usage = "ChargeCategory = 'Usage'"
    not_correction = "ChargeClass IS DISTINCT FROM 'Correction'"
    return [
        Requirement(
            "BilledCost.third_party",
            "BilledCost MUST be 0 for charges where payments are received by a third party (e.g., "
            "marketplace transactions).",
            "MUST",
            "InvoiceIssuerName <> ProviderName AND BilledCost <> 0",
            breaks={"InvoiceIssuerName": "A Reseller Ltd"},
        ),
        Requirement(
            "BillingAccountId.unique_within_provider",
            "BillingAccountId MUST be a unique identifier within a provider.",
            "MUST",
            f"(ProviderName, BillingAccountId) IN (SELECT (ProviderName, BillingAccountId) FROM {RELATION} "
            "GROUP BY ALL HAVING count(DISTINCT BillingAccountName) > 1)",
            breaks={"BillingAccountName": "Another account under the same id"},
        ),
        Requirement(
            "BillingCurrency.currency_format",
            "Currency-related columns MUST be represented as a three-letter alphabetic code as dictated "
            "in the governing document ISO 4217:2015 when the value is presented in national currency.",
            "MUST",
            "NOT regexp_matches(BillingCurrency, '^[A-Z]{3}$')",
            breaks={"BillingCurrency": "rmb"},
        ),
        Requirement(
            "BillingPeriod.bounds",
            "BillingPeriodStart MUST be the inclusive start bound of the billing period. BillingPeriodEnd "
            "MUST be the exclusive end bound of the billing period.",
            "MUST",
            "BillingPeriodStart >= BillingPeriodEnd",
            breaks={"BillingPeriodEnd": "1999-01-01T00:00:00Z"},
        ),
        Requirement(
            "ChargePeriod.bounds",
            "ChargePeriodStart MUST be the inclusive start bound of the effective period of the charge. "
            "ChargePeriodEnd MUST be the exclusive end bound of the effective period of the charge.",
            "MUST",
            "ChargePeriodStart >= ChargePeriodEnd",
            breaks={"ChargePeriodEnd": "1999-01-01T00:00:00Z"},
        ),
        Requirement(
            "ChargeCategory.allowed_values",
            "ChargeCategory MUST be one of the allowed values.",
            "MUST",
            f"ChargeCategory NOT IN ({sql_list(CHARGE_CATEGORIES)})",
            breaks={"ChargeCategory": "Fee"},
        ),
        Requirement(
            "ChargeClass.allowed_values",
            'ChargeClass MUST be "Correction" when ChargeClass is not null.',
            "MUST",
            "ChargeClass <> 'Correction'",
            breaks={"ChargeClass": "Refund"},
        ),
        Requirement(
            "ChargeDescription.not_null",
            "ChargeDescription SHOULD NOT be null.",
            "SHOULD",
            "ChargeDescription IS NULL",
            breaks={"ChargeDescription": None},
        ),
        Requirement(
            "ChargeFrequency.allowed_values",
            "ChargeFrequency MUST be one of the allowed values.",
            "MUST",
            f"ChargeFrequency NOT IN ({sql_list(CHARGE_FREQUENCIES)})",
            breaks={"ChargeFrequency": "Daily"},
        ),
        Requirement(
            "ChargeFrequency.purchase",
            'ChargeFrequency MUST NOT be "Usage-Based" when ChargeCategory is "Purchase".',
            "MUST",
            "ChargeFrequency = 'Usage-Based' AND ChargeCategory = 'Purchase'",
            breaks={"ChargeCategory": "Purchase", "ChargeFrequency": "Usage-Based"},
        ),
        Requirement(
            "ConsumedQuantity.null_unless_usage",
            'ConsumedQuantity MUST be null when ChargeCategory is not "Usage".',
            "MUST",
            f"ConsumedQuantity IS NOT NULL AND NOT {usage}",
            breaks={"ChargeCategory": "Credit", "ConsumedQuantity": 1},
        ),
        Requirement(
            "ConsumedQuantity.usage_not_null",
            'When ChargeCategory is "Usage" and CommitmentDiscountStatus is not "Unused", '
            'ConsumedQuantity MUST NOT be null when ChargeClass is not "Correction".',
            "MUST",
            f"ConsumedQuantity IS NULL AND {usage} AND {not_correction}",
            breaks={"ChargeCategory": "Usage", "ChargeClass": None, "ConsumedQuantity": None},
        ),
        Requirement(
            "ConsumedUnit.nullability",
            "ConsumedUnit MUST be null when ConsumedQuantity is null. ConsumedUnit MUST NOT be null when "
            "ConsumedQuantity is not null.",
            "MUST",
            "(ConsumedUnit IS NULL) <> (ConsumedQuantity IS NULL)",
            breaks={"ConsumedQuantity": 1, "ConsumedUnit": None},
        ),
        Requirement(
            "ConsumedUnit.unit_format",
            "ConsumedUnit SHOULD conform to UnitFormat requirements.",
            "SHOULD",
            _unit("ConsumedUnit"),
            breaks={"ConsumedUnit": "GPU-Hour"},
        ),
        *[
            Requirement(
                f"{cost}.credit_matches_billed",
                f"{cost} of a charge unrelated to other charges (e.g., when the ChargeCategory is "
                '"Credit") MUST match the BilledCost.',
                "MUST",
                f"ChargeCategory = 'Credit' AND {cost} <> BilledCost",
                breaks={"ChargeCategory": "Credit", "BilledCost": -1, cost: 0},
            )
            for cost in ("ContractedCost", "EffectiveCost", "ListCost")
        ],
        Requirement(
            "InvoiceId.billing_account",
            "InvoiceId MUST be associated with the related charge and BillingAccountId when a "
            "pre-generated invoice or provisional invoice exists.",
            "MUST",
            f"InvoiceId IN (SELECT InvoiceId FROM {RELATION} GROUP BY ALL "
            "HAVING count(DISTINCT BillingAccountId) > 1)",
            breaks={"BillingAccountId": "another-account"},
        ),
        Requirement(
            "InvoiceId.not_null",
            "InvoiceId MUST NOT be null when the charge is associated with either an issued invoice or a "
            "pre-generated provisional invoice.",
            "MUST",
            "InvoiceId IS NULL",
            breaks={"InvoiceId": None},
        ),
        Requirement(
            "PricingQuantity.tax",
            'PricingQuantity MUST be null when ChargeCategory is "Tax".',
            "MUST",
            "PricingQuantity IS NOT NULL AND ChargeCategory = 'Tax'",
            breaks={"ChargeCategory": "Tax", "PricingQuantity": 1},
        ),
        Requirement(
            "PricingQuantity.usage_purchase",
            'PricingQuantity MUST NOT be null when ChargeCategory is "Usage" or "Purchase" and '
            'ChargeClass is not "Correction".',
            "MUST",
            f"PricingQuantity IS NULL AND ChargeCategory IN ('Usage', 'Purchase') AND {not_correction}",
            breaks={"ChargeCategory": "Usage", "ChargeClass": None, "PricingQuantity": None},
        ),
        Requirement(
            "PricingUnit.nullability",
            "PricingUnit MUST be null when PricingQuantity is null. PricingUnit MUST NOT be null when "
            "PricingQuantity is not null.",
            "MUST",
            "(PricingUnit IS NULL) <> (PricingQuantity IS NULL)",
            breaks={"PricingQuantity": 1, "PricingUnit": None},
        ),
        Requirement(
            "PricingUnit.unit_format",
            "PricingUnit SHOULD conform to UnitFormat requirements.",
            "SHOULD",
            _unit("PricingUnit"),
            breaks={"PricingUnit": "GPU-Hour"},
        ),
        Requirement(
            "RegionName.nullability",
            "RegionName MUST be null when RegionId is null. RegionName MUST NOT be null when RegionId is "
            "not null.",
            "MUST",
            "(RegionName IS NULL) <> (RegionId IS NULL)",
            breaks={"RegionId": "sh-lingang", "RegionName": None},
        ),
        Requirement(
            "ServiceCategory.allowed_values",
            "ServiceCategory MUST be one of the allowed values.",
            "MUST",
            f"ServiceCategory NOT IN ({sql_list(service_categories())})",
            breaks={"ServiceCategory": "GPU"},
        ),
        Requirement(
            "ServiceSubcategory.allowed_values",
            "ServiceSubcategory MUST be one of the allowed values. ServiceSubcategory MUST have one and "
            "only one parent ServiceCategory as specified in the allowed values.",
            "MUST",
            f"(ServiceCategory, ServiceSubcategory) NOT IN ({_pairs()})",
            breaks={"ServiceSubcategory": "Generative AI", "ServiceCategory": "Compute"},
        ),
        Requirement(
            "ServiceName.one_category",
            "ServiceName MUST have one and only one ServiceCategory that best aligns with its primary "
            "purpose.",
            "MUST",
            f"(ProviderName, ServiceName) IN (SELECT (ProviderName, ServiceName) FROM {RELATION} "
            "GROUP BY ALL HAVING count(DISTINCT ServiceCategory) > 1)",
            breaks={"ServiceCategory": "Other", "ServiceSubcategory": "Other (Other)"},
        ),
        Requirement(
            "ServiceName.one_subcategory",
            "ServiceName SHOULD have one and only one ServiceSubcategory that best aligns with its primary "
            "purpose.",
            "SHOULD",
            f"(ProviderName, ServiceName) IN (SELECT (ProviderName, ServiceName) FROM {RELATION} "
            "GROUP BY ALL HAVING count(DISTINCT ServiceSubcategory) > 1)",
            breaks={"ServiceCategory": "Other", "ServiceSubcategory": "Other (Other)"},
        ),
        Requirement(
            "SkuId.tax",
            'SkuId MUST be null when ChargeCategory is "Tax".',
            "MUST",
            "SkuId IS NOT NULL AND ChargeCategory = 'Tax'",
            breaks={"ChargeCategory": "Tax", "SkuId": "x"},
        ),
        Requirement(
            "SkuId.usage_purchase",
            'SkuId MUST NOT be null when ChargeCategory is "Usage" or "Purchase" and ChargeClass is not '
            '"Correction".',
            "MUST",
            f"SkuId IS NULL AND ChargeCategory IN ('Usage', 'Purchase') AND {not_correction}",
            breaks={"ChargeCategory": "Usage", "ChargeClass": None, "SkuId": None},
        ),
        Requirement(
            "SubAccountName.nullability",
            "SubAccountName MUST be null when SubAccountId is null. SubAccountName MUST NOT be null when "
            "SubAccountId is not null.",
            "MUST",
            "(SubAccountName IS NULL) <> (SubAccountId IS NULL)",
            breaks={"SubAccountId": "t-x", "SubAccountName": None},
        ),
    ]


def _dataset_requirements() -> list[Requirement]:
    return [
        Requirement(
            "Columns.custom_prefix",
            "Custom columns MUST be prefixed with a consistent `x_` prefix to identify them as external, "
            "custom columns and distinguish them from FOCUS columns.",
            "MUST",
            columns=_custom_columns,
        ),
        Requirement(
            "Columns.custom_last",
            "Custom columns SHOULD be listed after all FOCUS columns and SHOULD NOT be intermixed.",
            "SHOULD",
            columns=_custom_after_focus,
        ),
    ]


def carried_columns() -> list[str]:
    """The FOCUS columns the export carries: all but those left out, in specification order."""
    return [c for c in focus_columns() if c not in FOCUS_COLUMNS_LEFT_OUT]


def requirements(schema: dict[str, str]) -> list[Requirement]:
    """Every requirement checked on a dataset of these columns (name -> SQL type); a requirement between columns
    applies when the dataset has them all."""
    applicable = [
        r for r in _specific_requirements() if r.where is None or set(_names(r.where)) <= set(schema)
    ]
    return [*_column_requirements(schema), *applicable, *_dataset_requirements()]


def _names(predicate: str) -> list[str]:
    """The FOCUS column names a predicate reads."""
    return [w for w in re.findall(r"\b[A-Z][A-Za-z]+\b", predicate) if w in focus_columns()]


def check(con: duckdb.DuckDBPyConnection, relation: str) -> list[Outcome]:
    """Every requirement's outcome on `relation` (a table, view or file scan), one query per requirement."""
    schema = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    con.execute(f"CREATE OR REPLACE TEMP VIEW {RELATION} AS SELECT * FROM {relation}")
    outcomes = []
    for req in requirements(dict(schema)):
        if req.columns is not None:
            offending = req.columns(schema)
            outcomes.append(Outcome(req, len(offending), ", ".join(offending)))
        else:
            try:
                count = con.execute(f"SELECT count(*) FROM {RELATION} WHERE coalesce({req.where}, false)")
            except duckdb.Error as exc:  # a column of the wrong type: the requirement cannot hold
                outcomes.append(Outcome(req, 1, f"cannot be evaluated: {str(exc).splitlines()[0]}"))
                continue
            outcomes.append(Outcome(req, int(count.fetchone()[0])))
    return outcomes


def csv_scan(con: duckdb.DuckDBPyConnection, path: str) -> str:
    """A FOCUS CSV file as a relation: every value as written, the Decimal columns cast (a value that is not a
    number fails loudly rather than reading as null); date/times stay text for their format requirement."""
    scan = f"read_csv({sql_str(path)}, header = true, all_varchar = true)"
    names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
    decimals = [n for n in names if n in focus_columns() and focus_columns()[n].data_type == "Decimal"]
    if not decimals:
        return scan
    casts = ", ".join(f"CAST({n} AS DECIMAL(38, 10)) AS {n}" for n in decimals)
    return f"(SELECT * REPLACE ({casts}) FROM {scan})"
