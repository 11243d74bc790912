"""What ingest derives per kind of source: enrichment (chips, GPU- and PFLOP-hours, rate-card prices, CNY
amounts), the derived columns, and the rules that judge a row by kind and by sanity limits."""

from __future__ import annotations

import re

from assets.contracts.declared import declared
from assets.ingest.refdata import RefSnapshot
from assets.ingest.spec import SourceSpec
from assets.ingest.targets import LOCAL_TZ, MONEY, TARGETS
from warehouse.lake import sql_ident, sql_str, sql_values


class SqlRuleName(str):
    """A rule name computed per row by SQL (e.g. `no_fx_rate:USD:2025-08-04`) rather than a fixed name."""


def rule_name(name: str) -> str:
    """SQL of a rule's name: a quoted literal, or the expression of a name computed per row."""
    return str(name) if isinstance(name, SqlRuleName) else sql_str(name)


def fx_rules(ref: RefSnapshot, currency: str, day: str, missing: str) -> list[tuple[str, str]]:
    """Rows without a CNY amount: a known currency with no rate for the day (`no_fx_rate:<currency>:<day>`),
    else a currency the rate table does not know (`unknown_currency`)."""
    code = f"upper({currency})"
    known = sql_values(sorted(ref.fx_currencies))
    no_rate = SqlRuleName(f"'no_fx_rate:' || {code} || ':' || CAST({day} AS VARCHAR)")
    return [(no_rate, f"{missing} AND {code} IN ({known})"), ("unknown_currency", missing)]


def is_day(key: str) -> bool:
    """Whether a partition key is a day (YYYY-MM-DD), not the key of an undated source's files."""
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}", key) is not None


# The columns ingest derives per kind, typed as the kind's published table declares them.
DERIVED: dict[str, dict[str, str]] = {
    kind: declared(TARGETS[kind].table).typed(*names)
    for kind, names in {
        "usage": (
            "chip_model",
            "chip_vendor",
            "is_domestic_chip",
            "pflop_hours",
            "billed_cost_cny",
            "effective_cost_cny",
            "list_cost_cny",
            "contracted_cost_cny",
            "charge_date",
            "provider_id",
            "priced_from_rate_card",
            "fx_rate_to_cny",
        ),
        "transfers": ("duration_seconds", "throughput_mbps", "cost_cny", "transfer_date", "provider_id"),
        "catalog": ("attributes",),
        "vouchers": ("face_value_cny",),
    }.items()
}


