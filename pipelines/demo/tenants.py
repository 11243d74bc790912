"""The demo's 100 tenants (startups of ModelSpeed Space): names, districts, stages and dates, fixed reference
data independent of the seed."""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import polars as pl

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
