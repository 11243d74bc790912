"""Source specs fail loudly and precisely: each mistake names the file and the key."""

from pathlib import Path

import pytest

from assets.ingest.check import check_spec_file, load_checked_specs
from assets.ingest.spec import SpecError, load_spec

GOOD = """\
name: acme
kind: usage
provider_id: acme
landing:
  glob: providers/acme/*.csv
  partition: {regex: '(\\d{4}-\\d{2}-\\d{2})'}
format: {type: csv}
columns:
  tenant_id: tenant
  charge_period_start: start
  charge_period_end: end
  chip: gpu
  gpu_hours: {expr: seconds / 3600}
"""


def write(tmp_path: Path, text: str, name: str = "acme") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_shipped_spec_is_valid() -> None:
    specs = load_checked_specs(Path(__file__).resolve().parents[1] / "data_contracts" / "sources")
    kinds = {s.kind for s in specs}
    assert kinds == {"usage", "catalog", "transfers", "vouchers"}
    assert sum(s.kind == "usage" for s in specs) >= 4


def test_good_spec_loads(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.columns["tenant_id"].column == "tenant"
    assert (
        spec.landing.partition
        and spec.landing.partition.day_of("providers/acme/x_2025-08-01.csv") == "2025-08-01"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("format: {type: csv}", "format: {type: csv, delimter: ';'}"), "format.delimter: unknown key"),
        (("kind: usage", "kind: usag"), "kind:"),
        (("columns:", "colums:\n  x: y\ncolumns:"), "colums: unknown key"),
        (("  chip: gpu", "  chip: {column: gpu, timezone: Mars/Olympus}"), "columns.chip"),
        (("provider_id: acme\n", ""), "usage sources need provider_id"),
        (("glob: providers/acme/*.csv", "glob: ../../etc/*"), "landing.glob"),
        (("format: {type: csv}", "format: {type: xml}"), "format.type"),
    ],
)
def test_schema_mistakes_name_file_and_key(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    problems = check_spec_file(path)
    assert problems, "the mistake was not reported"
    assert any(str(path) in p and expected in p for p in problems), problems


def test_deep_checks(tmp_path: Path) -> None:
    text = GOOD + "chip_aliases: {'910C': Ascend910C}\n"
    text = text.replace("  chip: gpu", "  chip: gpu\n  tenannt: x\n  gpu_count: {expr: 'a +'}")
    problems = check_spec_file(write(tmp_path, text))
    assert any("columns.tenannt: not a column of the usage table" in p for p in problems)
    assert any("chip_aliases.910C: unknown chip_model 'Ascend910C'" in p for p in problems)
    assert any("columns.gpu_count.expr" in p for p in problems)


def test_missing_required_mapping(tmp_path: Path) -> None:
    problems = check_spec_file(write(tmp_path, GOOD.replace("  tenant_id: tenant\n", "")))
    assert any("columns.tenant_id: required mapping is missing" in p for p in problems)


def test_name_must_match_file(tmp_path: Path) -> None:
    problems = check_spec_file(write(tmp_path, GOOD, name="other"))
    assert any("must match the file name" in p for p in problems)


def test_a_bad_spec_fails_the_whole_directory_load(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    write(
        tmp_path,
        GOOD.replace("name: acme", "name: broken").replace("kind: usage", "kind: nope"),
        name="broken",
    )
    with pytest.raises(SpecError, match=r"broken\.yaml"):
        load_checked_specs(tmp_path)


@pytest.mark.parametrize("nested", ["[" * 5_000 + "]" * 5_000, "{a: " * 200 + "1" + "}" * 200])
def test_deeply_nested_specs_are_refused_clearly(tmp_path: Path, nested: str) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(f"name: acme\nkind: usage\nextra: {nested}\n", encoding="utf-8")
    (problem, *_) = check_spec_file(path)
    assert problem.startswith(f"{path}: ") and ("nest" in problem or "depth" in problem)