def usage_enrich(spec: SourceSpec, ref: RefSnapshot) -> tuple[str, list[tuple[str, str]]]:
    """Chip normalisation, GPU- and PFLOP-hours, rate-card pricing and CNY amounts of usage rows."""
    pricing = spec.pricing
    fallback = sql_str(pricing.fallback_chip) if pricing and pricing.fallback_chip else "NULL"
    day = f"CAST(timezone({sql_str(LOCAL_TZ)}, t.charge_period_start) AS DATE)"
    chip_model = ref.chip_model_sql(f"coalesce(t.chip, {fallback})", spec.chip_aliases)
    hours = "(epoch(t.charge_period_end) - epoch(t.charge_period_start)) / 3600.0"
    if spec.unknown_chip == "load":  # GPU time on a chip nobody can name: counted, flagged, never invented
        gpu_time = f"(t.chip IS NOT NULL OR coalesce(t.gpu_hours, t.gpu_count * {hours}, 0) > 0)"
        chip_model = f"coalesce({chip_model}, CASE WHEN {gpu_time} THEN 'unknown' END)"
    keyed = (
        f"SELECT *, {ref.chip_sql('chip_model')} AS __chip FROM (SELECT t.*, {chip_model} AS chip_model, "
        f"{day} AS __charge_date, {hours} AS __hours FROM typed t)"
    )
    priced = (
        "SELECT k.*, k.__chip.vendor AS chip_vendor, k.__chip.domestic AS is_domestic_chip, "
        f"k.__chip.tflops AS __tflops, {_prices(spec, ref)}, "
        f"{ref.fx_sql('upper(k.billing_currency)', 'k.__charge_date')} AS fx_rate_to_cny FROM ({keyed}) k"
    )
    gpu_hours = "coalesce(p.gpu_hours, p.gpu_count * p.__hours)"
    # A line measured in something else than GPU time (tokens) is priced per its pricing unit ("1000000 Tokens").
    block = "coalesce(TRY_CAST(regexp_extract(p.pricing_unit, '^\\s*([0-9]+)\\s', 1) AS DOUBLE), 1.0)"
    # A pricing quantity is derived only where its unit is known (FOCUS: PricingUnit null iff PricingQuantity null).
    pricing_quantity = (
        f"coalesce(p.pricing_quantity, CASE WHEN p.pricing_unit IS NULL THEN NULL WHEN {gpu_hours} IS NULL "
        f"THEN p.consumed_quantity / {block} ELSE {gpu_hours} END)"
    )
    quantity = pricing_quantity if pricing and pricing.per == "model" else gpu_hours
    contracted = f"coalesce(p.contracted_cost, round({quantity} * p.__contracted_price, 4), p.billed_cost)"
    billed = f"coalesce(p.billed_cost, {contracted})"
    money = {
        "billed_cost": billed,
        "effective_cost": f"coalesce(p.effective_cost, {billed})",
        "list_cost": f"coalesce(p.list_cost, round({quantity} * p.__list_price, 4), {contracted})",
        "contracted_cost": contracted,
    }
    provider = sql_str(ref.provider_name(spec.provider_id)) if ref.provider_name(spec.provider_id) else "NULL"
    subcategory = (
        "CASE WHEN p.service_category = 'AI and Machine Learning' THEN CASE WHEN p.consumed_unit ILIKE '%token%' "
        "THEN 'Generative AI' ELSE 'AI Platforms' END ELSE 'Other (' || p.service_category || ')' END"
    )
    replaced = {
        **{name: f"CAST({expr} AS {MONEY})" for name, expr in money.items()},
        "gpu_hours": gpu_hours,
        "gpu_count": "coalesce(p.gpu_count, p.gpu_hours / nullif(p.__hours, 0))",
        "consumed_quantity": f"coalesce(p.consumed_quantity, {gpu_hours})",
        "pricing_quantity": pricing_quantity,
        "sub_account_id": "coalesce(p.sub_account_id, p.tenant_id)",
        "provider_name": f"coalesce(p.provider_name, {provider})",
        "invoice_issuer_name": f"coalesce(p.invoice_issuer_name, {provider})",
        "publisher_name": f"coalesce(p.publisher_name, {provider})",
        "service_subcategory": f"coalesce(p.service_subcategory, {subcategory})",
    }
    derived = [
        f"CAST({gpu_hours} * p.__tflops / 1000.0 AS DOUBLE) AS pflop_hours",
        *[f"CAST({expr} * p.fx_rate_to_cny AS {MONEY}) AS {name}_cny" for name, expr in money.items()],
        "p.__charge_date AS charge_date",
        f"{sql_str(spec.provider_id or '')} AS provider_id",
        "(p.billed_cost IS NULL AND p.__list_price IS NOT NULL) AS priced_from_rate_card",
    ]
    enriched = (
        f"SELECT p.* REPLACE ({', '.join(f'{expr} AS {name}' for name, expr in replaced.items())}), "
        f"{', '.join(derived)} FROM ({priced}) p"
    )
    rules = [
        ("unknown_chip", "chip IS NOT NULL AND chip_model IS NULL"),
        ("missing_required:chip", "chip IS NULL AND chip_model IS NULL AND coalesce(gpu_hours, 0) > 0"),
        *fx_rules(ref, "billing_currency", "charge_date", "fx_rate_to_cny IS NULL"),
        *([] if spec.unpriced else [("missing_cost", "billed_cost IS NULL")]),
    ]
    return enriched, rules


