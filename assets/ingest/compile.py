"""Compile a source spec into one set-based DuckDB query: type, enrich, and judge every raw record."""

from __future__ import annotations

from assets.ingest.expressions import compile_expression, numeric_operands, referenced_names
from assets.ingest.spec import ColumnMap, SourceSpec
from assets.ingest.targets import MONEY, TARGETS, Target
from warehouse.lake import sql_ident, sql_str

LOCAL_TZ = "Asia/Shanghai"
_OFFSET = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"
_TRUE = ("true", "1", "yes", "y", "t", "是")
_FALSE = ("false", "0", "no", "n", "f", "否")
_EPOCH = {"s": 1, "ms": 1_000, "us": 1_000_000}


def raw_fields_of(spec: SourceSpec) -> set[str]:
    """Every raw field name a spec reads (mappings and rules)."""
    target = TARGETS[spec.kind]
    names: set[str] = set()
    for cmap in spec.columns.values():
        if cmap.column is not None:
            names.add(cmap.column)
        elif cmap.expr is not None:
            names |= referenced_names(cmap.expr)
    for rule in spec.rules:
        names |= {
            n for n in referenced_names(rule.when) if n not in target.inputs and n not in DERIVED[spec.kind]
        }
    return names


def _text(sql: str, thousands: str | None = None) -> str:
    value = f"nullif(trim(CAST({sql} AS VARCHAR)), '')"
    return f"replace({value}, {sql_str(thousands)}, '')" if thousands else value


def _timestamp(text: str, cmap: ColumnMap, tz: str) -> str:
    zone = sql_str(cmap.timezone or tz)
    if cmap.epoch:
        seconds = f"TRY_CAST({text} AS DOUBLE) / {_EPOCH[cmap.epoch]}"
        origin = f" + epoch(TIMESTAMPTZ {sql_str(cmap.origin)})" if cmap.origin else ""
        return f"to_timestamp({seconds}{origin})"
    if cmap.format:
        formats = [cmap.format] if isinstance(cmap.format, str) else list(cmap.format)
        fmt_sql = "[" + ", ".join(sql_str(f) for f in formats) + "]"
        if any("%z" in f or "%Z" in f for f in formats):
            return f"CAST(try_strptime({text}, {fmt_sql}) AS TIMESTAMPTZ)"
        return f"timezone({zone}, CAST(try_strptime({text}, {fmt_sql}) AS TIMESTAMP))"
    return (
        f"CASE WHEN regexp_matches({text}, {sql_str(_OFFSET)}) THEN TRY_CAST({text} AS TIMESTAMPTZ) "
        f"ELSE timezone({zone}, TRY_CAST({text} AS TIMESTAMP)) END"
    )


def convert(sql: str, sql_type: str, cmap: ColumnMap, tz: str) -> str:
    """SQL that turns a raw value into the canonical type, NULL when it does not parse."""
    text = _text(sql, cmap.thousands)
    if sql_type == "VARCHAR":
        return text
    if sql_type == "TIMESTAMPTZ":
        return _timestamp(text, cmap, tz)
    if sql_type == "DATE":
        if cmap.format:
            formats = [cmap.format] if isinstance(cmap.format, str) else list(cmap.format)
            return f"CAST(try_strptime({text}, [{', '.join(sql_str(f) for f in formats)}]) AS DATE)"
        return f"TRY_CAST({text} AS DATE)"
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
        as_double = f"TRY_CAST({text} AS DOUBLE)"
        return (
            f"coalesce(TRY_CAST({text} AS {sql_type}), CASE WHEN {as_double} = floor({as_double}) "
            f"THEN TRY_CAST({as_double} AS {sql_type}) END)"
        )
    return f"TRY_CAST({text} AS {sql_type})"


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


