"""Source specs: one YAML file per source in data_contracts/sources, validated strictly on load."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from assets.ingest.spec_files import FormatSpec, LandingSpec
from assets.yaml_documents import Strict, load_yaml_model

Kind = Literal["usage", "transfers", "catalog", "vouchers"]


class SpecError(ValueError):
    """A source spec that cannot be used; the message names the file and the key."""


ColumnType = Literal["string", "integer", "decimal", "double", "timestamp", "date", "boolean"]


class ColumnMap(Strict):
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


class RuleSpec(Strict):
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


class PricingSpec(Strict):
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


class LineSpec(Strict):
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


class LimitsSpec(Strict):
    """Values beyond which a row is absurd and goes to quarantine."""

    max_gpu_count: float = Field(100_000, gt=0, description="cards in one charge line")
    max_amount_cny: float = Field(1e9, gt=0, description="absolute amount of one line in CNY")
    max_days_ahead: int = Field(
        2, ge=0, description="how far a charge or transfer may start after its file's day (or today)"
    )


class AttributesSpec(Strict):
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


class SourceSpec(Strict):
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
