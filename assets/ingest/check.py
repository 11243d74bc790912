"""Deep checks of a source spec beyond its schema: expressions compile, chip aliases resolve."""

from __future__ import annotations

import csv
import functools
from datetime import datetime
from pathlib import Path

from assets.ingest.compile import DERIVED
from assets.ingest.expressions import ExpressionError, referenced_names
from assets.ingest.spec import SourceSpec, SpecError, load_spec
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
    for column, cmap in spec.columns.items():
        if column not in target.inputs:
            problems.append(
                f"{path}: columns.{column}: not a column of the {spec.kind} table "
                f"(known: {', '.join(target.inputs)})"
            )
        if cmap.expr is not None:
            try:
                referenced_names(cmap.expr)
            except ExpressionError as exc:
                problems.append(f"{path}: columns.{column}.expr: {exc}")
        if cmap.origin is not None and not _is_timestamp(cmap.origin):
            problems.append(
                f"{path}: columns.{column}.origin: {cmap.origin!r} is not an ISO timestamp "
                "(the moment the relative times count from, e.g. 2025-08-01T00:00:00+08:00)"
            )
    for required in target.required:
        if required not in spec.columns:
            problems.append(f"{path}: columns.{required}: required mapping is missing")
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
    for key in spec.dedup_keys:
        if key not in names and key not in ("partition_key", "source_file"):
            problems.append(f"{path}: dedup_keys: {key!r} is not a column of the {spec.kind} table")
    return problems


def _is_timestamp(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def check_spec_file(path: Path) -> list[str]:
    """All problems of a spec file (schema errors first); empty when the spec is usable."""
    return _checked(path)[1]


def _checked(path: Path) -> tuple[SourceSpec | None, list[str]]:
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
        spec, found = _checked(path)
        problems += found
        if spec is not None and not found:
            specs.append(spec)
    if problems:
        raise SpecError("\n".join(problems))
    return tuple(specs)
