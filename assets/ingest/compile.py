"""Compile a source spec into one set-based DuckDB query: type, enrich, and judge every raw record."""

from __future__ import annotations

import re

from assets.ingest.attributes import attributes_sql
from assets.ingest.expressions import compile_expression, numeric_operands, referenced_names
from assets.ingest.readers import RawRelation
from assets.ingest.refdata import RefSnapshot
from assets.ingest.spec import VALUE_TYPES, ColumnMap, SourceSpec
from assets.ingest.targets import MONEY, TARGETS, Target
from assets.ingest.units import focus_unit_sql
from warehouse.lake import sql_ident, sql_str

LOCAL_TZ = "Asia/Shanghai"
_TRUE = ("true", "1", "yes", "y", "t", "是")
_FALSE = ("false", "0", "no", "n", "f", "否")
_EPOCH = {"s": 1, "ms": 1_000, "us": 1_000_000}
_EPOCH_LIMIT = 253_402_300_800  # seconds from 1970 to year 10000
_UNAMBIGUOUS_ZONES = ("UTC", "GMT")


def _mapping_reads(spec: SourceSpec) -> set[str]:
    """Raw field names and JSON paths the spec's values and column mappings read."""
    names: set[str] = set()
    maps = [
        *spec.values.values(),
        *spec.columns.values(),
        *(m for line in spec.lines for m in line.columns.values()),
    ]
    for cmap in maps:
        if cmap.column is not None:
            names.add(cmap.column)
        elif cmap.expr is not None:
            names |= referenced_names(cmap.expr)
    return names - set(spec.values) - {FILE_DAY}


def mapped_fields(spec: SourceSpec) -> set[str]:
    """Raw fields that values and column mappings read whole (a JSON path reads only part of a field)."""
    return {name for name in _mapping_reads(spec) if not name.startswith("$")}


def raw_fields_of(spec: SourceSpec) -> set[str]:
    """Every raw field name a spec reads (mappings, rules and the attributes it lists)."""
    target = TARGETS[spec.kind]
    names = _mapping_reads(spec)
    for rule in spec.rules:
        names |= {
            n for n in referenced_names(rule.when) if n not in target.inputs and n not in DERIVED[spec.kind]
        }
    if spec.attributes and isinstance(spec.attributes.keep, list):
        names |= set(spec.attributes.keep)
    return names - set(spec.values) - {FILE_DAY}


def _text(sql: str, thousands: str | None = None, trim: bool = True) -> str:
    """A raw value as text, NULL when empty; surrounding whitespace removed when `trim`."""
    value = f"CAST({sql} AS VARCHAR)"
    value = f"nullif(trim({value}), '')" if trim else f"nullif({value}, '')"
    return f"replace({value}, {sql_str(thousands)}, '')" if thousands else value


def _timestamp(text: str, bare: str, cmap: ColumnMap, tz: str) -> str:
    zone = sql_str(cmap.timezone or tz)
    if zone == "'UTC'" and not cmap.epoch and not cmap.format:
        return (
            f"TRY_CAST({bare} AS TIMESTAMPTZ)"  # the session time zone is UTC: offsets honoured, naive is UTC
        )
    if cmap.epoch:
        number, unit = f"TRY_CAST({bare} AS DOUBLE)", _EPOCH[cmap.epoch]
        # NaN, infinity and numbers past year 9999 give NULL (an unparsable row), never an error for the file
        seconds = f"CASE WHEN abs({number}) < {_EPOCH_LIMIT * unit!r} THEN {number} / {unit} END"
        origin = f" + epoch(TIMESTAMPTZ {sql_str(cmap.origin)})" if cmap.origin else ""
        return f"to_timestamp({seconds}{origin})"
    if cmap.format:
        formats = [cmap.format] if isinstance(cmap.format, str) else list(cmap.format)
        fmt_sql = "[" + ", ".join(sql_str(f) for f in formats) + "]"
        if any("%z" in f or "%Z" in f for f in formats):
            return f"CAST(try_strptime({text}, {fmt_sql}) AS TIMESTAMPTZ)"
        return f"timezone({zone}, CAST(try_strptime({text}, {fmt_sql}) AS TIMESTAMP))"
    return (
        f"CASE WHEN {_has_offset(text)} THEN TRY_CAST({text} AS TIMESTAMPTZ) "
        f"ELSE timezone({zone}, TRY_CAST({text} AS TIMESTAMP)) END"
    )


