"""The files of a source spec: where they land (the glob, the day in the path, re-deliveries) and how their bytes
are read (format, encoding, compression, CSV dialect, JSON records, line patterns)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from assets.yaml_documents import Strict

FormatType = Literal["csv", "jsonl", "json", "parquet", "kv", "regex"]
Encoding = Literal["utf-8", "utf-8-sig", "gbk", "gb18030", "latin-1"]
Compression = Literal["auto", "none", "gzip"]


class PartitionSpec(Strict):
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


class LandingSpec(Strict):
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


class RecordPattern(Strict):
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


class FormatSpec(Strict):
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
