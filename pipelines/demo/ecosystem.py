"""Reference tables of the ecosystem: sites, providers, tenants, capacity plan and chip names."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
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

# Tenant names: (name, English name); the first ten are the firms that migrate to operator compute.
_ZH_PREFIX = (
    ("星辰", "Xingchen"),
    ("云帆", "Yunfan"),
    ("深瞳", "Shentong"),
    ("灵犀", "Lingxi"),
    ("启元", "Qiyuan"),
    ("墨言", "Moyan"),
    ("天衡", "Tianheng"),
    ("知行", "Zhixing"),
    ("极光", "Jiguang"),
    ("凌云", "Lingyun"),
    ("锦程", "Jincheng"),
    ("观澜", "Guanlan"),
    ("数语", "Shuyu"),
    ("青禾", "Qinghe"),
    ("磐石", "Panshi"),
    ("若水", "Ruoshui"),
    ("明镜", "Mingjing"),
    ("北辰", "Beichen"),
    ("浦江", "Pujiang"),
    ("星河", "Xinghe"),
    ("鲸算", "Jingsuan"),
    ("曜石", "Yaoshi"),
    ("问渠", "Wenqu"),
    ("澄明", "Chengming"),
    ("衡泰", "Hengtai"),
    ("知微", "Zhiwei"),
    ("弈思", "Yisi"),
    ("风语", "Fengyu"),
    ("览众", "Lanzhong"),
    ("远识", "Yuanshi"),
    ("徐光", "Xuguang"),
    ("星澜", "Xinglan"),
    ("拾光", "Shiguang"),
    ("方舟", "Fangzhou"),
    ("云岫", "Yunxiu"),
    ("睿图", "Ruitu"),
    ("言川", "Yanchuan"),
    ("宸极", "Chenji"),
    ("聆音", "Lingyin"),
    ("格物", "Gewu"),
    ("镜湖", "Jinghu"),
    ("海棠", "Haitang"),
    ("天枢", "Tianshu"),
    ("归藏", "Guicang"),
    ("万象", "Wanxiang"),
    ("松果", "Songguo"),
    ("朗逸", "Langyi"),
    ("书航", "Shuhang"),
    ("算元", "Suanyuan"),
    ("沧澜", "Canglan"),
    ("织梦", "Zhimeng"),
    ("瀚思", "Hansi"),
    ("微澜", "Weilan"),
    ("青鸾", "Qingluan"),
    ("墨子", "Mozi"),
    ("辰星", "Chenxing"),
    ("乘风", "Chengfeng"),
    ("未央", "Weiyang"),
    ("九歌", "Jiuge"),
    ("芥子", "Jiezi"),
    ("知鱼", "Zhiyu"),
)
_ZH_SUFFIX = (
    ("科技", "Technology"),
    ("智能科技", "Intelligent Technology"),
    ("数据科技", "Data Technology"),
    ("机器人", "Robotics"),
    ("医疗科技", "Medical Technology"),
    ("信息技术", "Information Technology"),
    ("智算科技", "Computing Technology"),
    ("视觉科技", "Vision Technology"),
)
_EN_NAMES = (
    "Lumina AI",
    "NovaMind Labs",
    "DeepHarbor AI",
    "Qubit Vision",
    "Pujiang Robotics",
    "Huxi Data",
    "Tidewave AI",
    "MoSpace Tensor",
    "Bund Analytics",
    "Zhiyun Labs",
    "Helix Bio-AI",
    "Starloom",
    "Octave Speech",
    "Kite Autonomy",
    "Meridian LLM",
    "Linden Health AI",
    "Cirrus Compute",
    "Jade Rabbit AI",
    "Ferry Logic",
    "Sparrow Agents",
    "Longhua Vision",
    "Xuhui Semantics",
    "Amber Lattice",
    "Polaris Speech",
    "Cobalt Reasoning",
    "Yangtze Multimodal",
    "Orchid Legal AI",
    "Vector Harbor",
    "Maple Tutor AI",
    "Rivet Industrial AI",
    "Beacon Finance AI",
    "Quill Docs AI",
    "Lotus Gen",
    "Magpie Video",
    "Sable Retail AI",
    "Marble Robotics",
    "Tern Mobility AI",
)
_AFFILIATED = {  # tenant number -> (name, English name, affiliated provider)
    11: ("商汤智核科技", "SenseCore Labs Shanghai", "sensetime"),
    12: ("无问智训科技", "Infini Train Technology", "infinigence"),
    13: ("天翼智汇科技", "Tianyi Zhihui Technology", "telecom_sh"),
}
N_TENANTS = 100
TENANT_IDS: tuple[str, ...] = tuple(f"T{i:03d}" for i in range(1, N_TENANTS + 1))
_STAGES = ("seed", "angel", "A", "B")


@cache
def tenants_frame() -> pl.DataFrame:
    """The 100 startups of ModelSpeed Space (fixed reference data, independent of the seed)."""
    rng = np.random.default_rng(2023_09_01)
    suffix = rng.integers(0, len(_ZH_SUFFIX), len(_ZH_PREFIX))
    zh_names = [
        (p + _ZH_SUFFIX[s][0], f"{en} {_ZH_SUFFIX[s][1]}")
        for (p, en), s in zip(_ZH_PREFIX, suffix, strict=True)
    ]
    en_names = [(n, n) for n in _EN_NAMES]
    free = zh_names[10:] + en_names
    order = rng.permutation(len(free))
    affiliated = [(zh, en) for zh, en, _ in _AFFILIATED.values()]
    names = zh_names[:10] + affiliated + [free[i] for i in order]
    district = rng.choice(["徐汇区", "浦东新区", "闵行区"], N_TENANTS, p=[0.8, 0.12, 0.08])
    stage = rng.choice(_STAGES, N_TENANTS, p=[0.3, 0.3, 0.28, 0.12])
    founded = [dt.date(2017, 1, 1) + dt.timedelta(days=int(x)) for x in rng.integers(0, 2700, N_TENANTS)]
    joined = [dt.date(2023, 9, 1) + dt.timedelta(days=int(x)) for x in rng.integers(0, 680, N_TENANTS)]
    rows = []
    for i, tid in enumerate(TENANT_IDS, start=1):
        name, name_en = names[i - 1]
        provider = _AFFILIATED[i][2] if i in _AFFILIATED else None
        join = joined[i - 1]
        if i > N_TENANTS - 5:  # five late joiners arrive during the autumn of 2025
            join = dt.date(2025, 8, 20) + dt.timedelta(days=14 * (i - N_TENANTS + 4))
        rows.append(
            {
                "tenant_id": tid,
                "tenant_name": name,
                "tenant_name_en": name_en,
                "district": "徐汇区" if i <= 13 else str(district[i - 1]),
                "stage": "B" if i <= 5 else str(stage[i - 1]),
                "founded_date": min(founded[i - 1], join),
                "joined_date": join,
                "affiliated_provider_id": provider,
            }
        )
    return pl.DataFrame(rows, schema_overrides={"affiliated_provider_id": pl.String})


def sites_frame() -> pl.DataFrame:
    """sites.csv."""
    return pl.DataFrame([s.__dict__ for s in SITES])


def providers_frame() -> pl.DataFrame:
    """providers.csv."""
    return pl.DataFrame([p.__dict__ for p in PROVIDERS])


# (site, effective_date, status, note, {chip_model: cumulative cards})
_CAPACITY: tuple[tuple[str, str, str, str, dict[str, int]], ...] = (
    ("lingang", "2025-01-15", "installed", "phase 1.1", {"A100": 8000, "H800": 12000, "Ascend910B": 10000}),
    (
        "lingang",
        "2025-06-30",
        "installed",
        "phase 1.2: 60,000 cards",
        {"A100": 12000, "H800": 20000, "H20": 6000, "L40S": 2000, "Ascend910B": 20000},
    ),
    (
        "lingang",
        "2026-06-30",
        "planned",
        "phase 2: 100,000 cards",
        {
            "A100": 12000,
            "H800": 20000,
            "H20": 8000,
            "L40S": 2000,
            "Ascend910B": 50000,
            "MLU370-X8": 4000,
            "BR104": 4000,
        },
    ),
    (
        "lingang",
        "2027-12-31",
        "planned",
        "phase 3",
        {
            "A100": 12000,
            "H800": 20000,
            "H20": 8000,
            "L40S": 2000,
            "Ascend910B": 100000,
            "MLU370-X8": 12000,
            "BR104": 10000,
            "MTT-S4000": 6000,
        },
    ),
    (
        "lingang",
        "2028-12-31",
        "planned",
        "final layout: 300,000 cards with Qingpu and Songjiang",
        {
            "A100": 12000,
            "H800": 20000,
            "H20": 8000,
            "L40S": 2000,
            "Ascend910B": 110000,
            "MLU370-X8": 14000,
            "BR104": 12000,
            "MTT-S4000": 8000,
        },
    ),
    (
        "qingpu",
        "2025-03-31",
        "installed",
        "heterogeneous cluster 1",
        {
            "A100": 2000,
            "H20": 2000,
            "L40S": 1000,
            "Ascend910B": 4000,
            "MLU370-X8": 2000,
            "BR104": 1000,
            "MTT-S4000": 1000,
        },
    ),
    (
        "qingpu",
        "2027-12-31",
        "planned",
        "west wing expansion",
        {
            "A100": 2000,
            "H20": 2000,
            "L40S": 1000,
            "Ascend910B": 30000,
            "MLU370-X8": 8000,
            "BR104": 5000,
            "MTT-S4000": 5000,
        },
    ),
    (
        "qingpu",
        "2028-12-31",
        "planned",
        "final layout",
        {
            "A100": 2000,
            "H20": 2000,
            "L40S": 1000,
            "Ascend910B": 40000,
            "MLU370-X8": 10000,
            "BR104": 7000,
            "MTT-S4000": 6000,
        },
    ),
    (
        "songjiang",
        "2025-05-31",
        "installed",
        "operator cluster",
        {"A100": 3000, "H800": 2000, "H20": 2000, "Ascend910B": 5000},
    ),
    (
        "songjiang",
        "2027-12-31",
        "planned",
        "west wing expansion",
        {"A100": 3000, "H800": 2000, "H20": 2000, "Ascend910B": 25000, "MLU370-X8": 4000},
    ),
    (
        "songjiang",
        "2028-12-31",
        "planned",
        "final layout",
        {"A100": 3000, "H800": 2000, "H20": 2000, "Ascend910B": 30000, "MLU370-X8": 5000, "MTT-S4000": 4000},
    ),
    ("xuhui", "2024-03-31", "installed", "community edge node", {"L40S": 256, "RTX4090": 512}),
)


# Share of each site's cards in the pool that serves the demo's tenants at scale 1 (the tenants' usage is
# what ComputeFlow receives; the rest of a site serves other customers). Chosen so that the pools run at
# about half to four fifths of their hours at the end of the nominal 120 days, domestic pools fuller.
_POOL_SHARE = {"lingang": 0.015, "qingpu": 0.02, "songjiang": 0.05, "xuhui": 0.1}


def capacity_plan_frame(scale: float = 1.0) -> pl.DataFrame:
    """capacity_plan.csv: cumulative cards per (site, chip_model) at each effective date.

    `pool_share` scales with the demo's volume (up to 1), so the pools' utilization does not depend on `scale`.
    """
    rows = [
        {
            "site_id": site,
            "chip_model": chip,
            "effective_date": dt.date.fromisoformat(date),
            "cards": cards,
            "status": status,
            "note": note,
            "pool_share": round(min(1.0, _POOL_SHARE[site] * scale), 8),
        }
        for site, date, status, note, chips in _CAPACITY
        for chip, cards in chips.items()
    ]
    return pl.DataFrame(rows)


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
