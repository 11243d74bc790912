"""Dagster code versions: an asset whose code version differs from the one its last materialization recorded
is rebuilt by the next refresh (with everything downstream of it)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import dagster as dg

from assets.ingest.spec import SourceSpec
from assets.marts.declarations import sql_marts
from warehouse.settings import CONTRACTS_DIR, REPO_ROOT

# What the tables are computed by: the engines, the asset definitions and storage code, the contracts
# (table declarations), the subsidy policy and the shipped reference data. Source specs version their own ingest asset,
# and a SQL mart's query and declaration (warehouse/sql/<schema>/<name>.sql and .yaml) its own mart.
CODE_ROOTS = (
    REPO_ROOT / "assets",
    REPO_ROOT / "pipelines" / "defs",
    REPO_ROOT / "warehouse",
    CONTRACTS_DIR / "tables",
    CONTRACTS_DIR / "policy",
    CONTRACTS_DIR / "reference",
)


def _files(roots: Iterable[Path]) -> list[Path]:
    marts = {p for m in sql_marts().values() for p in (m.sql_path, m.yaml_path)}
    return sorted(
        p
        for root in roots
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p not in marts
    )


@cache
def project_code_version() -> str:
    """A digest of every file the tables are computed by (path and bytes)."""
    digest = hashlib.sha1()
    for path in _files(CODE_ROOTS):
        digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def spec_code_version(spec: SourceSpec) -> str:
    """Code version of a source's ingest asset: the project's code and the source's spec."""
    text = project_code_version() + spec.model_dump_json()
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def with_code_version(assets: Iterable[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The assets with the project's code version (assets that already carry one keep theirs)."""
    version = project_code_version()
    return list(
        dg.map_asset_specs(
            lambda spec: spec if spec.code_version else spec.replace_attributes(code_version=version), assets
        )
    )
