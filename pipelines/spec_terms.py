"""The meanings docs/SOURCES.md gives, in words: quarantine rules, expression functions and the canonical columns
that ingest fills in. tests/test_spec_reference.py checks them against the compiler."""

from __future__ import annotations

from assets.ingest.expressions import TRUNCATE_UNITS

# Every rule the engine can put on a row, in the order it tries them: a row takes the first that holds.
QUARANTINE_RULES: tuple[tuple[str, str], ...] = (
    (
        "unparsable_record",
        "the reader could not split the record into fields: a CSV line with the wrong number of fields or an "
        "unclosed quote, a jsonl line that is not a JSON object, a kv line that does not start with `key=`",
    ),
    ("no_pattern_matched", "regex format: the line matches none of `format.patterns`"),
    ("repeated_header", "csv: the row repeats the header line (files concatenated with their headers)"),
    (
        "skip:<rule>",
        "the spec's rule `<rule>` with `action: skip` holds: the row is set aside and does not count against "
        "`max_quarantine_ratio`",
    ),
    (
        "unmapped_value:<col>",
        "the raw value is not in the column's (or named value's) `map` and the map has no `*`, or it maps to "
        "null",
    ),
    (
        "unparsable:<col>",
        "a value is there but does not parse as the column's (or named value's) type, or a field its expression "
        "uses as a number is not a number",
    ),
    (
        "ambiguous_timezone:<col>",
        "a time ends in a zone abbreviation other than UTC or GMT that `timezone_abbreviations` does not map",
    ),
    ("non_finite:<col>", "a DOUBLE column is NaN or infinite"),
    ("missing_required:<col>", "a required column of the kind (see Canonical columns) is empty"),
    (
        "end_before_start",
        "the end of the period (charge period, transfer, voucher validity) is before its start",
    ),
    ("zero_length_period", "usage: the charge period starts and ends at the same moment"),
    (
        "negative_quantity:<col>",
        "a quantity that cannot be negative is (usage `gpu_count`, `gpu_hours`; transfers `bytes`, "
        "`billed_hours`; catalog `size_bytes`, `rows`, `hours`, `downloads`; vouchers `face_value`, "
        "`annual_cap`, `coverage_ratio`)",
    ),
    (
        "unknown_chip",
        "usage: the row names a chip that neither ref.chips, ref.chip_aliases nor the spec's `chip_aliases` "
        "know (with `unknown_chip: load` it loads as chip_model `unknown`)",
    ),
    (
        "missing_required:chip",
        "usage: a row with GPU time names no chip and `pricing.fallback_chip` gives none (with "
        "`unknown_chip: load` it loads as chip_model `unknown`)",
    ),
    (
        "no_fx_rate:<cur>:<day>",
        "ref.fx_rates knows the currency `<cur>` but has no rate for `<day>` (the charge, transfer or validity "
        "day)",
    ),
    ("unknown_currency", "the amount's currency is not in ref.fx_rates"),
    (
        "missing_cost",
        "usage, unless `unpriced`: the line has no amount and no rate-card price (no `pricing`, or no "
        "ref.rate_cards row for its provider, service, chip or model on its day)",
    ),
    (
        "unknown_tenant",
        "`tenant_id` is not in ref.tenants (unless `check_tenants: false` or ref.tenants is empty)",
    ),
    ("absurd_quantity:<col>", "usage: `gpu_count` above `limits.max_gpu_count`"),
    (
        "absurd_amount:<col>",
        "the amount in CNY (`billed_cost_cny`, `cost_cny`, `face_value_cny`) is above `limits.max_amount_cny` "
        "in absolute value",
    ),
    (
        "future_timestamp",
        "usage, transfers: the start is more than `limits.max_days_ahead` days after the file's day (Asia/"
        "Shanghai; today for an undated source)",
    ),
    ("<rule>", "the spec's rule `<rule>` with `action: quarantine` holds"),
    (
        "duplicate_key",
        "the row repeats the `dedup_keys` of an earlier good row of the same file (checked last, on the rows "
        "no other rule took)",
    ),
)

FUNCTION_MEANINGS: dict[str, str] = {
    "coalesce": "the first argument that is not NULL",
    "concat": "the arguments joined as text (NULL ones left out)",
    "lower": "text in lower case",
    "upper": "text in upper case",
    "trim": "text without surrounding whitespace",
    "replace": "text with every occurrence of the second argument replaced by the third",
    "round": "a number rounded to the given decimals (0 by default)",
    "abs": "the absolute value of a number",
    "least": "the smallest argument",
    "greatest": "the largest argument",
    "nullif": "NULL where the first argument equals the second, else the first",
    "substr": "the text from a 1-based position, of an optional length",
    "split_part": "the n-th (1-based) part of text split at a separator ('' past the last)",
    "regexp_extract": "the part of text a regular expression matches (or its group n)",
    "length": "the number of characters of text",
    "number": "text as a number (DOUBLE), NULL where it is not one",
    "hours_between": "hours from the first time to the second",
    "add_seconds": "a time plus a number of seconds",
    "integer": "the value as BIGINT, NULL where it does not convert",
    "double": "the value as DOUBLE, NULL where it does not convert",
    "text": "the value as text",
    "timestamp": "the value as a timestamp with zone, NULL where it does not convert",
    "date": "the value as a date, NULL where it does not convert",
    "truncate": f"a time cut down to the {', '.join(TRUNCATE_UNITS)}",
}

# Columns whose value, when no mapping gives one, comes from the spec or from the row's other columns
# (assets/ingest/compile.py: _Builder._fallback and _usage_enrich).
FILLED_IN: dict[str, dict[str, str]] = {
    "usage": {
        "billing_currency": "the spec's `currency`",
        "billed_cost": "`contracted_cost`",
        "effective_cost": "`billed_cost`",
        "list_cost": "the quantity times the rate card's `list_price`, else `contracted_cost`",
        "contracted_cost": "the quantity times the rate card's `contracted_price`, else `billed_cost`",
        "provider_name": "the ref.providers name of `provider_id`",
        "invoice_issuer_name": "the ref.providers name of `provider_id`",
        "publisher_name": "the ref.providers name of `provider_id`",
        "service_subcategory": "`Generative AI` for a token unit, else `AI Platforms` (`Other (<category>)` "
        "outside AI and Machine Learning)",
        "sub_account_id": "`tenant_id`",
        "consumed_quantity": "`gpu_hours`",
        "pricing_quantity": "`gpu_hours`, else `consumed_quantity` divided by the number that starts "
        "`pricing_unit` (1000000 Tokens: 1000000); none without a `pricing_unit`",
        "gpu_count": "`gpu_hours` divided by the hours of the charge period",
        "gpu_hours": "`gpu_count` times the hours of the charge period",
    },
    "transfers": {"currency": "the spec's `currency`"},
    "vouchers": {"currency": "the spec's `currency`"},
}
