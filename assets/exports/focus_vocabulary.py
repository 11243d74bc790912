"""The FOCUS 1.2 vocabulary shipped in data_contracts/reference/focus_1_2 (restated from the specification)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from warehouse.settings import CONTRACTS_DIR

FOCUS_DIR = CONTRACTS_DIR / "reference" / "focus_1_2"
CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
CHARGE_FREQUENCIES = ("One-Time", "Recurring", "Usage-Based")


@dataclass(frozen=True)
class FocusColumn:
    """A FOCUS column's content constraints."""

    column_id: str
    feature_level: str  # Mandatory | Recommended | Conditional
    allows_nulls: bool
    data_type: str  # String | Decimal | Date/Time | JSON
    value_format: str


def _rows(name: str) -> list[dict[str, str]]:
    with (FOCUS_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def focus_columns() -> dict[str, FocusColumn]:
    """Every FOCUS 1.2 column by its Column ID."""
    return {
        r["column_id"]: FocusColumn(
            r["column_id"], r["feature_level"], r["allows_nulls"] == "True", r["data_type"], r["value_format"]
        )
        for r in _rows("columns.csv")
    }


@cache
def service_subcategories() -> dict[str, str]:
    """Each allowed ServiceSubcategory and its one parent ServiceCategory."""
    return {r["service_subcategory"]: r["service_category"] for r in _rows("service_subcategories.csv")}


def service_categories() -> tuple[str, ...]:
    """The allowed ServiceCategory values."""
    return tuple(dict.fromkeys(service_subcategories().values()))