def _prices(spec: SourceSpec, ref: RefSnapshot) -> str:
    """SQL of a row's rate-card list and contracted prices (`__list_price`, `__contracted_price`): for its chip,
    or its model when the spec prices per model, under the service of the row's line."""
    pricing = spec.pricing
    if pricing is None:
        return "CAST(NULL AS DOUBLE) AS __list_price, CAST(NULL AS DOUBLE) AS __contracted_price"
    item = "k.model_id" if pricing.per == "model" else "k.chip_model"
    services = [line.service or pricing.service for line in spec.lines] or [pricing.service]

    def price(index: int) -> str:
        rates = [
            ref.rate_sql(pricing.rate_card_provider, service, pricing.per, item, "k.__charge_date", index)
            for service in services
        ]
        if len(set(rates)) == 1:
            return rates[0]
        return "CASE k.__line " + " ".join(f"WHEN {no} THEN {r}" for no, r in enumerate(rates)) + " END"

    return f"{price(0)} AS __list_price, {price(1)} AS __contracted_price"


def transfers_enrich(spec: SourceSpec, ref: RefSnapshot) -> tuple[str, list[tuple[str, str]]]:
    """Duration, throughput, CNY cost and the network provider of transfers."""
    provider = sql_str(spec.provider_id) if spec.provider_id else "NULL"
    day = f"CAST(timezone({sql_str(LOCAL_TZ)}, t.start_time) AS DATE)"
    enriched = (
        "SELECT t.*, epoch(t.end_time) - epoch(t.start_time) AS duration_seconds, "
        "t.bytes * 8 / 1e6 / nullif(epoch(t.end_time) - epoch(t.start_time), 0) AS throughput_mbps, "
        f"CAST(t.cost * {ref.fx_sql('upper(t.currency)', day)} AS {MONEY}) AS cost_cny, "
        f"{day} AS transfer_date, {provider} AS provider_id FROM typed t"
    )
    return enriched, fx_rules(ref, "currency", "transfer_date", "cost IS NOT NULL AND cost_cny IS NULL")


def vouchers_enrich(ref: RefSnapshot) -> tuple[str, list[tuple[str, str]]]:
    """Face value of vouchers in CNY."""
    enriched = (
        f"SELECT t.*, CAST(t.face_value * {ref.fx_sql('upper(t.currency)', 't.valid_from')} AS {MONEY}) "
        "AS face_value_cny FROM typed t"
    )
    return enriched, fx_rules(ref, "currency", "valid_from", "face_value_cny IS NULL")


# Per kind: (column that must not start too far ahead, quantity limited by max_gpu_count, CNY amount limited).
_SANITY = {
    "usage": ("charge_period_start", "gpu_count", "billed_cost_cny"),
    "transfers": ("start_time", None, "cost_cny"),
    "vouchers": (None, None, "face_value_cny"),
    "catalog": (None, None, None),
}


def sanity_rules(spec: SourceSpec, ref: RefSnapshot, day: str | None) -> list[tuple[str, str]]:
    """Unknown tenants, absurd quantities and amounts, and times too far ahead of the file's day (SQL of its
    text; None for a file of an undated source: ahead of today)."""
    limits = spec.limits
    start, quantity, amount = _SANITY[spec.kind]
    rules = []
    unknown = ref.unknown_tenant_sql("tenant_id") if "tenant_id" in TARGETS[spec.kind].inputs else None
    if spec.check_tenants and unknown:
        rules.append(("unknown_tenant", unknown))
    if quantity:
        rules.append((f"absurd_quantity:{quantity}", f"{sql_ident(quantity)} > {limits.max_gpu_count!r}"))
    if amount:
        rules.append((f"absurd_amount:{amount}", f"abs({sql_ident(amount)}) > {limits.max_amount_cny!r}"))
    if start:
        today = f"CAST({day} AS DATE)" if day else "current_date"
        horizon = f"CAST({today} + INTERVAL {limits.max_days_ahead + 1} DAY AS TIMESTAMP)"
        local = f"timezone({sql_str(LOCAL_TZ)}, {sql_ident(start)})"
        rules.append(("future_timestamp", f"{local} >= {horizon}"))
    return rules
