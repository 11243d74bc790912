"""meta.sources: one row per source spec (which are reference samples), and the SQL that tells sample rows apart.

Reference and specification samples (`sample: true` in a spec) stay loaded and queryable; dashboards and headline
figures leave their rows out unless asked, deciding from this table: a row is a sample's by its source, by its
provider (one whose every source is a sample) or by its tenant or dataset (one seen only in samples' rows).
"""

from typing import Literal

from assets.ingest.spec import SourceSpec
from assets.tables import SOURCES_TABLE
from warehouse.ducklake import qualified

# Lake-qualified, so that the SQL reads the same in any connection with the lake attached.
_SAMPLE_SOURCES = f"SELECT source_name FROM {qualified(SOURCES_TABLE)} WHERE is_sample"
_TENANT_ROWS = " UNION ALL ".join(
    f"SELECT tenant_id, source_name FROM {qualified(t)}"
    for t in ("core.compute_usage", "core.data_transfers", "core.vouchers")
)
_SAMPLE_KEYS = {
    "source": _SAMPLE_SOURCES,
    "provider": f"SELECT provider_id FROM {qualified(SOURCES_TABLE)} WHERE provider_id IS NOT NULL "
    "GROUP BY provider_id HAVING bool_and(is_sample)",
    "tenant": f"SELECT tenant_id FROM ({_TENANT_ROWS}) WHERE tenant_id IS NOT NULL GROUP BY tenant_id "
    f"HAVING bool_and(source_name IN ({_SAMPLE_SOURCES}))",
    "dataset": f"SELECT dataset_id FROM {qualified('core.dataset_catalog')} GROUP BY dataset_id "
    f"HAVING bool_and(source_name IN ({_SAMPLE_SOURCES}))",
}
SampleKey = Literal["source", "provider", "tenant", "dataset"]
# The tables each kind of key reads besides meta.sources.
SAMPLE_KEY_TABLES: dict[str, tuple[str, ...]] = {
    "source": (),
    "provider": (),
    "tenant": ("core.compute_usage", "core.data_transfers", "core.vouchers"),
    "dataset": ("core.dataset_catalog",),
}


def sample_keys(key: SampleKey) -> str:
    """SQL of the source names, providers, tenants or datasets that belong to reference samples only."""
    return _SAMPLE_KEYS[key]


def is_sample(key: SampleKey, column: str, keys: str | None = None) -> str:
    """SQL true when `column` (a source name, provider, tenant or dataset id) belongs to reference samples only;
    `keys` names a table that holds `sample_keys(key)` already (read once for many queries)."""
    return f"coalesce({column} IN ({f'SELECT * FROM {keys}' if keys else _SAMPLE_KEYS[key]}), false)"


def source_rows(specs: list[SourceSpec]) -> list[tuple]:
    """Rows of meta.sources, one per spec."""
    return [
        (s.name, s.kind, s.provider_id, s.sample, s.provenance, " ".join(s.description.split()))
        for s in sorted(specs, key=lambda s: s.name)
    ]