def _zone_suffix(text: str) -> str:
    """SQL: the zone abbreviation a timestamp text ends in (`... 16:00:00 CST` gives CST), NULL when none; the
    regular expression runs only on texts whose last two characters are letters."""
    return (
        f"CASE WHEN ascii(right({text}, 1)) >= 65 AND ascii(right({text}, 2)) >= 65 "
        f"THEN upper(nullif(regexp_extract({text}, ' ([A-Za-z]{{2,5}})$', 1), '')) END"
    )


def with_zone_abbreviations(text: str, value: str, abbreviations: dict[str, str]) -> tuple[str, str]:
    """A timestamp value that honours the zone abbreviations a spec maps (and UTC / GMT), NULL for any other
    abbreviation, and the SQL condition of a row whose abbreviation is ambiguous."""
    suffix = _zone_suffix(text)
    mapped = {k.upper(): v for k, v in abbreviations.items()}
    zone = (
        "CASE "
        + " ".join(f"WHEN {suffix} = {sql_str(k)} THEN {sql_str(v)}" for k, v in mapped.items())
        + " END"
        if mapped
        else "CAST(NULL AS VARCHAR)"
    )
    known = ", ".join(sql_str(z) for z in _UNAMBIGUOUS_ZONES)
    value = (
        f"CASE WHEN {suffix} IS NULL THEN {value} "
        f"WHEN {zone} IS NOT NULL THEN TRY_CAST(regexp_replace({text}, ' [A-Za-z]{{2,5}}$', ' ' || {zone}) "
        f"AS TIMESTAMPTZ) WHEN {suffix} IN ({known}) THEN TRY_CAST({text} AS TIMESTAMPTZ) END"
    )
    return value, f"{suffix} IS NOT NULL AND {zone} IS NULL AND {suffix} NOT IN ({known})"


class SqlRuleName(str):
    """A rule name computed per row by SQL (e.g. `no_fx_rate:USD:2025-08-04`) rather than a fixed name."""


def _rule_name(name: str) -> str:
    return str(name) if isinstance(name, SqlRuleName) else sql_str(name)


def _fx_rules(ref: RefSnapshot, currency: str, day: str, missing: str) -> list[tuple[str, str]]:
    """Rows without a CNY amount: a known currency with no rate for the day (`no_fx_rate:<currency>:<day>`),
    else a currency the rate table does not know (`unknown_currency`)."""
    code = f"upper({currency})"
    known = ", ".join(sql_str(c) for c in sorted(ref.fx_currencies))
    no_rate = SqlRuleName(f"'no_fx_rate:' || {code} || ':' || CAST({day} AS VARCHAR)")
    return [(no_rate, f"{missing} AND {code} IN ({known})"), ("unknown_currency", missing)]


def _has_offset(text: str) -> str:
    """SQL: a timestamp text ends in Z or a +hh[:mm] / -hh[:mm] offset (plain string tests, no regex per row)."""
    tail = f"right({text}, 6)"
    return (
        f"(right({text}, 1) IN ('Z', 'z') OR (length({text}) > 10 "
        f"AND (contains({tail}, '+') OR contains({tail}, '-'))))"
    )


def convert(sql: str, sql_type: str, cmap: ColumnMap, tz: str) -> str:
    """SQL that turns a raw value into the canonical type, NULL when it does not parse."""
    text = _text(sql, cmap.thousands)
    # DuckDB's casts ignore surrounding whitespace and give NULL for '', so plain casts skip the trim.
    bare = text if cmap.thousands else f"CAST({sql} AS VARCHAR)"
    if sql_type == "VARCHAR":
        return text
    if sql_type == "TIMESTAMPTZ":
        return _timestamp(text, bare, cmap, tz)
    if sql_type == "DATE":
        if cmap.format:
            formats = [cmap.format] if isinstance(cmap.format, str) else list(cmap.format)
            return f"CAST(try_strptime({text}, [{', '.join(sql_str(f) for f in formats)}]) AS DATE)"
        return f"TRY_CAST({bare} AS DATE)"
    if sql_type == "BOOLEAN":
        low = f"lower({text})"
        return (
            f"CASE WHEN {low} IN ({', '.join(map(sql_str, _TRUE))}) THEN TRUE "
            f"WHEN {low} IN ({', '.join(map(sql_str, _FALSE))}) THEN FALSE END"
        )
    if sql_type == "VARCHAR[]":
        return (
            f"CASE WHEN {text} IS NULL THEN NULL WHEN json_valid({text}) AND starts_with({text}, '[') "
            f"THEN CAST(json_extract_string({text}, '$[*]') AS VARCHAR[]) "
            f"ELSE list_filter(list_transform(string_split({text}, ';'), lambda x: trim(x)), lambda x: x <> '') END"
        )
    if sql_type in ("BIGINT", "INTEGER"):
        as_double = f"TRY_CAST({bare} AS DOUBLE)"
        return (
            f"coalesce(TRY_CAST({bare} AS {sql_type}), CASE WHEN {as_double} = floor({as_double}) "
            f"THEN TRY_CAST({as_double} AS {sql_type}) END)"
        )
    return f"TRY_CAST({bare} AS {sql_type})"