class _Builder:
    def __init__(self, spec: SourceSpec, fields: list[str]) -> None:
        self.spec = spec
        self.target: Target = TARGETS[spec.kind]
        self.fields = fields
        self.raw_alias = {f: f"__f{i}" for i, f in enumerate(fields)}

    def raw(self, name: str) -> str:
        if name in self.raw_alias:
            return sql_ident(name)
        if name in self.spec.optional_columns:
            return "CAST(NULL AS VARCHAR)"
        raise KeyError(name)

    def typed_columns(self) -> tuple[list[str], list[tuple[str, str]]]:
        """Typed canonical columns, and (rule, condition) checks on raw values that failed to parse."""
        columns, checks = [], []
        for col, sql_type in self.target.inputs.items():
            cmap = self.spec.columns.get(col)
            if cmap is None:
                columns.append(f"{self._fallback(col, sql_type)} AS {sql_ident(col)}")
                continue
            value, col_checks = self._mapped(col, sql_type, cmap)
            columns.append(f"{value} AS {sql_ident(col)}")
            checks.extend(col_checks)
        return columns, checks

    def _fallback(self, col: str, sql_type: str) -> str:
        if col in ("billing_currency", "currency"):
            return sql_str(self.spec.currency)
        if col in self.target.defaults:
            return self.target.defaults[col]
        return f"CAST(NULL AS {sql_type})"

    def _mapped(self, col: str, sql_type: str, cmap: ColumnMap) -> tuple[str, list[tuple[str, str]]]:
        checks: list[tuple[str, str]] = []
        if cmap.const is not None:
            return f"CAST({_literal(cmap.const)} AS {sql_type})", checks
        if cmap.column is not None:
            source = self.raw(cmap.column)
            text = _text(source)
            if cmap.map is not None:
                mapped = _map_values(text, cmap.map)
                checks.append((f"unmapped_value:{col}", f"{text} IS NOT NULL AND {mapped} IS NULL"))
                source = mapped
        else:
            assert cmap.expr is not None
            source = compile_expression(cmap.expr, self.raw)
            for name in sorted(numeric_operands(cmap.expr)):
                raw_text = _text(self.raw(name), cmap.thousands)
                checks.append(
                    (
                        f"unparsable:{col}",
                        f"{raw_text} IS NOT NULL AND TRY_CAST({raw_text} AS DOUBLE) IS NULL",
                    )
                )
        value = convert(source, sql_type, cmap, self.spec.timezone)
        source_text = _text(source, cmap.thousands)
        checks.append((f"unparsable:{col}", f"{source_text} IS NOT NULL AND ({value}) IS NULL"))
        if cmap.default is not None:
            value = f"coalesce({value}, CAST({_literal(cmap.default)} AS {sql_type}))"
        return value, checks


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
    },
    "catalog": {},
    "vouchers": {"face_value_cny": MONEY},
}


