"""Source specs: one YAML file per source in data_contracts/sources, validated strictly on load."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assets.yaml_documents import load_yaml_model

Kind = Literal["usage", "transfers", "catalog", "vouchers"]
FormatType = Literal["csv", "jsonl", "json", "parquet", "kv", "regex"]
Encoding = Literal["utf-8", "utf-8-sig", "gbk", "gb18030", "latin-1"]
Compression = Literal["auto", "none", "gzip"]


class SpecError(ValueError):
    """A source spec that cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PartitionSpec(_Strict):
    """How the day partition of a landed file is read from its path."""

    regex: str = Field(description="regular expression with one group capturing the date in the path")
    format: str = Field("%Y-%m-%d", description="strptime format of the captured date")

    @field_validator("regex")
    @classmethod
    def _one_group(cls, value: str) -> str:
        if re.compile(value).groups != 1:
            raise ValueError("partition regex must have exactly one capturing group")
        return value

    def day_of(self, path: str) -> str | None:
        """ISO day of a landed file, or None when the path does not carry one."""
        from datetime import datetime

        match = re.search(self.regex, path)
        if not match:
            return None
        return datetime.strptime(match.group(1), self.format).date().isoformat()


class LandingSpec(_Strict):
    """Where the source's files land, relative to the landing URL."""

    glob: str = Field(
        description="glob of the source's files, relative to the landing URL (e.g. providers/acme/bill_*.csv)"
    )
    partition: PartitionSpec | None = Field(
        None,
        description="how a file's day is read from its path; a file whose path names no day is not read. "
        "Without it the source is undated: its files form one partition, `all`",
    )
    delivery_key: str | None = Field(
        None,
        description="regex with one group naming the statement a file delivers, and optionally a group named "
        "`version` (a number; none counts as 0); of several files with the same statement, the highest version "
        "wins, then the one that arrived last (first seen by the ledger later); file names never decide",
    )

    @field_validator("delivery_key")
    @classmethod
    def _delivery_group(cls, value: str | None) -> str | None:
        if value is not None:
            pattern = re.compile(value)
            if pattern.groups - ("version" in pattern.groupindex) != 1:
                raise ValueError("delivery_key must have one capturing group, and may add one named version")
        return value

    def superseded(self, arrivals: dict[str, int]) -> dict[str, str]:
        """Files replaced by a newer delivery of the same statement, mapped to the file that replaces them.

        `arrivals` gives each landed file its arrival order; the newest delivery has the highest version, then
        the latest arrival."""
        if not self.delivery_key:
            return {}
        pattern = re.compile(self.delivery_key)
        groups: dict[str, list[tuple[int, int, str]]] = {}
        for path, arrival in arrivals.items():
            match = pattern.search(path)
            if match:
                key = next(
                    g for i, g in enumerate(match.groups(), 1) if i != pattern.groupindex.get("version")
                )
                version = match.groupdict().get("version")
                groups.setdefault(key, []).append((int(version) if version else 0, arrival, path))
        replaced = {}
        for deliveries in groups.values():
            newest = max(deliveries)[2]
            replaced |= {path: newest for *_, path in deliveries if path != newest}
        return replaced

    @field_validator("glob")
    @classmethod
    def _inside_root(cls, value: str) -> str:
        if value.startswith("/") or ".." in Path(value).parts or "://" in value:
            raise ValueError("landing glob must be relative to the landing URL, without '..'")
        return value