def _map_values(text: str, mapping: dict[str, str | None]) -> str:
    default = mapping.get("*")
    cases = " ".join(
        f"WHEN {sql_str(k)} THEN {sql_str(v) if v is not None else 'NULL'}"
        for k, v in mapping.items()
        if k != "*"
    )
    fallback = sql_str(default) if default is not None else "NULL"
    return f"(CASE {text} {cases} ELSE {fallback} END)"


def _literal(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return sql_str(value)


def is_day(key: str) -> bool:
    """Whether a partition key is a day (YYYY-MM-DD), not the key of an undated source's files."""
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}", key) is not None


# Names an expression may read besides the file's fields and the spec's values: the day the file's path names
# (its partition), as text YYYY-MM-DD (NULL for a file of an undated source).
FILE_DAY = "file_day"


class _Builder:
    def __init__(self, spec: SourceSpec, raw: RawRelation, key: str) -> None:
        self.spec = spec
        self.key = key
        self.target: Target = TARGETS[spec.kind]
        self.raw_alias = {f: f"__f{i}" for i, f in enumerate(raw.fields)}
        self.doubles: list[str] = []  # mapped DOUBLE columns, whose NaN and infinities are quarantined

    def raw(self, name: str) -> str:
        if name in self.spec.values:
            return sql_ident(f"__v_{name}")
        if name == FILE_DAY:
            return sql_str(self.key) if is_day(self.key) else "CAST(NULL AS VARCHAR)"
        if name in self.raw_alias:
            return sql_ident(self.raw_alias[name])
        if name in self.spec.optional_columns:
            return "CAST(NULL AS VARCHAR)"
        raise KeyError(name)

    def values(self) -> tuple[list[str], list[tuple[str, str]]]:
        """The spec's named values as columns `__v_<name>` (one SELECT item each, in order), and their checks."""
        columns, checks = [], []
        for name, value in self.spec.values.items():
            sql, value_checks = self._mapped(f"__v_{name}", VALUE_TYPES[value.type], value, label=name)
            columns.append(f"{sql} AS {sql_ident(f'__v_{name}')}")
            checks.extend(value_checks)
        return columns, checks

    def typed_columns(self) -> tuple[list[str], list[tuple[str, str]]]:
        """Typed canonical columns, and (rule, condition) checks on raw values that failed to parse.

        A column that some of the spec's lines map their own way takes, on each line, that line's mapping (or
        the shared one), chosen by `__line`."""
        columns, checks = [], []
        for col, sql_type in self.target.inputs.items():
            shared = self.spec.columns.get(col)
            own = [line.columns.get(col) for line in self.spec.lines]
            if any(cmap is not None for cmap in own):
                value, col_checks = self._per_line(col, sql_type, [cmap or shared for cmap in own])
            elif shared is None:
                value, col_checks = self._fallback(col, sql_type), []
            else:
                value, col_checks = self._mapped(col, sql_type, shared)
            columns.append(f"{value} AS {sql_ident(col)}")
            checks.extend(col_checks)
        return columns, checks

    def _per_line(
        self, col: str, sql_type: str, maps: list[ColumnMap | None]
    ) -> tuple[str, list[tuple[str, str]]]:
        branches, checks = [], []
        for no, cmap in enumerate(maps):
            value, line_checks = (
                (self._fallback(col, sql_type), []) if cmap is None else self._mapped(col, sql_type, cmap)
            )
            branches.append(f"WHEN {no} THEN {value}")
            checks += [(name, f"(__line = {no} AND ({cond}))") for name, cond in line_checks]
        return f"CASE __line {' '.join(branches)} END", checks

    def _fallback(self, col: str, sql_type: str) -> str:
        if col in ("billing_currency", "currency"):
            return sql_str(self.spec.currency)
        if col in self.target.defaults:
            return self.target.defaults[col]
        return f"CAST(NULL AS {sql_type})"

    def _mapped(
        self, col: str, sql_type: str, cmap: ColumnMap, label: str | None = None
    ) -> tuple[str, list[tuple[str, str]]]:
        """SQL of a typed column (or named value `label`) from its mapping, and its (rule, condition) checks."""
        label = label or col
        checks: list[tuple[str, str]] = []
        if cmap.const is not None:
            return f"CAST({_literal(cmap.const)} AS {sql_type})", checks
        fallible = sql_type != "VARCHAR"
        if cmap.column is not None:
            source = self.raw(cmap.column)
            text = _text(source, trim=fallible or cmap.map is not None or self.spec.format.trim)
            if cmap.map is not None:
                mapped = _map_values(text, cmap.map)
                checks.append((f"unmapped_value:{label}", f"{text} IS NOT NULL AND {mapped} IS NULL"))
                source = mapped
            elif not fallible:
                return self._with_default(text, text, sql_type, cmap), checks
        else:
            assert cmap.expr is not None
            source = compile_expression(cmap.expr, self.raw)
            for name in sorted(numeric_operands(cmap.expr)):
                raw_text = _text(self.raw(name), cmap.thousands)
                checks.append(
                    (
                        f"unparsable:{label}",
                        f"{raw_text} IS NOT NULL AND TRY_CAST({raw_text} AS DOUBLE) IS NULL",
                    )
                )
        value = convert(source, sql_type, cmap, self.spec.timezone)
        source_text = _text(source, cmap.thousands)
        if sql_type == "TIMESTAMPTZ" and not cmap.epoch and not cmap.format:
            value, ambiguous = with_zone_abbreviations(source_text, value, self.spec.timezone_abbreviations)
            checks.append((f"ambiguous_timezone:{label}", ambiguous))
        if sql_type == "DOUBLE":
            if col not in self.doubles:
                self.doubles.append(col)
            checks.append((f"non_finite:{label}", f"NOT isfinite({sql_ident(col)})"))
        if fallible:  # the raw text is only looked at where the converted value is NULL
            checks.append(
                (
                    f"unparsable:{label}",
                    f"CASE WHEN {sql_ident(col)} IS NULL THEN {source_text} IS NOT NULL END",
                )
            )
        return self._with_default(value, source_text, sql_type, cmap), checks

    @staticmethod
    def _with_default(value: str, source_text: str, sql_type: str, cmap: ColumnMap) -> str:
        if cmap.default is None:
            return value
        default = f"CAST({_literal(cmap.default)} AS {sql_type})"
        return f"CASE WHEN {source_text} IS NULL THEN {default} ELSE {value} END"


