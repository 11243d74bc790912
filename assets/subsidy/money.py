"""Integer money and ratios in the engine's SQL: amounts as units of 0.0001, ratios as parts per million."""

from __future__ import annotations

from warehouse.lake import sql_str

UNIT = 10_000  # money is handled as integer units of 0.0001
PPM = 1_000_000  # ratios are handled as integer parts per million
MAX_UNITS = 2**63 // PPM  # lines must cost less (922 million): units x ratio stays a BIGINT


def money(units: str) -> str:
    """SQL of an integer-units expression as DECIMAL(18,4) money."""
    return f"CAST({units} / {UNIT} AS DECIMAL(18,4))"


def units(money: str) -> str:
    """SQL of a money expression as integer units (rounded)."""
    return f"CAST(round(CAST({money} AS DOUBLE) * {UNIT}) AS BIGINT)"


def share(units: str, ppm: str) -> str:
    """floor(units x ppm / 1e6); lines are checked to be below MAX_UNITS so that the product fits a BIGINT."""
    return f"({units} * {ppm} // {PPM})"


def values(rows: list[tuple], names: str) -> str:
    """A VALUES relation of Python literals (str, int, bool, None)."""

    def literal(value: object) -> str:
        if value is None:
            return "NULL"
        return sql_str(value) if isinstance(value, str) else str(value)

    body = ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
    return f"(VALUES {body}) t({names})"
