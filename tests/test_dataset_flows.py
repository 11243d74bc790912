"""Catalog history and vocabulary, network savings and dataset flows, checked against the core tables."""

import datetime as dt
import itertools
import math
from collections import defaultdict
from decimal import Decimal

import duckdb
import pytest

from assets.core.catalog import HISTORY_ATTRIBUTES, catalog_history_query
from assets.core.vocabulary import build_terms, language_code
from assets.reference.tables import REF_TABLES, create_ref_views, load_reference_table
from pipelines.demo.transfers import FACTS_BYTES
from tests.conftest import Deployment, lake_connection
from warehouse.lake import Location

SNAPSHOTS = {
    "2025-08-01": {"A": ("a", 10), "B": ("b", 5), "C": ("c", 1)},
    "2025-08-31": {"A": ("a", 10), "B": ("b", 9), "C": ("c", 1), "D": ("d", 2)},
    "2025-09-30": {"A": ("a", 10), "B": ("b", 9), "D": ("d", 2)},
}


def history(snapshots: dict[str, dict[str, tuple[str, int]]]) -> list[tuple]:
    """core.dataset_catalog's history query over catalog rows of the given snapshots."""
    con = duckdb.connect()
    rows = [
        (day, dataset, name, downloads, i)
        for day, datasets in snapshots.items()
        for i, (dataset, (name, downloads)) in enumerate(datasets.items())
    ]
    con.execute(
        "CREATE TABLE snap (partition_key VARCHAR, dataset_id VARCHAR, name VARCHAR, downloads BIGINT, "
        "source_row BIGINT)"
    )
    con.executemany("INSERT INTO snap VALUES (?, ?, ?, ?, ?)", rows)
    others = [a for a in HISTORY_ATTRIBUTES if a not in ("name", "downloads")]
    columns = ", ".join(f"CAST(NULL AS VARCHAR) AS {c}" for c in [*others, "snapshot_at", "attributes"])
    union = f"SELECT 'cat' AS source_name, partition_key || '.json' AS source_file, *, {columns} FROM snap"
    return con.execute(
        f"SELECT dataset_id, downloads, valid_from, valid_to, is_current, is_removed "
        f"FROM ({catalog_history_query(union)}) ORDER BY dataset_id, valid_from"
    ).fetchall()


def test_catalog_history_opens_versions_only_on_change_and_marks_removals() -> None:
    d = dt.date.fromisoformat
    assert history(SNAPSHOTS) == [
        ("A", 10, d("2025-08-01"), None, True, False),  # unchanged: one version
        ("B", 5, d("2025-08-01"), d("2025-08-31"), False, False),  # changed: old version closed
        ("B", 9, d("2025-08-31"), None, True, False),
        ("C", 1, d("2025-08-01"), d("2025-09-30"), False, True),  # gone from the last snapshot: marked
        ("D", 2, d("2025-08-31"), None, True, False),
    ]


def test_a_dataset_that_comes_back_reopens_and_counts_as_removed_where_it_was_missing() -> None:
    snapshots = {**SNAPSHOTS, "2025-10-30": {**SNAPSHOTS["2025-09-30"], "C": ("c", 1)}}
    c_rows = [r for r in history(snapshots) if r[0] == "C"]
    assert [(r[2].isoformat(), r[3] and r[3].isoformat(), r[5]) for r in c_rows] == [
        ("2025-08-01", "2025-09-30", True),  # removed in the snapshot of 2025-09-30
        ("2025-10-30", None, False),
    ]


def test_demo_history_matches_the_snapshots(demo: Deployment) -> None:
    rows = demo.query(
        "SELECT dataset_id, valid_from, valid_to, is_current, is_removed FROM core.dataset_catalog "
        "WHERE source_name = 'opendatalab'"
    )
    snapshots = {
        day: {
            r[0]
            for r in demo.query(
                "SELECT DISTINCT dataset_id FROM core.dataset_catalog WHERE source_name = 'opendatalab' "
                "AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)",
                [day, day],
            )
        }
        for (day,) in demo.query(
            "SELECT DISTINCT snapshot_date FROM core.dataset_catalog WHERE source_name = 'opendatalab'"
        )
    }
    by_dataset = defaultdict(list)
    for dataset, valid_from, valid_to, current, removed in rows:
        by_dataset[dataset].append((valid_from, valid_to, current, removed))
    last_day = max(snapshots)
    for dataset, versions in by_dataset.items():
        versions.sort()
        for earlier, later in itertools.pairwise(versions):
            assert earlier[1] is not None and earlier[1] <= later[0], dataset  # no overlapping versions
        assert sum(v[2] for v in versions) == (dataset in snapshots[last_day]), dataset
        for _, valid_to, _, removed in versions:  # removed exactly when the closing snapshot lacks it
            assert removed == (valid_to is not None and dataset not in snapshots[valid_to]), dataset