def _usage_enrich(spec: SourceSpec) -> tuple[str, list[tuple[str, str]]]:
    pricing = spec.pricing
    aliases = " UNION ALL ".join(
        f"SELECT {sql_str(_chip_key_py(a))} AS key, {sql_str(m)} AS chip_model"
        for a, m in spec.chip_aliases.items()
    )
    lookup = (
        "ref_chip_lookup"
        if not aliases
        else (
            f"(SELECT key, chip_model FROM ref_chip_lookup WHERE key NOT IN (SELECT key FROM ({aliases})) "
            f"UNION ALL {aliases})"
        )
    )
    chip_expr = (
        "coalesce(t.chip, "
        + (sql_str(pricing.fallback_chip) if pricing and pricing.fallback_chip else "NULL")
        + ")"
    )
    rate_join = ""
    rate_cols = "NULL::DOUBLE AS __list_price, NULL::DOUBLE AS __contracted_price"
    if pricing:
        rate_join = (
            f"ASOF LEFT JOIN (SELECT * FROM ref_rate_cards WHERE provider_id = {sql_str(pricing.rate_card_provider)} "
            f"AND service = {sql_str(pricing.service)}) rc ON rc.chip_model = k.chip_model "
            f"AND k.__charge_date >= rc.valid_from"
        )
        rate_cols = (
            "CASE WHEN rc.valid_to IS NULL OR k.__charge_date < rc.valid_to THEN rc.list_price END AS __list_price, "
            "CASE WHEN rc.valid_to IS NULL OR k.__charge_date < rc.valid_to THEN rc.contracted_price END "
            "AS __contracted_price"
        )
    keyed = (
        "SELECT t.*, c.chip_model, ch.vendor AS chip_vendor, ch.domestic AS is_domestic_chip, "
        "ch.dense_tflops AS __tflops, "
        f"CAST(timezone({sql_str(LOCAL_TZ)}, t.charge_period_start) AS DATE) AS __charge_date, "
        f"(epoch(t.charge_period_end) - epoch(t.charge_period_start)) / 3600.0 AS __hours, "
        f"upper(t.billing_currency) AS __currency "
        f"FROM typed t LEFT JOIN {lookup} c ON c.key = {_chip_key_sql(chip_expr)} "
        f"LEFT JOIN ref_chips ch ON ch.chip_model = c.chip_model"
    )
    priced = (
        f"SELECT k.*, {rate_cols}, CASE WHEN k.__currency = 'CNY' THEN 1.0 ELSE fx.rate_to_cny END AS fx_rate_to_cny "
        f"FROM ({keyed}) k {rate_join} "
        f"ASOF LEFT JOIN ref_fx_rates fx ON fx.currency = k.__currency AND k.__charge_date >= fx.valid_from"
    )
    gpu_hours = "coalesce(p.gpu_hours, p.gpu_count * p.__hours)"
    contracted = f"coalesce(p.contracted_cost, round({gpu_hours} * p.__contracted_price, 4), p.billed_cost)"
    billed = f"coalesce(p.billed_cost, {contracted})"
    effective = f"coalesce(p.effective_cost, {billed})"
    listed = f"coalesce(p.list_cost, round({gpu_hours} * p.__list_price, 4), {contracted})"
    money = {
        "billed_cost": billed,
        "effective_cost": effective,
        "list_cost": listed,
        "contracted_cost": contracted,
    }
    replace = [f"CAST({expr} AS {MONEY}) AS {name}" for name, expr in money.items()]
    replace += [
        f"{gpu_hours} AS gpu_hours",
        "coalesce(p.gpu_count, p.gpu_hours / nullif(p.__hours, 0)) AS gpu_count",
        f"coalesce(p.consumed_quantity, {gpu_hours}) AS consumed_quantity",
        f"coalesce(p.pricing_quantity, {gpu_hours}) AS pricing_quantity",
        "coalesce(p.sub_account_id, p.tenant_id) AS sub_account_id",
        "coalesce(p.provider_name, pr.provider_name) AS provider_name",
        "coalesce(p.invoice_issuer_name, pr.provider_name) AS invoice_issuer_name",
        "coalesce(p.publisher_name, pr.provider_name) AS publisher_name",
    ]
    derived = [
        f"CAST({gpu_hours} * p.__tflops / 1000.0 AS DOUBLE) AS pflop_hours",
        *[f"CAST({expr} * p.fx_rate_to_cny AS {MONEY}) AS {name}_cny" for name, expr in money.items()],
        "p.__charge_date AS charge_date",
        f"{sql_str(spec.provider_id or '')} AS provider_id",
        "(p.billed_cost IS NULL AND p.__list_price IS NOT NULL) AS priced_from_rate_card",
    ]
    overridden = ", ".join(
        [
            "billed_cost",
            "effective_cost",
            "list_cost",
            "contracted_cost",
            "gpu_hours",
            "gpu_count",
            "consumed_quantity",
            "pricing_quantity",
            "sub_account_id",
            "provider_name",
            "invoice_issuer_name",
            "publisher_name",
        ]
    )
    enriched = (
        f"SELECT p.* EXCLUDE ({overridden}), {', '.join(replace)}, {', '.join(derived)} FROM ({priced}) p "
        f"LEFT JOIN ref_providers pr ON pr.provider_id = {sql_str(spec.provider_id or '')}"
    )
    rules = [
        ("unknown_chip", "chip IS NOT NULL AND chip_model IS NULL"),
        ("missing_required:chip", "chip IS NULL AND chip_model IS NULL AND coalesce(gpu_hours, 0) > 0"),
        ("unknown_currency", "fx_rate_to_cny IS NULL"),
        ("missing_cost", "billed_cost IS NULL"),
    ]
    return enriched, rules


def _chip_key_py(name: str) -> str:
    return "".join(ch for ch in name.upper() if ch not in " _-")


def _chip_key_sql(sql: str) -> str:
    return f"upper(regexp_replace({sql}, '[ _-]', '', 'g'))"


def _transfers_enrich() -> tuple[str, list[tuple[str, str]]]:
    enriched = (
        "SELECT t.*, epoch(t.end_time) - epoch(t.start_time) AS duration_seconds, "
        "t.bytes * 8 / 1e6 / nullif(epoch(t.end_time) - epoch(t.start_time), 0) AS throughput_mbps, "
        f"CAST(t.cost * CASE WHEN upper(t.currency) = 'CNY' THEN 1.0 ELSE fx.rate_to_cny END AS {MONEY}) AS cost_cny, "
        f"CAST(timezone({sql_str(LOCAL_TZ)}, t.start_time) AS DATE) AS transfer_date "
        "FROM typed t ASOF LEFT JOIN ref_fx_rates fx ON fx.currency = upper(t.currency) "
        f"AND CAST(timezone({sql_str(LOCAL_TZ)}, t.start_time) AS DATE) >= fx.valid_from"
    )
    return enriched, [("unknown_currency", "cost IS NOT NULL AND cost_cny IS NULL")]


