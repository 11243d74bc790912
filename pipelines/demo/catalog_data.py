"""The demo dataset catalogue's static data, read from the files beside this module.

opendatalab_datasets.csv lists the real datasets the catalogue starts with (list cells: values separated by
spaces; empty rows or hours: none); catalog_vocabulary.yaml holds the licences and their URLs, and the domains
and kinds synthetic datasets are made of.
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

HERE = Path(__file__).parent


def _real_datasets(path: Path) -> tuple[tuple, ...]:
    """(name, name_zh, publisher, modality, tasks, languages, license, file_bytes, rows, hours) per dataset."""
    with path.open(encoding="utf-8", newline="") as f:
        return tuple(
            (
                row["name"],
                row["name_zh"],
                row["publisher"],
                row["modality"].split(),
                row["tasks"].split(),
                row["languages"].split(),
                row["license"],
                int(row["file_bytes"]),
                int(row["rows"]) if row["rows"] else None,
                float(row["hours"]) if row["hours"] else None,
            )
            for row in csv.DictReader(f)
        )


_VOCABULARY = yaml.safe_load((HERE / "catalog_vocabulary.yaml").read_text(encoding="utf-8"))

REAL_DATASETS = _real_datasets(HERE / "opendatalab_datasets.csv")
LICENSES: tuple[str, ...] = tuple(_VOCABULARY["licenses"])
# Licence URLs as Croissant (schema.org) descriptions give them.
LICENSE_URLS: dict[str, str] = {lic: url for lic, url in _VOCABULARY["licenses"].items() if url}
# name, name_zh
DOMAINS: tuple[tuple[str, str], ...] = tuple((en, zh) for en, zh in _VOCABULARY["domains"])
# kind, kind_zh, modality, tasks, median file_bytes
KINDS: tuple[tuple[str, str, list[str], list[str], float], ...] = tuple(
    (k["kind"], k["kind_zh"], k["modality"], k["tasks"], k["median_file_gb"] * 1e9)
    for k in _VOCABULARY["kinds"]
)