class RecordPattern(_Strict):
    """One kind of line of a log read with a regular expression: its named groups are the raw fields."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="the line's record_type")
    regex: str = Field(
        description="regular expression, matched from the start of the line; (?P<field>...) groups"
    )

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise ValueError(f"regex does not compile: {exc}") from None
        if pattern.groups != len(pattern.groupindex):
            raise ValueError("every group must be named, as in (?P<host>\\S+); use (?:...) for the others")
        if "record_type" in pattern.groupindex:
            raise ValueError("record_type is the pattern's name, not a group")
        return value


class FormatSpec(_Strict):
    """How the bytes of a landed file are read."""

    type: FormatType = Field(
        description="csv; jsonl (one JSON object per line); json (one document: see records_path); parquet; "
        "kv (key=value lines); regex (lines of several kinds: see patterns)"
    )
    encoding: Encoding = Field(
        "utf-8", description="text encoding of the file; anything but UTF-8 is converted before reading"
    )
    compression: Compression = Field(
        "auto", description="auto: gzip when the file name ends in .gz, else none"
    )
    delimiter: str = Field(",", description="csv: the one-character field separator")
    header: bool = Field(
        True,
        description="csv: the first line (after skip_rows) names the fields; without a header the fields "
        "are column0, column1, ...",
    )
    quote: str = Field('"', description="csv: the quote character")
    skip_rows: int = Field(0, description="csv: lines skipped before the header (a title above the table)")
    trim: bool = Field(
        False,
        description="strip surrounding whitespace from text values (numbers and times parse without it)",
    )
    records_path: str | None = Field(None, description="json: dotted path to the list (or object) of records")
    records_are_values: bool = Field(
        False, description="json: records are the values of an object keyed by id"
    )
    record_key_field: str | None = Field(None, description="json: field that receives the key of each record")
    patterns: list[RecordPattern] = Field(
        default_factory=list,
        description="regex: the kinds of line, tried in order; a line takes the first that matches, and a line "
        "that matches none is quarantined as no_pattern_matched",
    )
    carry: list[str] = Field(
        default_factory=list,
        description="regex: groups whose value carries down to the following lines until a line sets it again "
        "(a report's date or section, written once above the lines it applies to)",
    )

    @model_validator(mode="after")
    def _fits_type(self) -> FormatSpec:
        if self.type != "json" and (self.records_path or self.records_are_values or self.record_key_field):
            raise ValueError("records_path / records_are_values / record_key_field apply to type json only")
        if (self.type == "regex") != bool(self.patterns):
            raise ValueError("type regex needs patterns, and patterns need type regex")
        names = [p.name for p in self.patterns]
        if len(set(names)) != len(names):
            raise ValueError(f"patterns: names must be unique (got {names})")
        groups = {g for p in self.patterns for g in re.compile(p.regex).groupindex}
        if set(self.carry) - groups:
            raise ValueError(f"carry: {sorted(set(self.carry) - groups)} are not groups of any pattern")
        if len(self.delimiter) != 1:
            raise ValueError("delimiter must be one character")
        return self


ColumnType = Literal["string", "integer", "decimal", "double", "timestamp", "date", "boolean"]


class ColumnMap(_Strict):
    """How one canonical column is computed from a raw record."""

    column: str | None = Field(
        None,
        description="the raw field read: a header name (csv), a key or a JSON path starting with $ (jsonl, "
        "json), a key (kv), a group (regex), a column (parquet); or a named value, or file_day",
    )
    expr: str | None = Field(
        None, description="an expression over raw fields and named values (see Expressions)"
    )
    const: str | int | float | bool | None = Field(None, description="a constant, the same on every row")
    format: str | list[str] | None = Field(
        None,
        description="strptime format(s) of timestamps and dates, tried in order; with %z the written offset "
        "counts, else the time is read in the zone",
    )
    timezone: str | None = Field(
        None, description="IANA zone of this column's times written without an offset (default: the spec's)"
    )
    epoch: Literal["s", "ms", "us"] | None = Field(
        None,
        description="the value is a number of seconds, milliseconds or microseconds since 1970-01-01 UTC, "
        "or since origin",
    )
    origin: str | None = Field(None, description="ISO timestamp that relative epoch values count from")
    map: dict[str, str | None] | None = Field(
        None,
        description="raw text -> canonical value, matched exactly after trimming; '*' maps every other value; "
        "a value that maps to nothing (unlisted without '*', or mapped to null) quarantines its row as "
        "unmapped_value:<column>",
    )
    default: str | int | float | bool | None = Field(
        None, description="the value where the raw value (or the expression's result) is empty or absent"
    )
    thousands: str | None = Field(
        None, description="thousands separator removed before a number parses (e.g. ',' of 1,656.00)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> ColumnMap:
        given = [k for k in ("column", "expr", "const") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of column, expr, const (got {given or 'none'})")
        if self.timezone:
            _check_zone(self.timezone)
        return self


VALUE_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "decimal": "DECIMAL(18,4)",
    "double": "DOUBLE",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
    "boolean": "BOOLEAN",
}


class ValueSpec(ColumnMap):
    """A named intermediate value: computed once per record (typed, in the spec's time zone), then read by
    name in mappings, rules and later values."""

    type: Literal["string", "integer", "decimal", "double", "timestamp", "date", "boolean"] = Field(
        "string",
        description="the value's type (decimal: DECIMAL(18,4); timestamp: read in the spec's timezone)",
    )


class RuleSpec(_Strict):
    """A row-level rule: rows where `when` holds are quarantined (or skipped) under this name."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        description="the rule's name in audit.quarantine (skip:<name> for action skip)",
    )
    when: str = Field(
        description="an expression that holds for the rows the rule takes; it reads the canonical and derived "
        "columns by name, and raw fields and named values"
    )
    action: Literal["quarantine", "skip"] = Field(
        "quarantine",
        description="quarantine: the row is held back and counts against max_quarantine_ratio; skip: it is "
        "set aside as skip:<name> and does not count",
    )
    reason: str | None = Field(None, description="why the rule exists, in words, for readers of the spec")