def _vouchers_enrich() -> tuple[str, list[tuple[str, str]]]:
    enriched = (
        f"SELECT t.*, CAST(t.face_value * CASE WHEN upper(t.currency) = 'CNY' THEN 1.0 ELSE fx.rate_to_cny END "
        f"AS {MONEY}) AS face_value_cny FROM typed t "
        "ASOF LEFT JOIN ref_fx_rates fx ON fx.currency = upper(t.currency) AND t.valid_from >= fx.valid_from"
    )
    return enriched, [("unknown_currency", "face_value_cny IS NULL")]


def output_columns(kind: str) -> list[str]:
    """Columns of the lake files of a kind, in order."""
    target = TARGETS[kind]
    inputs = [c for c in target.inputs if c != "chip"]
    extra = ["raw_chip"] if kind == "usage" else []
    return [*inputs, *extra, *DERIVED[kind], "source_name", "source_file", "source_row", "partition_key"]


def compile_source(
    spec: SourceSpec, raw_sql: str, fields: list[str], source_file: str, partition_key: str
) -> str:
    """The full query over one raw relation: canonical columns, `__rule`, `__raw` and `__status`."""
    b = _Builder(spec, fields)
    target = b.target
    typed_cols, parse_checks = b.typed_columns()
    rule_fields = sorted(
        {n for r in spec.rules for n in referenced_names(r.when)}
        & set(fields) - set(target.inputs) - set(DERIVED[spec.kind])
    )
    carried = [f"{sql_ident(f)} AS {sql_ident('__r_' + f)}" for f in rule_fields]
    parse_flags = [f"({cond}) AS {sql_ident('__p' + str(i))}" for i, (_, cond) in enumerate(parse_checks)]
    typed = f"SELECT __row, __raw, __broken, {', '.join(typed_cols + carried + parse_flags)} FROM ({raw_sql})"
    enrich_fn = {
        "usage": lambda: _usage_enrich(spec),
        "transfers": _transfers_enrich,
        "vouchers": _vouchers_enrich,
        "catalog": lambda: ("SELECT * FROM typed", []),
    }[spec.kind]
    enriched, kind_rules = enrich_fn()

    def resolve(name: str) -> str:
        if name in target.inputs or name in DERIVED[spec.kind]:
            return sql_ident(name)
        if name in rule_fields:
            return sql_ident("__r_" + name)
        raise KeyError(name)

    skip_rules = [
        (f"skip:{r.name}", compile_expression(r.when, resolve)) for r in spec.rules if r.action == "skip"
    ]
    own_rules = [
        (r.name, compile_expression(r.when, resolve)) for r in spec.rules if r.action == "quarantine"
    ]
    rules: list[tuple[str, str]] = [("unparsable_record", "__broken"), *skip_rules]
    rules += [(f"missing_required:{c}", f"{sql_ident(c)} IS NULL") for c in target.required]
    rules += [(name, sql_ident(f"__p{i}")) for i, (name, _) in enumerate(parse_checks)]
    if target.interval:
        start, end = target.interval
        rules.append(("end_before_start", f"{sql_ident(end)} < {sql_ident(start)}"))
    rules += [(f"negative_quantity:{c}", f"{sql_ident(c)} < 0") for c in target.numeric_checks]
    rules += kind_rules + own_rules
    judge = (
        "CASE "
        + " ".join(f"WHEN coalesce({cond}, false) THEN {sql_str(name)}" for name, cond in rules)
        + " END"
    )
    columns = [
        c
        for c in output_columns(spec.kind)
        if c not in ("source_name", "source_file", "source_row", "partition_key", "raw_chip")
    ]
    select_cols = ", ".join(sql_ident(c) for c in columns)
    raw_chip = "chip AS raw_chip, " if spec.kind == "usage" else ""
    return (
        f"WITH typed AS ({typed}), enriched AS ({enriched}), judged AS (SELECT *, {judge} AS __rule FROM enriched) "
        f"SELECT {select_cols}, {raw_chip}{sql_str(spec.name)} AS source_name, {sql_str(source_file)} AS source_file, "
        f"__row AS source_row, {sql_str(partition_key)} AS partition_key, __rule, "
        f"CASE WHEN __rule IS NOT NULL THEN __raw END AS __raw, "
        f"CASE WHEN __rule IS NULL THEN 'ok' ELSE 'quarantine' END AS __status FROM judged"
    )