DERIVED: dict[str, dict[str, str]] = {
    "usage": {
        "chip_model": "VARCHAR",
        "chip_vendor": "VARCHAR",
        "is_domestic_chip": "BOOLEAN",
        "pflop_hours": "DOUBLE",
        "billed_cost_cny": MONEY,
        "effective_cost_cny": MONEY,
        "list_cost_cny": MONEY,
        "contracted_cost_cny": MONEY,
        "charge_date": "DATE",
        "provider_id": "VARCHAR",
        "priced_from_rate_card": "BOOLEAN",
        "fx_rate_to_cny": "DOUBLE",
    },
    "transfers": {
        "duration_seconds": "DOUBLE",
        "throughput_mbps": "DOUBLE",
        "cost_cny": MONEY,
        "transfer_date": "DATE",
        "provider_id": "VARCHAR",
    },
    "catalog": {"attributes": "JSON"},
    "vouchers": {"face_value_cny": MONEY},
}


def _usage_enrich(spec: SourceSpec, ref: RefSnapshot) -> tuple[str, list[tuple[str, str]]]:
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
    # Units are delivered spelled many ways: rewritten into the FOCUS Unit Format (GPU-Hour -> GPU-Hours).
    replaced.update({unit: focus_unit_sql(f"p.{unit}") for unit in ("consumed_unit", "pricing_unit")})
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
        *_fx_rules(ref, "billing_currency", "charge_date", "fx_rate_to_cny IS NULL"),
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