def test_every_raw_catalog_term_is_in_the_lookup_with_its_normalised_value(demo: Deployment) -> None:
    raw = {
        (facet, value)
        for facet, column in (("modality", "modality"), ("language", "languages"), ("task", "tasks"))
        for (value,) in demo.query(
            f"SELECT DISTINCT trim(unnest({column})) FROM core.dataset_catalog WHERE {column} IS NOT NULL"
        )
    }
    terms = {
        (f, r): n
        for f, r, n in demo.query("SELECT facet, raw_value, normalised_value FROM core.dataset_terms")
    }
    code_names = {r for f, r in terms if f == "programming_language"}
    assert {(f, r) for f, r in raw if r not in code_names} <= set(terms)
    assert {("programming_language", r) for f, r in raw if r in code_names} <= set(terms)
    languages = {r: n for (f, r), n in terms.items() if f == "language"}
    for value, code in languages.items():
        expected = language_code(value)
        assert code == (expected[0] if expected else None), value
    assert languages.get("zh", "zh") == "zh" and languages.get("Mandarin Chinese", "zh") == "zh"
    modalities = {r: n for (f, r), n in terms.items() if f == "modality"}
    assert modalities.get("speech", "audio") == "audio" and modalities.get("text", "text") == "text"
    normalised = demo.query(
        "SELECT count(*) FILTER (WHERE len(modality_norm) > 0), count(*) FROM core.dataset_catalog "
        "WHERE modality IS NOT NULL"
    )[0]
    assert normalised[0] == normalised[1]  # every dataset with a modality has a normalised one


def test_the_ten_terabyte_transfer_of_the_facts(demo: Deployment) -> None:
    ((bytes_, base_hours, actual_hours, billed, counterfactual, saving_pct),) = demo.query(
        "SELECT bytes, base_hours, actual_hours, billed_cost_cny, counterfactual_cost_cny, saving_pct "
        "FROM marts.network_savings WHERE tenant_id = 'T001' AND bytes = ? AND status = 'completed'",
        [FACTS_BYTES],
    )
    assert bytes_ == 10 * 10**12
    assert base_hours / 24 == pytest.approx(FACTS_BYTES * 8 / 100e6 / 86400, rel=1e-6)  # about 9.3 days
    assert 9.2 < base_hours / 24 < 9.3 and actual_hours == pytest.approx(2.0)
    assert billed <= counterfactual / 2 and saving_pct >= 50


def test_network_savings_recomputed_from_core_transfers_and_rate_cards(demo: Deployment) -> None:
    rates = dict(
        demo.query(
            "SELECT service, contracted_price FROM ref.rate_cards WHERE provider_id = 'elastic_net' "
            "AND service IN ('network_base', 'network_boost')"
        )
    )
    transfers = demo.query(
        "SELECT transfer_id, status, bytes, base_bandwidth_mbps, boost_bandwidth_mbps, cost_cny, "
        "epoch(end_time) - epoch(start_time) FROM core.data_transfers WHERE source_name = 'elastic_net'"
    )
    mart = {
        r[0]: r[1:]
        for r in demo.query(
            "SELECT transfer_id, hours_saved, counterfactual_cost_cny, saving_cny FROM marts.network_savings "
            "WHERE source_name = 'elastic_net'"
        )
    }
    assert len(mart) == len(transfers) > 0
    saved_total = Decimal(0)
    for transfer_id, status, size, base, boost, cost, seconds in transfers:
        hours_saved, counterfactual, saving = mart[transfer_id]
        if status != "completed":
            assert hours_saved is None and counterfactual is None
            continue
        if boost is None:
            assert hours_saved == 0 and counterfactual == cost and saving == 0
            continue
        base_hours = size * 8 / (base * 1e6) / 3600
        expected = Decimal(math.ceil(round(base_hours * 100, 6))) / 100 * Decimal(str(rates["network_base"]))
        assert counterfactual == expected.quantize(Decimal("0.01")), transfer_id
        assert hours_saved == pytest.approx(base_hours - seconds / 3600, abs=1e-5)
        saved_total += saving
    monthly = demo.query("SELECT sum(saving_cny) FROM marts.network_savings_monthly")[0][0]
    assert monthly == saved_total > 0


