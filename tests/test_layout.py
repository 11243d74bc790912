"""The README's layout section holds: for every table of the warehouse, the files it names as defining, checking
and documenting the table exist, and each domain folder of the code location defines what the README says."""

import re
from pathlib import Path

import pytest

from assets.marts.declarations import sql_marts
from assets.tables import TABLES
from warehouse.settings import CONTRACTS_DIR, REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
DOMAINS = REPO_ROOT / "pipelines" / "defs"


def table_files(table: str) -> tuple[Path, Path, Path]:
    """(defined by, checked by, documented in) of a published table, by the README's rules."""
    schema, name = table.split(".")
    declaration = CONTRACTS_DIR / "tables" / f"{table}.yaml"
    if table in sql_marts():
        mart = sql_marts()[table]
        return mart.sql_path, mart.yaml_path, mart.yaml_path
    defined = {
        "ref": REPO_ROOT / "assets" / "reference" / "tables.py",
        "core": DOMAINS / "core" / "definitions.py",
        "audit": DOMAINS / "ingest" / "assets.py",
        "meta": DOMAINS / ("subsidy" if name == "subsidy_checkpoints" else "publish"),
        "marts": DOMAINS
        / ("capacity" if "capacity" in name or "forecast" in name else "subsidy")
        / "definitions.py",
    }[schema]
    return defined, declaration, declaration


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_table_has_the_files_the_readme_names(table: str) -> None:
    for path in table_files(table):
        assert path.exists(), f"{table}: {path}"


def test_every_domain_folder_is_in_the_readme_and_loads_its_own_definitions() -> None:
    folders = sorted(p.name for p in DOMAINS.iterdir() if p.is_dir() and p.name != "__pycache__")
    listed = re.findall(r"^\| `(\w+)/` \| ", README, flags=re.MULTILINE)
    assert folders == sorted(set(listed) - {"warehouse", "assets", "pipelines", "data_contracts", "tests"})
    for folder in folders:
        files = {p.name for p in (DOMAINS / folder).iterdir()}
        assert "definitions.py" in files or "defs.yaml" in files, folder
    assert {m.domain for m in sql_marts().values()} <= set(folders)
