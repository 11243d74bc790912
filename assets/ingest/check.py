"""Deep checks of a source spec beyond its schema: expressions compile, chip aliases resolve."""

from __future__ import annotations

import csv
import functools
import re
from datetime import datetime
from pathlib import Path

from assets.ingest.compile import mapped_fields, raw_fields_of
from assets.ingest.enrich import DERIVED
from assets.ingest.expressions import ExpressionError, referenced_names
from assets.ingest.spec import ColumnMap, SourceSpec, SpecError, load_spec
from assets.ingest.targets import TARGETS
from warehouse.settings import CONTRACTS_DIR


def known_chip_models() -> set[str]:
    """chip_model values of the shipped chip table."""
    with open(CONTRACTS_DIR / "reference" / "chip_specs.csv", encoding="utf-8") as handle:
        return {row["chip_model"] for row in csv.DictReader(handle)}


def spec_problems(spec: SourceSpec, path: Path) -> list[str]:
    """Every problem of a parsed spec, one line each naming the file and key."""
    target = TARGETS[spec.kind]
    problems = []
    mapped = {f"columns.{c}": m for c, m in spec.columns.items()}
    for no, line in enumerate(spec.lines):
        mapped |= {f"lines[{no}].columns.{c}": m for c, m in line.columns.items()}
    for key, cmap in mapped.items():
        column = key.rsplit(".", 1)[1]
        if column not in target.inputs:
            problems.append(
                f"{path}: {key}: not a column of the {spec.kind} table (known: {', '.join(target.inputs)})"
            )
        problems += _expression_problems(path, key, cmap.expr)
        problems += _origin_problems(path, key, cmap.origin)
    problems += _value_problems(spec, path)
    for required in target.required:
        every_line = bool(spec.lines) and all(required in line.columns for line in spec.lines)
        if required not in spec.columns and not every_line:
            problems.append(f"{path}: columns.{required}: required mapping is missing")
    if spec.kind == "catalog" and not spec.landing.partition and "snapshot_at" not in spec.columns:
        problems.append(
            f"{path}: columns.snapshot_at: a catalog whose file names carry no day (landing.partition) must map "
            "snapshot_at, the moment its snapshot was taken: its history is kept by snapshot"
        )
    if spec.pricing and spec.pricing.per == "model" and not any(k.endswith(".model_id") for k in mapped):
        problems.append(f"{path}: pricing.per: model needs a model_id mapping (columns or lines)")
    if spec.format.type == "regex":
        fields = {g for p in spec.format.patterns for g in re.compile(p.regex).groupindex} | {"record_type"}
        for name in sorted(raw_fields_of(spec) - fields - set(spec.optional_columns)):
            problems.append(
                f"{path}: {name!r} is read but no pattern of format.patterns has a group of that name "
                f"(groups: {', '.join(sorted(fields))})"
            )
    chips = known_chip_models()
    for alias, model in spec.chip_aliases.items():
        if model not in chips:
            problems.append(
                f"{path}: chip_aliases.{alias}: unknown chip_model {model!r} "
                f"(known: {', '.join(sorted(chips))})"
            )
    if spec.pricing and spec.pricing.fallback_chip and spec.pricing.fallback_chip not in chips:
        problems.append(f"{path}: pricing.fallback_chip: unknown chip_model {spec.pricing.fallback_chip!r}")
    names = set(target.inputs) | set(DERIVED[spec.kind])
    for i, rule in enumerate(spec.rules):
        try:
            referenced_names(rule.when)
        except ExpressionError as exc:
            problems.append(f"{path}: rules[{i}].when: {exc}")
    if spec.attributes and spec.attributes.keep == "unmapped":
        for name in sorted(set(spec.attributes.version_on) & mapped_fields(spec)):
            problems.append(
                f"{path}: attributes.version_on: {name!r} is read by a mapping, so it is not a kept attribute"
            )
    for key in spec.dedup_keys:
        if key not in names and key not in ("partition_key", "source_file"):
            problems.append(f"{path}: dedup_keys: {key!r} is not a column of the {spec.kind} table")
    return problems


def _expression_problems(path: Path, key: str, expression: str | None) -> list[str]:
    if expression is None:
        return []
    try:
        referenced_names(expression)
    except ExpressionError as exc:
        return [f"{path}: {key}.expr: {exc}"]
    return []


def _value_problems(spec: SourceSpec, path: Path) -> list[str]:
    """Values that read a value defined after them (values are computed in order) or that nothing reads."""
    problems: list[str] = []
    order = list(spec.values)
    read: set[str] = set()
    maps = [*spec.columns.values(), *(m for line in spec.lines for m in line.columns.values())]
    for cmap in maps:
        read |= _reads(cmap)
    for rule in spec.rules:
        read |= _names(rule.when)
    for no, (name, value) in enumerate(spec.values.items()):
        problems += _expression_problems(path, f"values.{name}", value.expr)
        problems += _origin_problems(path, f"values.{name}", value.origin)
        uses = _reads(value)
        read |= uses
        later = sorted(n for n in uses if n in order[no:])
        if later:
            problems.append(f"{path}: values.{name}: reads {', '.join(later)}, defined at or after it")
    for name in order:
        if name not in read:
            problems.append(f"{path}: values.{name}: unused (no mapping, rule or later value reads it)")
    return problems


def _reads(cmap: ColumnMap) -> set[str]:
    """Names a mapping reads (its column, or its expression's names; none when the expression is broken)."""
    return _names(cmap.expr) | ({cmap.column} if cmap.column else set())


def _names(expression: str | None) -> set[str]:
    if expression is None:
        return set()
    try:
        return referenced_names(expression)
    except ExpressionError:
        return set()


def _origin_problems(path: Path, key: str, origin: str | None) -> list[str]:
    """A relative-time origin that is not an ISO timestamp (it would fail the ingest in SQL)."""
    if origin is None:
        return []
    try:
        datetime.fromisoformat(origin)
    except ValueError:
        return [
            f"{path}: {key}.origin: {origin!r} is not an ISO timestamp "
            "(the moment the relative times count from, e.g. 2025-08-01T00:00:00+08:00)"
        ]
    return []


def check_spec_file(path: Path) -> list[str]:
    """All problems of a spec file (schema errors first); empty when the spec is usable."""
    return checked_spec(path)[1]


def checked_spec(path: Path) -> tuple[SourceSpec | None, list[str]]:
    """A spec file's spec (None when it does not parse) and all its problems."""
    try:
        spec = load_spec(path)
    except SpecError as exc:
        return None, str(exc).splitlines()
    return spec, spec_problems(spec, path)


def load_checked_specs(directory: Path) -> list[SourceSpec]:
    """Load every spec of a directory and run the deep checks; any problem in any file raises SpecError.

    A process loads a directory once while none of its files changes (same names, sizes and modification times).
    """
    stamps = tuple(
        (path, path.stat().st_mtime_ns, path.stat().st_size) for path in sorted(directory.glob("*.yaml"))
    )
    return list(_load_checked(stamps))


@functools.lru_cache(maxsize=4)
def _load_checked(stamps: tuple[tuple[Path, int, int], ...]) -> tuple[SourceSpec, ...]:
    problems: list[str] = []
    specs: list[SourceSpec] = []
    for path, _, _ in stamps:
        spec, found = checked_spec(path)
        problems += found
        if spec is not None and not found:
            specs.append(spec)
    if problems:
        raise SpecError("\n".join(problems))
    return tuple(specs)
