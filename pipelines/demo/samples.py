"""Real public samples shipped in data_contracts/samples, dropped into the landing zone like any delivery."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
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
    (
        "azure_llm_trace",
        "azure_llm_inference_2023/AzureLLMInferenceTrace_conv_head.csv",
        "providers/azure_llm_trace/AzureLLMInferenceTrace_conv_head.csv",
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


def _data_provenance() -> tuple[tuple[str, str, str], ...]:
    root = SAMPLES_DIR / "data_provenance_catalog"
    return tuple(
        (
            "data_provenance",
            str(path.relative_to(SAMPLES_DIR)),
            f"catalog/data_provenance/{path.relative_to(root)}",
        )
        for path in sorted(root.glob("*/*.json"))
    )


GRIDFTP_LOG = (
    "nersc_gridftp",
    "nersc_transfer_logs/globuslogs.txt.gz",
    "transfers/nersc_gridftp/globuslogs.txt.gz",
)


HPSS_REPORT = (
    "nersc_hpss",
    "nersc_transfer_logs/hpss_daily.txt",
    "transfers/nersc_hpss/hpss_daily.txt",
)


def _text_lines(data: bytes) -> int:
    return sum(1 for line in data.splitlines() if line.strip())


def _csv_rows(data: bytes) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8-sig")))) - 1


def _json_records(data: bytes) -> int:
    return len(json.loads(data))


def _gzip_lines(data: bytes) -> int:
    return sum(1 for line in gzip.decompress(data).splitlines() if line.strip())


def all_samples() -> list[tuple[str, str, str, Callable[[bytes], int]]]:
    """Every real sample: (source, shipped file, landing path, how its records are counted)."""
    return [
        *((*sample, _csv_rows) for sample in REAL_SAMPLES),
        *((*sample, _json_records) for sample in _data_provenance()),
        (*GRIDFTP_LOG, _gzip_lines),
        (*HPSS_REPORT, _text_lines),
    ]


def write_real_samples(landing: Landing) -> None:
    """Copy every real sample, byte for byte, to its landing path."""
    for source, shipped, target, count in all_samples():
        data = (SAMPLES_DIR / shipped).read_bytes()
        landing.write(target, data, source, count(data))
