"""OpenDataLab-style dataset catalogue: a snapshot on the start date and then every 30 days.

The datasets it starts with and what synthetic ones are made of are in catalog_data; their Croissant
descriptions are written by croissant.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import dataclass, field

import numpy as np

from .catalog_data import DOMAINS, KINDS, LICENSES, REAL_DATASETS
from .seeds import rng_for
from .tenants import tenants_frame

SNAPSHOT_EVERY_DAYS = 30
N_DATASETS = 200
FACTS_DATASET_ID = "DS-0008"  # the 10 TB Common Crawl subset moved by T001 on day 10


@dataclass
class Snapshot:
    """One catalogue export."""

    day: int
    date: dt.date
    datasets: list[dict] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        """Dataset ids in export order."""
        return [d["id"] for d in self.datasets]

    def to_json_bytes(self) -> bytes:
        """The export file as UTF-8 JSON."""
        exported = dt.datetime.combine(self.date, dt.time(2, 0)) - dt.timedelta(hours=8)
        doc = {
            "exported_at": exported.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": "OpenDataLab",
            "datasets": self.datasets,
        }
        return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _iso(day: dt.date, seconds: int) -> str:
    moment = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=int(seconds))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _synthetic(
    rng: np.random.Generator,
    number: int,
    used: set[tuple[int, int, str]],
    publishers: list[str],
    updated: dt.date,
) -> dict:
    """One plausible domain dataset published by a tenant or the community."""
    while True:
        key = (
            int(rng.integers(len(DOMAINS))),
            int(rng.integers(len(KINDS))),
            str(rng.choice(["zh", "zh-en"])),
        )
        if key not in used:
            used.add(key)
            break
    (dom, dom_zh), (kind, kind_zh, modality, tasks, median), lang = DOMAINS[key[0]], KINDS[key[1]], key[2]
    file_bytes = int(median * rng.lognormal(0.0, 0.9))
    is_av = modality[0] in ("speech", "video")
    hours = round(file_bytes / (1.2e8 if modality[0] == "speech" else 1.5e9), 1) if is_av else None
    rows = None if is_av else int(file_bytes / (2_000 if modality == ["text"] else 150_000))
    return {
        "id": f"DS-{number:04d}",
        "name": f"{dom}-{kind}-{lang}",
        "name_zh": f"{dom_zh}{kind_zh}（{lang}）",
        "publisher": str(rng.choice(publishers)),
        "modality": modality,
        "tasks": tasks,
        "languages": ["zh"] if lang == "zh" else ["zh", "en"],
        "license": str(rng.choice(LICENSES)),
        "version": "1.0",
        "file_bytes": file_bytes,
        "rows": rows,
        "hours": hours,
        "downloads": int(rng.lognormal(6.0, 1.5)),
        "updated_at": _iso(updated, int(rng.integers(0, 86400))),
    }


def build_catalog(seed: int, start: dt.date, days: int) -> list[Snapshot]:
    """Snapshots on day 0, 30, ... before `days`; each evolves from the previous one."""
    rng = rng_for(seed, "opendatalab", 0)
    publishers = ["OpenDataLab Community", *tenants_frame()["tenant_name_en"].to_list()[:40]]
    used: set[tuple[int, int, str]] = set()
    datasets = []
    for i, (name, zh, pub, modality, tasks, langs, lic, size, rows, hours) in enumerate(REAL_DATASETS, 1):
        datasets.append(
            {
                "id": f"DS-{i:04d}",
                "name": name,
                "name_zh": zh,
                "publisher": pub,
                "modality": modality,
                "tasks": tasks,
                "languages": langs,
                "license": lic,
                "version": "1.0",
                "file_bytes": size,
                "rows": rows,
                "hours": hours,
                "downloads": int(rng.lognormal(9.0, 1.2)),
                "updated_at": _iso(
                    start - dt.timedelta(days=int(rng.integers(30, 700))), int(rng.integers(86400))
                ),
            }
        )
    while len(datasets) < N_DATASETS:
        updated = start - dt.timedelta(days=int(rng.integers(10, 500)))
        datasets.append(_synthetic(rng, len(datasets) + 1, used, publishers, updated))
    snapshots = [Snapshot(0, start, copy.deepcopy(datasets))]
    next_number = len(datasets) + 1
    for k, day in enumerate(range(SNAPSHOT_EVERY_DAYS, days, SNAPSHOT_EVERY_DAYS), start=1):
        rng = rng_for(seed, "opendatalab", k)
        date = start + dt.timedelta(days=day)
        datasets = _evolve(rng, datasets, date)
        n_new = max(1, round(0.02 * len(datasets)))
        for _ in range(n_new):
            datasets.append(_synthetic(rng, next_number, used, publishers, date - dt.timedelta(days=3)))
            next_number += 1
        snapshots.append(Snapshot(day, date, copy.deepcopy(datasets)))
    return snapshots


def _evolve(rng: np.random.Generator, datasets: list[dict], date: dt.date) -> list[dict]:
    """Downloads grow, some versions, licences and sizes change, about 1% of datasets disappear."""
    n = len(datasets)
    growth = rng.uniform(0.02, 0.25, n)
    bump = rng.random(n) < 0.06
    relicense = rng.random(n) < 0.01
    removable = [i for i, d in enumerate(datasets) if d["id"] != FACTS_DATASET_ID]
    removed = set(rng.choice(removable, max(1, round(0.01 * n)), replace=False).tolist())
    out = []
    for i, d in enumerate(datasets):
        if i in removed:
            continue
        d = dict(d)
        d["downloads"] = int(d["downloads"] * (1 + growth[i])) + 1
        if bump[i] and d["id"] != FACTS_DATASET_ID:
            major, minor = (int(x) for x in d["version"].split("."))
            d["version"] = f"{major}.{minor + 1}"
            d["file_bytes"] = int(d["file_bytes"] * rng.uniform(1.0, 1.3))
            d["updated_at"] = _iso(
                date - dt.timedelta(days=int(rng.integers(1, 29))), int(rng.integers(86400))
            )
        if relicense[i]:
            d["license"] = str(rng.choice(LICENSES))
        out.append(d)
    return out


def usable_ids(snapshots: list[Snapshot]) -> list[set[str]]:
    """Per snapshot, the ids that stay listed from then on (the only ones tenants pick for new work)."""
    ever_removed: set[str] = set()
    seen: set[str] = set()
    for snap in snapshots:
        ids = set(snap.ids)
        ever_removed |= seen - ids
        seen |= ids
    return [set(s.ids) - ever_removed for s in snapshots]