def _transfers_enrich(spec: SourceSpec, ref: RefSnapshot) -> tuple[str, list[tuple[str, str]]]:
    """Duration, throughput, CNY cost and the network provider of transfers."""
    provider = sql_str(spec.provider_id) if spec.provider_id else "NULL"
    day = f"CAST(timezone({sql_str(LOCAL_TZ)}, t.start_time) AS DATE)"
    enriched = (
        "SELECT t.*, epoch(t.end_time) - epoch(t.start_time) AS duration_seconds, "
        "t.bytes * 8 / 1e6 / nullif(epoch(t.end_time) - epoch(t.start_time), 0) AS throughput_mbps, "
        f"CAST(t.cost * {ref.fx_sql('upper(t.currency)', day)} AS {MONEY}) AS cost_cny, "
        f"{day} AS transfer_date, {provider} AS provider_id FROM typed t"
    )
    return enriched, _fx_rules(ref, "currency", "transfer_date", "cost IS NOT NULL AND cost_cny IS NULL")


def _vouchers_enrich(ref: RefSnapshot) -> tuple[str, list[tuple[str, str]]]:
    """Face value of vouchers in CNY."""
    enriched = (
        f"SELECT t.*, CAST(t.face_value * {ref.fx_sql('upper(t.currency)', 't.valid_from')} AS {MONEY}) "
        "AS face_value_cny FROM typed t"
    )
    return enriched, _fx_rules(ref, "currency", "valid_from", "face_value_cny IS NULL")


# Per kind: (column that must not start too far ahead, quantity limited by max_gpu_count, CNY amount limited).
_SANITY = {
    "usage": ("charge_period_start", "gpu_count", "billed_cost_cny"),
    "transfers": ("start_time", None, "cost_cny"),
    "vouchers": (None, None, "face_value_cny"),
    "catalog": (None, None, None),
}


def _sanity_rules(spec: SourceSpec, ref: RefSnapshot, key: str) -> list[tuple[str, str]]:
    """Unknown tenants, absurd quantities and amounts, and times too far ahead of the file's day."""
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
        day = f"DATE {sql_str(key)}" if is_day(key) else "current_date"
        horizon = f"CAST({day} + INTERVAL {limits.max_days_ahead + 1} DAY AS TIMESTAMP)"
        local = f"timezone({sql_str(LOCAL_TZ)}, {sql_ident(start)})"
        rules.append(("future_timestamp", f"{local} >= {horizon}"))
    return rules


def output_columns(kind: str) -> list[str]:
    """Columns of the lake files of a kind, in order."""
    target = TARGETS[kind]
    inputs = [c for c in target.inputs if c != "chip"]
    extra = ["raw_chip"] if kind == "usage" else []
    line = ["source_line"] if kind == "usage" else []
    return [
        *inputs,
        *extra,
        *DERIVED[kind],
        "source_name",
        "source_file",
        "source_row",
        *line,
        "partition_key",
    ]