class PricingSpec(_Strict):
    """Prices rows that carry no cost from ref.rate_cards."""

    rate_card_provider: str = Field(description="provider_id of the ref.rate_cards rows that price the rows")
    service: str = Field(
        "gpu_compute", description="rate-card service whose prices apply (a line may name its own)"
    )
    fallback_chip: str | None = Field(None, description="chip_model priced when a row names none")
    per: Literal["gpu_hour", "model"] = Field(
        "gpu_hour",
        description="gpu_hour: the rate card's price for the line's chip times its GPU-hours; model: the price "
        "for the line's model_id times its pricing_quantity (e.g. tokens in units of 1000000 Tokens)",
    )


class LineSpec(_Strict):
    """One charge line a record yields (e.g. its input tokens and its output tokens), with the columns it maps
    differently from the spec's shared `columns`."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="the line's name, in source_line of its rows")
    columns: dict[str, ColumnMap] = Field(
        default_factory=dict,
        description="canonical columns this line maps its own way (the others come from the spec's columns)",
    )
    service: str | None = Field(
        None, description="rate-card service that prices this line (default pricing.service)"
    )

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _column_shorthand(value)


class LimitsSpec(_Strict):
    """Values beyond which a row is absurd and goes to quarantine."""

    max_gpu_count: float = Field(100_000, gt=0, description="cards in one charge line")
    max_amount_cny: float = Field(1e9, gt=0, description="absolute amount of one line in CNY")
    max_days_ahead: int = Field(
        2, ge=0, description="how far a charge or transfer may start after its file's day (or today)"
    )


class AttributesSpec(_Strict):
    """The raw fields of a catalog record kept beside its canonical columns, as one JSON object in the column
    `attributes` (of the source's table and of core.dataset_catalog)."""

    keep: Literal["unmapped"] | list[str] = Field(
        "unmapped",
        description="unmapped: every field no column or value reads by name (json, jsonl: the record's top-level "
        "keys; csv, parquet: its columns), except ignore_columns; a field read only through a JSON path "
        "($.a.b) is kept whole. Or the list of raw fields to keep. Values keep their JSON type in json and "
        "jsonl records and are text in the other formats; a field the record lacks is left out",
    )
    version_on: list[str] = Field(
        default_factory=list,
        description="kept attributes whose change opens a new version in core.dataset_catalog, as a change of a "
        "canonical column does; a change of any other kept attribute opens none: the version's attributes are "
        "those of the last snapshot it was current in",
    )

    @field_validator("keep")
    @classmethod
    def _fields(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list):
            if not value or len(set(value)) != len(value):
                raise ValueError("list each field once, and at least one")
            if any(not name or name.startswith("$") for name in value):
                raise ValueError("names of fields, not JSON paths")
        return value

    @model_validator(mode="after")
    def _kept(self) -> AttributesSpec:
        if len(set(self.version_on)) != len(self.version_on):
            raise ValueError("version_on: list each attribute once")
        if isinstance(self.keep, list) and (extra := [a for a in self.version_on if a not in self.keep]):
            raise ValueError(f"version_on: {', '.join(extra)} not in keep")
        return self


class SourceSpec(_Strict):
    """A declarative source: landing files, their format and the mapping to a canonical table."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        description="the source's name, the spec's file name without .yaml; its asset is ingest/<name>, its "
        "table ingest.<name>",
    )
    kind: Kind = Field(
        description="the canonical table fed: usage (core.compute_usage), transfers (core.data_transfers), "
        "catalog (core.dataset_catalog), vouchers (core.vouchers)"
    )
    description: str = Field(
        "", description="what the files are and what a row means (the asset's description)"
    )
    provider_id: str | None = Field(
        None,
        description="the provider in ref.providers: required for usage (its name fills provider_name, "
        "invoice_issuer_name and publisher_name when unmapped); for transfers, the network provider",
    )
    provenance: str | None = Field(None, description="where the files come from, and under which licence")
    sample: bool = Field(
        False,
        description="a public reference or specification sample, not the city's business: loaded and queryable "
        "as any source, flagged in meta.sources, and left out of the dashboards and headline figures unless "
        "asked (needs provenance)",
    )
    landing: LandingSpec = Field(description="where the files land")
    format: FormatSpec = Field(description="how the files are read")
    timezone: str = Field("UTC", description="IANA zone of times written without an offset")
    timezone_abbreviations: dict[str, str] = Field(
        default_factory=dict,
        description="zone abbreviations the provider writes after its times, each with the IANA zone it means "
        "(e.g. CST: Asia/Shanghai); any other abbreviation is ambiguous and quarantines its row",
    )
    currency: str = Field(
        "CNY",
        description="currency of amounts where no column maps billing_currency (usage) or currency "
        "(transfers, vouchers)",
    )
    values: dict[str, ValueSpec] = Field(
        default_factory=dict,
        description="named intermediate values, each computed once and read by name (later values may read "
        "earlier ones); a value that is there but does not parse quarantines its row as unparsable:<name>",
    )
    columns: dict[str, ColumnMap] = Field(
        description="canonical column -> its mapping; `tenant_id: Customer` is short for `tenant_id: {column: "
        "Customer}`; an unmapped column is NULL or the kind's default"
    )
    chip_aliases: dict[str, str] = Field(
        default_factory=dict,
        description="chip names this provider writes -> chip_model of ref.chips, for names ref.chip_aliases "
        "lacks (matched ignoring case, spaces, _ and -)",
    )
    rules: list[RuleSpec] = Field(
        default_factory=list, description="row rules of this source: rows to skip or to hold back"
    )
    dedup_keys: list[str] = Field(
        default_factory=list,
        description="canonical columns that identify a row (with source_line when records yield lines): a "
        "repeat later in the same file is quarantined as duplicate_key; across files the latest delivery wins",
    )
    optional_columns: list[str] = Field(
        default_factory=list, description="raw columns that some files lack; read as empty when absent"
    )
    ignore_columns: list[str] = Field(
        default_factory=list, description="columns the file has and the spec does not use"
    )
    pricing: PricingSpec | None = Field(
        None,
        description="usage: price the lines that carry no amount from ref.rate_cards; a line left without an "
        "amount is quarantined as missing_cost (unless unpriced)",
    )
    lines: list[LineSpec] = Field(
        default_factory=list,
        description="usage: the charge lines each record yields (none: one line per record)",
    )
    unpriced: bool = Field(
        False,
        description="usage: a workload trace without prices; its lines load without cost, count in GPU-hour "
        "marts and stay out of cost marts, subsidies and the FOCUS export",
    )
    unknown_chip: Literal["quarantine", "load"] = Field(
        "quarantine",
        description="usage: a line with no chip, or one ref.chips does not know, is quarantined, or loaded as "
        "chip_model `unknown` (GPU-hours count; PFLOP-hours NULL)",
    )
    max_quarantine_ratio: float = Field(
        0.05,
        ge=0,
        le=1,
        description="share of a file's rows that may be quarantined (skipped rows do not count): above it the "
        "whole file is rejected, its good rows held and none loaded",
    )
    limits: LimitsSpec = Field(
        default_factory=LimitsSpec, description="values beyond which a row is absurd and quarantined"
    )
    check_tenants: bool = Field(True, description="quarantine rows whose tenant_id is not in ref.tenants")
    attributes: AttributesSpec | None = Field(
        None,
        description="catalog: keep the record's fields that no canonical column maps, in the JSON column "
        "`attributes` (none: the column is NULL)",
    )

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _column_shorthand(value)

    @field_validator("values", mode="before")
    @classmethod
    def _value_shorthand(cls, value: Any) -> Any:
        return _column_shorthand(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _check_zone(value)

    @field_validator("timezone_abbreviations")
    @classmethod
    def _abbreviations(cls, value: dict[str, str]) -> dict[str, str]:
        for abbreviation, zone in value.items():
            if not re.fullmatch(r"[A-Za-z]{2,5}", abbreviation):
                raise ValueError(f"{abbreviation!r} is not a zone abbreviation (2 to 5 letters)")
            _check_zone(zone)
        return value

    @property
    def line_keys(self) -> list[str]:
        """Columns that identify one charge line: the dedup keys, and the line's name when records yield
        several lines."""
        return [*self.dedup_keys, "source_line"] if self.dedup_keys and self.lines else list(self.dedup_keys)

    @model_validator(mode="after")
    def _kind_fields(self) -> SourceSpec:
        if self.kind == "usage" and not self.provider_id:
            raise ValueError("usage sources need provider_id")
        if self.kind != "usage" and (self.lines or self.unpriced or self.unknown_chip != "quarantine"):
            raise ValueError("lines, unpriced and unknown_chip apply to usage sources only")
        names = [line.name for line in self.lines]
        if len(set(names)) != len(names):
            raise ValueError(f"lines: names must be unique (got {names})")
        if self.sample and not self.provenance:
            raise ValueError("a sample names its provenance")
        if self.unpriced and self.pricing:
            raise ValueError("an unpriced source has no pricing")
        if self.attributes is not None and self.kind != "catalog":
            raise ValueError("attributes apply to catalog sources only")
        if self.attributes and self.attributes.keep == "unmapped" and self.format.type in ("kv", "regex"):
            raise ValueError(
                f"attributes: a {self.format.type} record has no list of fields: list those to keep"
            )
        return self


def _column_shorthand(value: Any) -> Any:
    """`canonical: raw_name` is short for `canonical: {column: raw_name}`."""
    if isinstance(value, dict):
        return {k: ({"column": v} if isinstance(v, str) else v) for k, v in value.items()}
    return value


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def load_spec(path: Path) -> SourceSpec:
    """Parse and validate one spec file; raise SpecError naming the file and each bad key."""
    spec = load_yaml_model(path, SourceSpec, SpecError, "spec")
    if spec.name != path.stem:
        raise SpecError(f"{path}: name: {spec.name!r} must match the file name {path.stem!r}")
    return spec


def load_specs(directory: Path) -> list[SourceSpec]:
    """Load every *.yaml spec in a directory; all errors of all files are reported together."""
    specs, errors = [], []
    for path in sorted(directory.glob("*.yaml")):
        try:
            specs.append(load_spec(path))
        except SpecError as exc:
            errors.append(str(exc))
    if errors:
        raise SpecError("\n".join(errors))
    return specs
