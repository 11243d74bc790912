"""Reference data inlined into ingest queries as SQL literals.

Ingest must keep rows in file order (row numbers come from positions in the written Parquet), and joins do
not preserve order; the reference tables ingest needs are small, so they are read once and rendered as MAP
and CASE literals instead of joined.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import duckdb

from warehouse.lake import sql_str
from warehouse.transactions import read_transaction


def chip_key(name: str) -> str:
    """The normalised form under which chip names and aliases are matched (upper case, no spaces, _ or -)."""
    return "".join(ch for ch in name.upper() if ch not in " _-")


def chip_key_sql(sql: str) -> str:
    """SQL computing chip_key() of an expression."""
    return f"upper(replace(replace(replace({sql}, ' ', ''), '_', ''), '-', ''))"


@dataclass(frozen=True)
class Rate:
    """One reference-table row with a validity range (inclusive dates; open end when `until` is None)."""

    key: tuple[str, ...]
    since: date
    until: date | None
    values: tuple[float, ...]


@dataclass(frozen=True)
class RefSnapshot:
    """The reference data ingest reads, captured once per partition run."""

    chip_models: dict[str, str]
    chip_names: dict[str, str]
    chips: dict[str, tuple[str, bool, float]]
    providers: dict[str, str]
    rate_cards: tuple[Rate, ...]
    fx_rates: tuple[Rate, ...]
    tenants: frozenset[str]

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> RefSnapshot:
        """Read the ref_* views of a connection (one read transaction: one snapshot, one catalog lookup)."""
        with read_transaction(con):
            return cls._read(con)

    @classmethod
    def _read(cls, con: duckdb.DuckDBPyConnection) -> RefSnapshot:
        names = dict(con.execute("SELECT key, chip_model FROM ref_chip_lookup").fetchall())
        chip_models = {chip_key(k): m for k, m in names.items()}
        chips = {
            m: (v, bool(d), float(t))
            for m, v, d, t in con.execute(
                "SELECT chip_model, vendor, domestic, dense_tflops FROM ref_chips"
            ).fetchall()
        }
        providers = dict(con.execute("SELECT provider_id, provider_name FROM ref_providers").fetchall())
        rate_cards = tuple(
            Rate((p, s, c or "", m or ""), since, until, (lp, cp))
            for p, s, c, m, since, until, lp, cp in con.execute(
                "SELECT provider_id, service, chip_model, model_id, valid_from, valid_to, list_price, "
                "contracted_price FROM ref_rate_cards ORDER BY ALL"
            ).fetchall()
        )
        fx_rates = tuple(
            Rate((c.upper(),), since, until, (r,))
            for c, since, until, r in con.execute(
                "SELECT currency, valid_from, valid_to, rate_to_cny FROM ref_fx_rates ORDER BY ALL"
            ).fetchall()
        )
        tenants = frozenset(t for (t,) in con.execute("SELECT tenant_id FROM ref_tenants").fetchall())
        return cls(chip_models, names, chips, providers, rate_cards, fx_rates, tenants)

    @property
    def fingerprint(self) -> str:
        """A hash of the reference data that decides how a file's rows are priced and mapped (chips and their
        aliases, providers, rate cards, exchange rates); tenants are left out, as registering one does not
        change rows already loaded."""
        mappings = (self.chip_models, self.chip_names, self.chips, self.providers)
        priced = ([sorted(m.items()) for m in mappings], self.rate_cards, self.fx_rates)
        return hashlib.sha256(repr(priced).encode("utf-8")).hexdigest()

    def unknown_tenant_sql(self, tenant_sql: str) -> str | None:
        """SQL true for a tenant id missing from ref.tenants (None when ref.tenants is empty)."""
        if not self.tenants:
            return None
        return (
            f"({tenant_sql} IS NOT NULL AND NOT list_contains({_list(sorted(self.tenants))}, {tenant_sql}))"
        )

    def chip_model_sql(self, name_sql: str, extra_aliases: dict[str, str]) -> str:
        """SQL resolving a raw chip name (or alias) to chip_model; NULL when unknown.

        Names spelled exactly as a known name are looked up as they are; only the others are normalised
        (case, spaces, '-' and '_') first, which is the costly part.
        """
        exact = {**self.chip_names, **dict.fromkeys(self.chips, None), **extra_aliases}
        exact = {k: v or k for k, v in exact.items()}
        normalised = {**self.chip_models, **{chip_key(a): m for a, m in extra_aliases.items()}}
        return f"coalesce({_lookup(exact, name_sql)}, {_lookup(normalised, chip_key_sql(name_sql))})"

    def chip_sql(self, model_sql: str) -> str:
        """SQL of a struct (vendor, domestic, tflops) describing a chip_model; NULL when unknown."""
        return _lookup(
            {m: {"vendor": v, "domestic": d, "tflops": t} for m, (v, d, t) in self.chips.items()}, model_sql
        )

    def provider_name(self, provider_id: str | None) -> str | None:
        """Display name of a provider, when known."""
        return self.providers.get(provider_id or "")

    def rate_sql(self, provider: str, service: str, per: str, item_sql: str, day_sql: str, index: int) -> str:
        """SQL of a rate-card price (0 list, 1 contracted) valid on a day for an item (the chip_model, or the
        model_id when `per` is model); NULL when none applies."""
        column = 3 if per == "model" else 2
        rows = [r for r in self.rate_cards if r.key[:2] == (provider, service) and r.key[column]]
        branches = [
            f"WHEN {item_sql} = {sql_str(r.key[column])} AND {_within(day_sql, r)} THEN {r.values[index]!r}"
            for r in rows
        ]
        return f"CAST(CASE {' '.join(branches)} END AS DOUBLE)" if branches else "CAST(NULL AS DOUBLE)"

    @property
    def fx_currencies(self) -> set[str]:
        """Currencies with a rate to CNY on some day (and CNY itself)."""
        return {r.key[0] for r in self.fx_rates} | {"CNY"}

    def fx_sql(self, currency_sql: str, day_sql: str) -> str:
        """SQL of the rate to CNY of a currency on a day (1 for CNY); NULL when unknown. The currency is
        compared once per currency, not once per rate: the expression is planned for every staged file."""
        by_currency: dict[str, list[str]] = {}
        for r in self.fx_rates:
            if r.key[0] != "CNY":
                by_currency.setdefault(r.key[0], []).append(
                    f"WHEN {_within(day_sql, r)} THEN {r.values[0]!r}"
                )
        branches = [f"WHEN {sql_str(c)} THEN CASE {' '.join(days)} END" for c, days in by_currency.items()]
        return f"CAST(CASE {currency_sql} WHEN 'CNY' THEN 1.0 {' '.join(branches)} END AS DOUBLE)"


def _within(day_sql: str, rate: Rate) -> str:
    upper = f" AND {day_sql} <= DATE '{rate.until.isoformat()}'" if rate.until else ""
    return f"{day_sql} >= DATE '{rate.since.isoformat()}'{upper}"


def _literal(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{sql_str(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(float(value))
    return sql_str(str(value))


def _list(values: list[object]) -> str:
    return "[" + ", ".join(_literal(v) for v in values) + "]"


def _lookup(mapping: dict[str, object], key_sql: str) -> str:
    """SQL of the value `mapping` holds for a key, NULL for a key it lacks: a list of the values indexed by the
    key's position in the list of keys. DuckDB plans that in about half the time of a MAP literal of the same
    entries, and the staging query that holds these lookups is planned once per staged file."""
    if not mapping:
        return f"MAP {{}}[{key_sql}]"
    keys = sorted(mapping)
    return f"{_list([mapping[k] for k in keys])}[list_position({_list(keys)}, {key_sql})]"
