"""Every FOCUS 1.2 requirement the cost and usage export is held to, and how a dataset fares against them.

The requirements of every column come from its content constraints (presence, type, nullability, string and
date/time handling); those between columns are in focus_column_rules. `FOCUS_COLUMNS_LEFT_OUT` names what the
export does not carry, and why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from assets.exports.focus_column_rules import requirements_between_columns
from assets.exports.focus_requirement import DATETIME_TEXT, RELATION, Requirement
from assets.exports.focus_vocabulary import focus_columns
from warehouse.lake import sql_str

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


def _per_column_requirements(schema: dict[str, str]) -> list[Requirement]:
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
        r for r in requirements_between_columns() if r.where is None or set(_names(r.where)) <= set(schema)
    ]
    return [*_per_column_requirements(schema), *applicable, *_dataset_requirements()]


def _names(predicate: str) -> list[str]:
    """The FOCUS column names a predicate reads."""
    return [w for w in re.findall(r"\b[A-Z][A-Za-z]+\b", predicate) if w in focus_columns()]


def check(con: duckdb.DuckDBPyConnection, relation: str) -> list[Outcome]:
    """Every requirement's outcome on `relation` (a table, view or file scan): the column requirements from its
    schema, the row requirements counted together in one pass over it (read once, kept for the subqueries)."""
    schema = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    listed = requirements(dict(schema))
    rows = [r for r in listed if r.where is not None]
    counts = dict(zip([r.id for r in rows], _row_counts(con, relation, rows), strict=True))
    outcomes = []
    for req in listed:
        if req.columns is not None:
            offending = req.columns(schema)
            outcomes.append(Outcome(req, len(offending), ", ".join(offending)))
        else:
            outcomes.append(Outcome(req, *counts[req.id]))
    return outcomes


def _row_counts(
    con: duckdb.DuckDBPyConnection, relation: str, rows: list[Requirement]
) -> list[tuple[int, str]]:
    """The rows breaking each requirement, in one query; where that query cannot run (a column of the wrong
    type), each requirement on its own, and one that cannot be evaluated counts as broken with the reason."""

    def query(reqs: list[Requirement]) -> str:
        filters = ", ".join(f"count(*) FILTER (WHERE coalesce({r.where}, false))" for r in reqs)
        return f"WITH {RELATION} AS MATERIALIZED (SELECT * FROM {relation}) SELECT {filters} FROM {RELATION}"

    if not rows:
        return []
    try:
        return [(int(n), "") for n in con.execute(query(rows)).fetchone()]
    except duckdb.Error:
        pass
    counts = []
    for req in rows:
        try:
            counts.append((int(con.execute(query([req])).fetchone()[0]), ""))
        except duckdb.Error as exc:
            counts.append((1, f"cannot be evaluated: {str(exc).splitlines()[0]}"))
    return counts


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
