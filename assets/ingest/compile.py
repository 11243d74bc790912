"""Compile a source spec into one set-based DuckDB query: type, enrich, and judge every raw record."""

from __future__ import annotations

from assets.ingest.attributes import attributes_sql
from assets.ingest.enrich import (
    DERIVED,
    is_day,
    rule_name,
    sanity_rules,
    transfers_enrich,
    usage_enrich,
    vouchers_enrich,
)
from assets.ingest.expressions import compile_expression, numeric_operands, referenced_names
from assets.ingest.readers import RawRelation
from assets.ingest.refdata import RefSnapshot
from assets.ingest.spec import VALUE_TYPES, ColumnMap, SourceSpec
from assets.ingest.targets import TARGETS, Target
from warehouse.lake import sql_array, sql_ident, sql_str, sql_values

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
        fmt_sql = sql_array(formats)
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


def with_zone_abbreviations(
    text: str, value: str, abbreviations: dict[str, str], suffix: str | None = None
) -> tuple[str, str]:
    """A timestamp value that honours the zone abbreviations a spec maps (and UTC / GMT), NULL for any other
    abbreviation, and the SQL condition of a row whose abbreviation is ambiguous; `suffix` is a column that
    holds the text's abbreviation already (else it is worked out from the text where it is needed)."""
    suffix = suffix or _zone_suffix(text)
    mapped = {k.upper(): v for k, v in abbreviations.items()}
    zone = (
        "CASE "
        + " ".join(f"WHEN {suffix} = {sql_str(k)} THEN {sql_str(v)}" for k, v in mapped.items())
        + " END"
        if mapped
        else "CAST(NULL AS VARCHAR)"
    )
    known = sql_values(_UNAMBIGUOUS_ZONES)
    value = (
        f"CASE WHEN {suffix} IS NULL THEN {value} "
        f"WHEN {zone} IS NOT NULL THEN TRY_CAST(regexp_replace({text}, ' [A-Za-z]{{2,5}}$', ' ' || {zone}) "
        f"AS TIMESTAMPTZ) WHEN {suffix} IN ({known}) THEN TRY_CAST({text} AS TIMESTAMPTZ) END"
    )
    return value, f"{suffix} IS NOT NULL AND {zone} IS NULL AND {suffix} NOT IN ({known})"


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
            return f"CAST(try_strptime({text}, {sql_array(formats)}) AS DATE)"
        return f"TRY_CAST({bare} AS DATE)"
    if sql_type == "BOOLEAN":
        low = f"lower({text})"
        return (
            f"CASE WHEN {low} IN ({sql_values(_TRUE)}) THEN TRUE "
            f"WHEN {low} IN ({sql_values(_FALSE)}) THEN FALSE END"
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


# Names an expression may read besides the file's fields and the spec's values: the day the file's path names
# (its partition), as text YYYY-MM-DD (NULL for a file of an undated source).
FILE_DAY = "file_day"


class _Builder:
    def __init__(self, spec: SourceSpec, raw: RawRelation, day: str | None) -> None:
        self.spec = spec
        self.day = day  # SQL of the file's day (None for a file of an undated source)
        self.target: Target = TARGETS[spec.kind]
        self.raw_alias = {f: f"__f{i}" for i, f in enumerate(raw.fields)}
        self.doubles: list[str] = []  # mapped DOUBLE columns, whose NaN and infinities are quarantined
        # timestamp texts of raw fields -> the column that holds each one's zone abbreviation (see `_zone`)
        self.zones: dict[str, str] = {}

    def raw(self, name: str) -> str:
        if name in self.spec.values:
            return sql_ident(f"__v_{name}")
        if name == FILE_DAY:
            return self.day or "CAST(NULL AS VARCHAR)"
        if name in self.raw_alias:
            return sql_ident(self.raw_alias[name])
        if name in self.spec.optional_columns:
            return "CAST(NULL AS VARCHAR)"
        raise KeyError(name)

    def _zone(self, text: str, field: str | None) -> str | None:
        """The column, computed once per record before the values, that holds the zone abbreviation of a raw
        field's timestamp `text` (None for a text that is not a raw field's). A timestamp's value and its
        ambiguity check read the abbreviation several times: as one column, the staging query of every file
        is smaller to plan (DuckDB plans it per file)."""
        if field not in self.raw_alias:
            return None
        return sql_ident(self.zones.setdefault(text, f"__z{len(self.zones)}"))

    def zone_columns(self) -> str | None:
        """The SELECT items of the zone abbreviation columns, if any."""
        items = [f"{_zone_suffix(text)} AS {sql_ident(name)}" for text, name in self.zones.items()]
        return ", ".join(items) or None

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
            zone = self._zone(source_text, cmap.column)
            value, ambiguous = with_zone_abbreviations(
                source_text, value, self.spec.timezone_abbreviations, zone
            )
            # an ambiguous abbreviation leaves the value NULL: the text is looked at only then
            checks.append(
                (f"ambiguous_timezone:{label}", f"CASE WHEN {sql_ident(col)} IS NULL THEN {ambiguous} END")
            )
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
    return _compile(spec, raw, ref, sql_str(source_file), sql_str(key), sql_str(key) if is_day(key) else None)


def compile_files(spec: SourceSpec, raw: RawRelation, ref: RefSnapshot, files: list[tuple[str, str]]) -> str:
    """The query of `compile_source` over the raw relation of several files whose raw fields are the same:
    `raw` yields each record's file as `__file`, the index into `files` (source file, partition key), whose
    keys are all days or all not. One query is planned once: for small files, planning is most of the cost."""
    sources, keys = sql_array(f for f, _ in files), sql_array(k for _, k in files)
    key = f"{keys}[__file + 1]"
    return _compile(spec, raw, ref, f"{sources}[__file + 1]", key, key if is_day(files[0][1]) else None)


def _compile(
    spec: SourceSpec, raw: RawRelation, ref: RefSnapshot, source_file: str, key: str, day: str | None
) -> str:
    """compile_source with the file's path, partition key and day (None: undated) given as SQL."""
    b = _Builder(spec, raw, day)
    target = b.target
    records = _records(spec, raw)
    value_cols, parse_checks = b.values()
    typed_cols, typed_checks = b.typed_columns()
    parse_checks += typed_checks
    zones = b.zone_columns()
    if zones:
        records = f"SELECT *, {zones} FROM ({records})"
    for value in value_cols:  # each value once per record; a later value may read an earlier one
        records = f"SELECT *, {value} FROM ({records})"
    parse_flags = [f"({cond}) AS {sql_ident('__p' + str(i))}" for i, (_, cond) in enumerate(parse_checks)]
    finite = ", ".join(f"CASE WHEN isfinite({c}) THEN {c} END AS {c}" for c in map(sql_ident, b.doubles))
    typed = (
        f"SELECT * {f'REPLACE ({finite})' if finite else ''}, {', '.join(parse_flags) or 'NULL AS __none'} "
        f"FROM (SELECT *, {', '.join(typed_cols)} FROM ({records}))"
    )
    enriched, kind_rules = {
        "usage": lambda: usage_enrich(spec, ref),
        "transfers": lambda: transfers_enrich(spec, ref),
        "vouchers": lambda: vouchers_enrich(ref),
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
    rules += kind_rules + sanity_rules(spec, ref, day) + own_rules
    judge = "CASE " + " ".join(f"WHEN {cond} THEN {rule_name(name)}" for name, cond in rules) + " END"
    lineage = ("source_name", "source_file", "source_row", "partition_key", "raw_chip", "source_line")
    columns = ", ".join(sql_ident(c) for c in output_columns(spec.kind) if c not in lineage)
    usage = f"chip AS raw_chip, {_line_name(spec)} AS source_line, " if spec.kind == "usage" else ""
    return (
        f"WITH typed AS ({typed}), enriched AS ({enriched}), judged AS (SELECT *, {judge} AS __rule FROM enriched) "
        f"SELECT {columns}, {usage}{sql_str(spec.name)} AS source_name, {source_file} AS source_file, "
        f"CAST(__row AS BIGINT) AS source_row, {key} AS partition_key, __rule, "
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
