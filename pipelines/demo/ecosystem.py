"""Reference tables of the ecosystem: sites, providers and chip names (the tenants are in tenants.py, the
capacity plan in capacity.py)."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

REPO_ROOT = Path(__file__).resolve().parents[2]
CHIP_DIR = REPO_ROOT / "data_contracts" / "reference"
SHANGHAI_OFFSET_S = 8 * 3600


@dataclass(frozen=True)
class Site:
    """A computing site of the city network."""

    site_id: str
    site_name: str
    site_name_zh: str
    district: str
    wing: str
    latitude: float
    longitude: float
    cooling: str


SITES: tuple[Site, ...] = (
    Site(
        "lingang",
        "Lingang Intelligent Computing Center",
        "临港智算中心",
        "浦东新区",
        "east",
        30.8986,
        121.9290,
        "liquid",
    ),
    Site(
        "qingpu",
        "Qingpu Intelligent Computing Center",
        "青浦智算中心",
        "青浦区",
        "west",
        31.1510,
        121.1240,
        "air",
    ),
    Site(
        "songjiang",
        "Songjiang Intelligent Computing Center",
        "松江智算中心",
        "松江区",
        "west",
        31.0320,
        121.2270,
        "hybrid",
    ),
    Site(
        "xuhui", "ModelSpeed Space Edge Node", "模速空间边缘节点", "徐汇区", "edge", 31.1700, 121.4590, "air"
    ),
)
SITE_IDS: tuple[str, ...] = tuple(s.site_id for s in SITES)
SITE_ZH: dict[str, str] = {s.site_id: s.site_name_zh for s in SITES}


@dataclass(frozen=True)
class Provider:
    """A compute or network provider and the shape of its feed."""

    provider_id: str
    provider_name: str
    provider_name_zh: str
    provider_type: str
    billing_currency: str
    feed_format: str


PROVIDERS: tuple[Provider, ...] = (
    Provider("telecom_sh", "China Telecom Shanghai", "中国电信", "telecom_operator", "CNY", "csv_gbk_daily"),
    Provider("unicom_sh", "China Unicom Shanghai", "中国联通", "telecom_operator", "CNY", "focus_1.2_csv"),
    Provider("mobile_sh", "China Mobile Shanghai", "中国移动", "telecom_operator", "CNY", "kv_log_gzip"),
    Provider("volcano_engine", "Volcano Engine", "火山引擎", "cloud", "CNY", "parquet_hourly"),
    Provider("infinigence", "Infinigence", "无问芯穹", "heterogeneous_platform", "CNY", "jsonl"),
    Provider("sensetime", "SenseTime", "商汤", "cloud", "CNY", "none"),
    Provider("overseas_cloud", "Overseas reference cloud", "海外参考云", "overseas_cloud", "USD", "none"),
    Provider("elastic_net", "Elastic compute network", "弹性算力网络", "network", "CNY", "transfers_csv"),
    Provider("alibaba_pai", "Alibaba Cloud PAI", "阿里云人工智能平台 PAI", "cloud", "CNY", "pod_trace_csv"),
    Provider("focus_samples", "FOCUS sample bills", "FOCUS 示例账单", "cloud", "USD", "focus_1.2_csv"),
    Provider(
        "azure_llm_trace",
        "Azure LLM inference trace",
        "Azure 大模型推理轨迹",
        "model_api",
        "CNY",
        "token_trace_csv",
    ),
)


def sites_frame() -> pl.DataFrame:
    """sites.csv."""
    return pl.DataFrame([s.__dict__ for s in SITES])


def providers_frame() -> pl.DataFrame:
    """providers.csv."""
    return pl.DataFrame([p.__dict__ for p in PROVIDERS])


@cache
def chip_names() -> dict[str, str]:
    """Every accepted chip string (chip_model or alias) mapped to its chip_model."""
    with (CHIP_DIR / "chip_specs.csv").open(encoding="utf-8") as f:
        names = {row["chip_model"]: row["chip_model"] for row in csv.DictReader(f)}
    with (CHIP_DIR / "chip_aliases.csv").open(encoding="utf-8") as f:
        names.update({row["alias"]: row["chip_model"] for row in csv.DictReader(f)})
    return names


def day_start_epoch(start: dt.date, day: int, utc_days: bool = False) -> int:
    """Epoch seconds of the start of demo day `day` (Shanghai midnight, or UTC midnight)."""
    epoch = (start - dt.date(1970, 1, 1)).days * 86400 + day * 86400
    return epoch if utc_days else epoch - SHANGHAI_OFFSET_S
