"""Real public samples shipped in data_contracts/samples, dropped into the landing zone like any delivery."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .writers import Landing

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "data_contracts" / "samples"

# (source spec, file under data_contracts/samples, landing path)
REAL_SAMPLES: tuple[tuple[str, str, str], ...] = (
    (
        "alibaba_pai",
        "alibaba_pai_gpu_2023/openb_pod_list_default.csv",
        "providers/alibaba_pai/openb_pod_list_default.csv",
    ),
    *(
        ("focus_samples", f"focus_1_2/{name}", f"providers/focus_samples/{name}")
        for name in (
            "commitment_discount_purchase_scenario_1.csv",
            "commitment_discount_usage_scenario_1.csv",
            "saas_spend_agreements_a1.csv",
            "virtual_currency_pricing_model_a1.csv",
            "virtual_currency_pricing_model_b1.csv",
        )
    ),
)


def _csv_rows(data: bytes) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8-sig")))) - 1


def write_real_samples(landing: Landing) -> None:
    """Copy every real sample, byte for byte, to its landing path."""
    for source, shipped, target in REAL_SAMPLES:
        data = (SAMPLES_DIR / shipped).read_bytes()
        landing.write(target, data, source, _csv_rows(data))
