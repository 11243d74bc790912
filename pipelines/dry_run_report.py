"""The printed report of `computeflow sources try`: what one sample file would load, and why not the rest."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from assets.ingest.dry_run import DryRun

# What to change in a spec when a rule takes rows (by the rule's name before its first ':').
HINTS = {
    "missing_cost": "map billed_cost, price the lines (`pricing` and reference/rate_cards.csv), or load a "
    "workload trace as `unpriced: true`",
    "missing_required": "map the column (or, for chip, `unknown_chip: load` when the feed names none)",
    "unknown_chip": "add the name to `chip_aliases`, or `unknown_chip: load`",
    "unmapped_value": "add the value to the column's `map` (or a `'*'` entry)",
    "unparsable": "give the column its `format`, `epoch` (+ `origin`) or `thousands`, or fix the expression",
    "no_pattern_matched": "add a pattern for these lines, or a catch-all pattern and a skip rule",
    "unknown_tenant": "add the tenants to reference/tenants.csv, or `check_tenants: false`",
    "no_fx_rate": "add the currency's rate for the day to reference/fx_rates.csv",
    "unknown_currency": "add the currency to reference/fx_rates.csv, or map billing_currency",
    "duplicate_key": "check `dedup_keys`: do they identify one line?",
}


def print_dry_run(out: Console, sample: str, run: DryRun) -> None:
    """Print the ledger verdict, the rules that took rows (with examples), the first mapped rows, totals, the
    rate-card rows that priced lines, the contract's verdict on the rows, and the spec's unused keys."""
    ledger = run.ledger
    out.print(Text(f"{sample}: {ledger.status}", style="bold"))
    out.print(
        f"  rows read {ledger.rows_read}, loaded {ledger.rows_loaded}, quarantined "
        f"{ledger.rows_quarantined - ledger.rows_skipped}, skipped {ledger.rows_skipped}"
        + (f", held {ledger.rows_held}" if ledger.rows_held else "")
    )
    if ledger.detail:  # a dry run writes no audit.quarantine: the rules are listed below
        out.print(Text(f"  {ledger.detail.replace(' (see audit.quarantine)', ' (rules below)')}"))
    if ledger.new_columns:
        out.print(Text(f"  columns the spec neither maps nor ignores: {ledger.new_columns}"))
    if run.reasons:
        table = Table("rule", "rows", "examples (row: raw record)", title="quarantined and skipped")
        for rule, count, examples in run.reasons:
            table.add_row(Text(rule), str(count), Text("\n".join(f"{r}: {raw[:160]}" for r, raw in examples)))
        out.print(table)
        for rule in dict.fromkeys(rule.split(":")[0] for rule, _, _ in run.reasons):
            if rule in HINTS:
                out.print(Text(f"  {rule}: {HINTS[rule]}"))
    if run.first_rows:  # one column per row: the canonical columns read down the side
        table = Table(
            "column", *(f"row {n}" for n in range(1, len(run.first_rows) + 1)), title="first rows as loaded"
        )
        for no, column in enumerate(run.columns):
            table.add_row(column, *(Text("" if row[no] is None else str(row[no])) for row in run.first_rows))
        out.print(table)
    if run.totals:
        out.print("  totals: " + ", ".join(f"{k} {v}" for k, v in run.totals.items()))
    if run.rates:
        table = Table(
            "service",
            "chip or model",
            "unit",
            "list",
            "contracted",
            "currency",
            "from",
            "lines",
            title="rate-card rows that priced lines",
        )
        for row in run.rates:
            table.add_row(*(Text(str(v)) for v in row))
        out.print(table)
    if not ledger.rows_loaded:
        out.print("  contract: no rows would load, so none to check")
        _print_unused(out, run)
        return
    broken = [o for o in run.contract if not o.success]
    checked = f"{len(run.contract)} expectations of the published table's contract on these rows"
    out.print(f"  contract: {checked}, {len(broken)} would fail")
    for outcome in broken:
        out.print(
            Text(f"    {outcome.severity}: {outcome.expectation} ({outcome.why}): {outcome.samples[:3]}")
        )
    _print_unused(out, run)


def _print_unused(out: Console, run: DryRun) -> None:
    for line in run.unused:
        out.print(Text(f"  spec: {line}"))