def compile_source(spec: SourceSpec, raw: RawRelation, ref: RefSnapshot, source_file: str, key: str) -> str:
    """The full query over one raw relation: canonical columns, lineage, `__rule` and (for bad rows) `__raw`.

    The query has no join and no ORDER BY, so DuckDB writes its rows in file order: for readers that number
    rows by position, `source_row` is left NULL and is the row's position in the written file.
    """
    b = _Builder(spec, raw, key)
    target = b.target
    records = _records(spec, raw)
    value_cols, parse_checks = b.values()
    for value in value_cols:  # each value once per record; a later value may read an earlier one
        records = f"SELECT *, {value} FROM ({records})"
    typed_cols, typed_checks = b.typed_columns()
    parse_checks += typed_checks
    parse_flags = [f"({cond}) AS {sql_ident('__p' + str(i))}" for i, (_, cond) in enumerate(parse_checks)]
    finite = ", ".join(f"CASE WHEN isfinite({c}) THEN {c} END AS {c}" for c in map(sql_ident, b.doubles))
    typed = (
        f"SELECT * {f'REPLACE ({finite})' if finite else ''}, {', '.join(parse_flags) or 'NULL AS __none'} "
        f"FROM (SELECT *, {', '.join(typed_cols)} FROM ({records}))"
    )
    enriched, kind_rules = {
        "usage": lambda: _usage_enrich(spec, ref),
        "transfers": lambda: _transfers_enrich(spec, ref),
        "vouchers": lambda: _vouchers_enrich(ref),
        "catalog": lambda: (
            f"SELECT *, {attributes_sql(spec, b.raw_alias, mapped_fields(spec))} AS attributes FROM typed",
            [],
        ),
    }[spec.kind]()

    def resolve(name: str) -> str:
        if name in target.inputs or name in DERIVED[spec.kind]:
            return sql_ident(name)
        return b.raw(name)

    skip_rules = [
        (f"skip:{r.name}", compile_expression(r.when, resolve)) for r in spec.rules if r.action == "skip"
    ]
    own_rules = [
        (r.name, compile_expression(r.when, resolve)) for r in spec.rules if r.action == "quarantine"
    ]
    rules: list[tuple[str, str]] = [("unparsable_record", "__broken")]
    if spec.format.type == "regex":
        rules.append(("no_pattern_matched", "__pattern IS NULL"))
    if raw.header_sql:
        rules.append(("repeated_header", raw.header_sql))
    rules += skip_rules
    # A value that is there but does not parse is named so before a required column is called missing.
    rules += [(name, sql_ident(f"__p{i}")) for i, (name, _) in enumerate(parse_checks)]
    required = [
        *target.required,
        *(["snapshot_at"] if spec.kind == "catalog" and not spec.landing.partition else []),
    ]
    rules += [(f"missing_required:{c}", f"{sql_ident(c)} IS NULL") for c in required]
    if target.interval:
        start, end = target.interval
        rules.append(("end_before_start", f"{sql_ident(end)} < {sql_ident(start)}"))
        if spec.kind == "usage":  # FOCUS: a charge period has a positive length
            rules.append(("zero_length_period", f"{sql_ident(end)} = {sql_ident(start)}"))
    rules += [(f"negative_quantity:{c}", f"{sql_ident(c)} < 0") for c in target.numeric_checks]
    rules += kind_rules + _sanity_rules(spec, ref, key) + own_rules
    judge = "CASE " + " ".join(f"WHEN {cond} THEN {_rule_name(name)}" for name, cond in rules) + " END"
    lineage = ("source_name", "source_file", "source_row", "partition_key", "raw_chip", "source_line")
    columns = ", ".join(sql_ident(c) for c in output_columns(spec.kind) if c not in lineage)
    usage = f"chip AS raw_chip, {_line_name(spec)} AS source_line, " if spec.kind == "usage" else ""
    return (
        f"WITH typed AS ({typed}), enriched AS ({enriched}), judged AS (SELECT *, {judge} AS __rule FROM enriched) "
        f"SELECT {columns}, {usage}{sql_str(spec.name)} AS source_name, {sql_str(source_file)} AS source_file, "
        f"CAST(__row AS BIGINT) AS source_row, {sql_str(key)} AS partition_key, __rule, "
        f"CASE WHEN __rule IS NOT NULL THEN {raw.raw_sql} END AS __raw FROM judged"
        + (" ORDER BY __row, __line" if spec.lines else "")
    )


def _records(spec: SourceSpec, raw: RawRelation) -> str:
    """The raw records, each repeated once per line of the spec (`__line` 0, 1, ...) when it has lines.

    Repeating breaks numbering by position, so such records are numbered first (in file order)."""
    if not spec.lines:
        return f"SELECT *, 0 AS __line FROM ({raw.select_sql})"
    numbered = f"SELECT * REPLACE (coalesce(__row, row_number() OVER ()) AS __row) FROM ({raw.select_sql})"
    return f"SELECT r.*, l.__line FROM ({numbered}) r CROSS JOIN range({len(spec.lines)}) l(__line)"


def _line_name(spec: SourceSpec) -> str:
    """SQL of the name of a row's line (NULL for a spec whose records are one line each)."""
    if not spec.lines:
        return "CAST(NULL AS VARCHAR)"
    return (
        "CASE __line "
        + " ".join(f"WHEN {no} THEN {sql_str(line.name)}" for no, line in enumerate(spec.lines))
        + " END"
    )
