"""Which landed files an asset partition was built from, recorded in Dagster.

An asset that reads the landing zone logs an `AssetObservation` per commit, whose `landing_versions` metadata
maps each partition the commit covered to a digest of the files it saw (path, size, modification time). A
refresh compares these recorded versions with the landing zone as it is now, and runs only the partitions whose
files changed.
"""

from __future__ import annotations

import hashlib

import dagster as dg

from assets.ingest.engine import UNPARTITIONED
from warehouse.lake import Location

LANDING_VERSIONS = "landing_versions"
# An observation of one partition's version (releases before the per-commit map): still read, so an upgraded
# deployment does not run every partition again.
LANDING_VERSION = "landing_version"
# A partition whose files have all gone has this version: its history stays in the lake, nothing to reload.
NO_FILES = hashlib.sha1(b"").hexdigest()[:16]


def _stamp(info: dict) -> str:
    """A file's change stamp from its listing entry (local mtime, or an object store's LastModified/ETag)."""
    return str(info.get("mtime") or info.get("LastModified") or info.get("ETag") or info.get("created"))


def listing_versions(landing: Location, listing: dict[str, dict[str, dict]]) -> dict[str, str]:
    """Partition key -> landing version: a digest of the partition's files (path, size, modification time)."""
    return {
        key: digest(
            sorted(
                f"{landing.relative(path)}|{info.get('size')}|{_stamp(info)}" for path, info in files.items()
            )
        )
        for key, files in listing.items()
    }


def digest(entries: list[str]) -> str:
    """The landing version of a partition's file entries."""
    return hashlib.sha1("\n".join(entries).encode()).hexdigest()[:16]


def file_version(landing: Location, relative: str) -> str:
    """Landing version of one landed file, by content (reference files are small and often rewritten
    unchanged)."""
    if not landing.exists(relative):
        return NO_FILES
    return hashlib.sha1(landing.fs.cat_file(landing.path(relative))).hexdigest()[:16]


def record_versions(context: dg.AssetExecutionContext, versions: dict[str, str]) -> None:
    """Record in Dagster that the asset's partitions (UNPARTITIONED when unpartitioned) now hold these landing
    versions: one observation for all of them (each event is a write to Dagster's event log)."""
    context.log_event(
        dg.AssetObservation(
            asset_key=context.asset_key, metadata={LANDING_VERSIONS: dg.MetadataValue.json(versions)}
        )
    )


def recorded_versions(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, str]:
    """Partition key (UNPARTITIONED when unpartitioned) -> the latest landing version recorded for it."""
    found: dict[str, str] = {}
    cursor = None
    while True:
        page = instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=key), limit=1000, cursor=cursor, ascending=False
        )
        for record in page.records:
            observation = record.event_log_entry.asset_observation
            metadata = observation.metadata if observation else {}
            if LANDING_VERSIONS in metadata:
                for key, version in metadata[LANDING_VERSIONS].value.items():
                    found.setdefault(key, version)
            elif LANDING_VERSION in metadata:
                found.setdefault(observation.partition or UNPARTITIONED, metadata[LANDING_VERSION].value)
        if not page.has_more:
            return found
        cursor = page.cursor


def changed_partitions(current: dict[str, str], recorded: dict[str, str]) -> list[str]:
    """Partitions whose landing version differs from the recorded one (new, changed or emptied)."""
    keys = set(current) | set(recorded)
    return sorted(k for k in keys if current.get(k, NO_FILES) != recorded.get(k))