def test_dataset_flow_reconciles_with_transfers_usage_and_licences(demo: Deployment) -> None:
    moved: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for dataset, site, size in demo.query(
        "SELECT dataset_id, destination_site_id, bytes FROM core.data_transfers "
        "WHERE dataset_id IS NOT NULL AND status = 'completed'"
    ):
        moved[dataset][site] += size
    versions = defaultdict(list)
    for dataset, valid_from, valid_to, commercial in demo.query(
        "SELECT dataset_id, valid_from, valid_to, commercial_use FROM core.dataset_catalog"
    ):
        versions[dataset].append((valid_from, valid_to, commercial))
    hours: dict[str, float] = defaultdict(float)
    conflict: dict[str, float] = defaultdict(float)
    for dataset, day, gpu_hours in demo.query(
        "SELECT dataset_id, charge_date, gpu_hours FROM core.compute_usage "
        "WHERE dataset_id IS NOT NULL AND charge_category = 'Usage'"
    ):
        hours[dataset] += gpu_hours or 0
        if any(c is False and f <= day and (t is None or day < t) for f, t, c in versions[dataset]):
            conflict[dataset] += gpu_hours or 0
    mart = {
        r[0]: r[1:]
        for r in demo.query(
            "SELECT dataset_id, bytes_moved, bytes_by_site, gpu_hours, non_commercial_gpu_hours, "
            "commercial_use_conflict FROM marts.dataset_flow"
        )
    }
    assert set(mart) == set(moved) | set(hours)
    for dataset, (bytes_moved, by_site, gpu_hours, nc_hours, flagged) in mart.items():
        assert bytes_moved == sum(moved[dataset].values()), dataset
        assert dict(by_site or {}) == dict(moved[dataset]), dataset
        assert gpu_hours == pytest.approx(hours[dataset], abs=1e-4), dataset
        assert nc_hours == pytest.approx(conflict[dataset], abs=1e-4), dataset
        assert flagged == (conflict[dataset] > 0), dataset
    assert any(flagged for *_, flagged in mart.values())  # the demo trains on a non-commercial dataset


def test_programming_languages_are_not_read_as_natural_languages(lake) -> None:
    with lake_connection(lake) as con:
        for name in ("programming_languages", "licenses", "modalities", "task_categories"):
            load_reference_table(con, REF_TABLES[name], Location(str(lake.data_url)))
        create_ref_views(con)
        con.execute(
            "CREATE TEMP TABLE h AS SELECT 'cat' AS source_name, 'd1' AS dataset_id, "
            "['JavaScript', 'CSS', 'XML', 'Lua', 'Java', 'python', 'zh', 'Mandarin Chinese', 'pt-BR', 'Elvish'] "
            "AS languages, CAST(NULL AS VARCHAR[]) AS licenses, CAST(NULL AS VARCHAR) AS license, "
            "CAST(NULL AS VARCHAR[]) AS modality, CAST(NULL AS VARCHAR[]) AS tasks"
        )
        build_terms(con, "h", "terms")
        terms = {
            r: (f, n, m)
            for f, r, n, m in con.execute(
                "SELECT facet, raw_value, normalised_value, method FROM terms"
            ).fetchall()
        }
    assert terms == {
        "JavaScript": ("programming_language", "JavaScript", "ref.programming_languages"),
        "CSS": ("programming_language", "CSS", "ref.programming_languages"),
        "XML": ("programming_language", "XML", "ref.programming_languages"),
        "Lua": ("programming_language", "Lua", "ref.programming_languages"),
        "Java": ("programming_language", "Java", "ref.programming_languages"),
        "python": ("programming_language", "Python", "ref.programming_languages"),
        "zh": ("language", "zh", "iso639"),
        "Mandarin Chinese": ("language", "zh", "iso639"),
        "pt-BR": ("language", "pt", "iso639"),
        "Elvish": ("language", None, "unmapped"),  # no exact code or name: stays visible, unmapped
    }
