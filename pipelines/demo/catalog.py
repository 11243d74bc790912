"""OpenDataLab-style dataset catalogue: a snapshot on the start date and then every 30 days."""

from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import dataclass, field

import numpy as np

from .ecosystem import tenants_frame
from .seeds import rng_for

SNAPSHOT_EVERY_DAYS = 30
N_DATASETS = 200
FACTS_DATASET_ID = "DS-0008"  # the 10 TB Common Crawl subset moved by T001 on day 10
_LICENSES = (
    "CC-BY-4.0",
    "CC-BY-NC-4.0",
    "Apache-2.0",
    "MIT",
    "OpenDataLab-Custom",
    "CC-BY-SA-4.0",
    "CC-BY-NC-SA-4.0",
    "ODC-BY-1.0",
)

# name, name_zh, publisher, modality, tasks, languages, license, file_bytes, rows, hours
_REAL: tuple[tuple, ...] = (
    (
        "WanJuan1.0",
        "书生·万卷1.0",
        "Shanghai AI Laboratory",
        ["image", "text"],
        ["pretraining"],
        ["zh", "en"],
        "CC-BY-4.0",
        2_300_000_000_000,
        600_000_000,
        None,
    ),
    (
        "WanJuan2.0",
        "书生·万卷2.0",
        "Shanghai AI Laboratory",
        ["text"],
        ["pretraining"],
        ["zh", "en"],
        "CC-BY-4.0",
        4_100_000_000_000,
        1_000_000_000,
        None,
    ),
    (
        "WanJuan-CC",
        "万卷CC",
        "Shanghai AI Laboratory",
        ["text"],
        ["pretraining"],
        ["en"],
        "CC-BY-4.0",
        3_600_000_000_000,
        1_100_000_000,
        None,
    ),
    (
        "WanJuan3.0",
        "万卷·丝路",
        "Shanghai AI Laboratory",
        ["text"],
        ["pretraining"],
        ["zh", "en"],
        "CC-BY-4.0",
        1_200_000_000_000,
        400_000_000,
        None,
    ),
    (
        "OmniDocBench",
        "OmniDocBench 文档解析评测集",
        "OpenDataLab",
        ["image", "text"],
        ["document-parsing"],
        ["zh", "en"],
        "Apache-2.0",
        1_400_000_000,
        981,
        None,
    ),
    (
        "MinerU-PDF-zh",
        "MinerU 中文PDF解析语料",
        "OpenDataLab",
        ["text"],
        ["document-parsing", "pretraining"],
        ["zh"],
        "OpenDataLab-Custom",
        850_000_000_000,
        42_000_000,
        None,
    ),
    (
        "MinerU-Academic-Papers",
        "MinerU 学术论文解析语料",
        "OpenDataLab",
        ["image", "text"],
        ["document-parsing"],
        ["zh", "en"],
        "OpenDataLab-Custom",
        320_000_000_000,
        9_500_000,
        None,
    ),
    (
        "CommonCrawl-zh-2024-subset",
        "Common Crawl 中文子集 2024",
        "Common Crawl Foundation",
        ["text"],
        ["pretraining"],
        ["zh"],
        "ODC-BY-1.0",
        10_000_000_000_000,
        2_400_000_000,
        None,
    ),
    (
        "CC-MAIN-2023-50-zh",
        "Common Crawl CC-MAIN-2023-50 中文子集",
        "Common Crawl Foundation",
        ["text"],
        ["pretraining"],
        ["zh"],
        "ODC-BY-1.0",
        6_200_000_000_000,
        1_500_000_000,
        None,
    ),
    (
        "AISHELL-1",
        "希尔贝壳中文普通话语音数据库",
        "AISHELL",
        ["speech"],
        ["asr"],
        ["zh"],
        "Apache-2.0",
        15_000_000_000,
        141_600,
        178.0,
    ),
    (
        "AISHELL-3",
        "AISHELL-3 多说话人语音合成数据库",
        "AISHELL",
        ["speech"],
        ["tts"],
        ["zh"],
        "Apache-2.0",
        19_000_000_000,
        88_035,
        85.0,
    ),
    (
        "WenetSpeech",
        "WenetSpeech 万小时中文语音",
        "WeNet Open Source Community",
        ["speech"],
        ["asr"],
        ["zh"],
        "CC-BY-4.0",
        500_000_000_000,
        None,
        10005.0,
    ),
    (
        "KeSpeech",
        "KeSpeech 方言语音",
        "Beike",
        ["speech"],
        ["asr", "dialect-identification"],
        ["zh"],
        "OpenDataLab-Custom",
        180_000_000_000,
        None,
        1542.0,
    ),
    (
        "MagicData-RAMC",
        "MagicData-RAMC 普通话对话语音",
        "Magic Data",
        ["speech"],
        ["asr", "dialogue"],
        ["zh"],
        "CC-BY-NC-4.0",
        21_000_000_000,
        None,
        180.0,
    ),
    (
        "CommonVoice-zh-CN",
        "Common Voice 简体中文",
        "Mozilla Foundation",
        ["speech"],
        ["asr"],
        ["zh"],
        "CC-BY-4.0",
        24_000_000_000,
        None,
        237.0,
    ),
    (
        "LAION-400M-subset",
        "LAION-400M 子集",
        "LAION",
        ["image", "text"],
        ["captioning", "retrieval"],
        ["en"],
        "CC-BY-4.0",
        1_800_000_000_000,
        40_000_000,
        None,
    ),
    (
        "LAION-2B-multi-zh-subset",
        "LAION-2B 多语种中文子集",
        "LAION",
        ["image", "text"],
        ["captioning"],
        ["zh"],
        "CC-BY-4.0",
        2_600_000_000_000,
        60_000_000,
        None,
    ),
    (
        "Wukong",
        "悟空图文数据集",
        "Huawei Noah's Ark Lab",
        ["image", "text"],
        ["captioning", "retrieval"],
        ["zh"],
        "CC-BY-NC-SA-4.0",
        4_500_000_000_000,
        100_000_000,
        None,
    ),
    (
        "COCO-2017",
        "COCO 2017",
        "COCO Consortium",
        ["image", "text"],
        ["detection", "captioning"],
        ["en"],
        "CC-BY-4.0",
        25_000_000_000,
        123_287,
        None,
    ),
    (
        "ImageNet-1K",
        "ImageNet-1K",
        "ImageNet",
        ["image"],
        ["classification"],
        ["en"],
        "OpenDataLab-Custom",
        155_000_000_000,
        1_331_167,
        None,
    ),
    (
        "Objects365",
        "Objects365 目标检测",
        "Objects365 Consortium",
        ["image"],
        ["detection"],
        ["en"],
        "CC-BY-4.0",
        700_000_000_000,
        2_000_000,
        None,
    ),
    (
        "InternVid",
        "InternVid 视频文本数据集",
        "Shanghai AI Laboratory",
        ["video"],
        ["video-text"],
        ["en"],
        "CC-BY-NC-SA-4.0",
        3_200_000_000_000,
        7_100_000,
        760000.0,
    ),
    (
        "Panda-70M",
        "Panda-70M 视频字幕",
        "Snap Research",
        ["video"],
        ["video-captioning"],
        ["en"],
        "OpenDataLab-Custom",
        5_000_000_000_000,
        70_000_000,
        167000.0,
    ),
    (
        "Kinetics-700",
        "Kinetics-700 动作识别",
        "DeepMind",
        ["video"],
        ["action-recognition"],
        ["en"],
        "CC-BY-4.0",
        710_000_000_000,
        650_000,
        1800.0,
    ),
    (
        "CLUECorpus2020",
        "CLUE 中文预训练语料",
        "CLUE",
        ["text"],
        ["pretraining"],
        ["zh"],
        "MIT",
        100_000_000_000,
        35_000_000,
        None,
    ),
    (
        "WuDaoCorpora-Text",
        "悟道文本数据集",
        "BAAI",
        ["text"],
        ["pretraining"],
        ["zh"],
        "OpenDataLab-Custom",
        200_000_000_000,
        59_000_000,
        None,
    ),
    (
        "SkyPile-150B",
        "SkyPile-150B 中文网页语料",
        "Skywork",
        ["text"],
        ["pretraining"],
        ["zh"],
        "OpenDataLab-Custom",
        620_000_000_000,
        233_000_000,
        None,
    ),
    (
        "ChineseWebText",
        "ChineseWebText 中文网页语料",
        "CAS Institute of Automation",
        ["text"],
        ["pretraining"],
        ["zh"],
        "Apache-2.0",
        1_420_000_000_000,
        400_000_000,
        None,
    ),
    (
        "BELLE-2M",
        "BELLE 中文指令 200万",
        "BELLE Group",
        ["text"],
        ["sft"],
        ["zh"],
        "Apache-2.0",
        1_800_000_000,
        2_000_000,
        None,
    ),
    (
        "COIG",
        "COIG 中文开放指令集",
        "BAAI",
        ["text"],
        ["sft"],
        ["zh"],
        "Apache-2.0",
        700_000_000,
        191_191,
        None,
    ),
    (
        "MOSS-003-SFT",
        "MOSS-003 多轮对话",
        "Fudan University",
        ["text"],
        ["sft", "dialogue"],
        ["zh", "en"],
        "CC-BY-NC-4.0",
        6_000_000_000,
        1_100_000,
        None,
    ),
    (
        "C-Eval",
        "C-Eval 中文评测",
        "C-Eval Team",
        ["text"],
        ["evaluation"],
        ["zh"],
        "CC-BY-NC-SA-4.0",
        1_500_000,
        13_948,
        None,
    ),
    (
        "CMMLU",
        "CMMLU 中文多任务评测",
        "CMMLU Team",
        ["text"],
        ["evaluation"],
        ["zh"],
        "CC-BY-NC-4.0",
        1_800_000,
        11_528,
        None,
    ),
    (
        "GAOKAO-Bench",
        "高考评测集",
        "OpenLMLab",
        ["text"],
        ["evaluation"],
        ["zh"],
        "Apache-2.0",
        3_000_000,
        2_811,
        None,
    ),
    ("MMLU", "MMLU", "UC Berkeley", ["text"], ["evaluation"], ["en"], "MIT", 8_000_000, 15_908, None),
    (
        "GSM8K",
        "GSM8K 数学应用题",
        "OpenAI",
        ["text"],
        ["evaluation", "reasoning"],
        ["en"],
        "MIT",
        5_000_000,
        8_792,
        None,
    ),
    (
        "DocLayNet",
        "DocLayNet 文档版面",
        "IBM Research",
        ["image"],
        ["layout-analysis"],
        ["en"],
        "CC-BY-4.0",
        28_000_000_000,
        80_863,
        None,
    ),
    (
        "ShareGPT4V",
        "ShareGPT4V 图文描述",
        "Shanghai AI Laboratory",
        ["image", "text"],
        ["captioning", "sft"],
        ["en"],
        "CC-BY-NC-4.0",
        240_000_000_000,
        1_246_901,
        None,
    ),
    (
        "MMBench",
        "MMBench 多模态评测",
        "OpenCompass",
        ["image", "text"],
        ["evaluation"],
        ["zh", "en"],
        "Apache-2.0",
        3_500_000_000,
        3_217,
        None,
    ),
    (
        "OpenLane",
        "OpenLane 车道线",
        "Shanghai AI Laboratory",
        ["image"],
        ["lane-detection"],
        ["en"],
        "Apache-2.0",
        280_000_000_000,
        200_000,
        None,
    ),
)

_DOMAINS = (
    ("Medical", "医疗"),
    ("Legal", "法律"),
    ("Finance", "金融"),
    ("Education", "教育"),
    ("Manufacturing", "制造"),
    ("Automotive", "汽车"),
    ("Ecommerce", "电商"),
    ("Government", "政务"),
    ("Maritime", "航运"),
    ("Biomedicine", "生物医药"),
    ("Energy", "能源"),
    ("Retail", "零售"),
    ("Tourism", "文旅"),
    ("Gaming", "游戏"),
    ("Agriculture", "农业"),
    ("Logistics", "物流"),
)
# kind, kind_zh, modality, tasks, median file_bytes
_KINDS = (
    ("Dialogue", "对话语料", ["text"], ["dialogue", "sft"], 8e9),
    ("QA", "问答语料", ["text"], ["qa"], 3e9),
    ("OCR", "文档OCR", ["image", "text"], ["ocr", "document-parsing"], 60e9),
    ("Instruct", "指令微调", ["text"], ["sft"], 2e9),
    ("Speech", "语音", ["speech"], ["asr"], 40e9),
    ("Video", "视频", ["video"], ["video-understanding"], 400e9),
    ("ImageText", "图文对", ["image", "text"], ["captioning"], 120e9),
    ("Corpus", "领域预训练语料", ["text"], ["pretraining"], 300e9),
)


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


# Licence URLs as Croissant (schema.org) descriptions give them.
_LICENSE_URLS = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-NC-4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC-BY-NC-SA-4.0": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "Apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0",
    "MIT": "https://opensource.org/license/mit",
    "ODC-BY-1.0": "https://opendatacommons.org/licenses/by/1-0/",
}
CROISSANT_DATASETS = 12  # the first datasets of the catalogue also publish a Croissant description


def croissant_document(dataset: dict) -> bytes:
    """A Croissant 1.0 (MLCommons, JSON-LD) description of one catalogue dataset."""
    doc = {
        "@context": {
            "@language": "en",
            "@vocab": "https://schema.org/",
            "cr": "http://mlcommons.org/croissant/",
            "sc": "https://schema.org/",
        },
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "@id": dataset["id"],
        "identifier": dataset["id"],
        "name": dataset["name"],
        "alternateName": dataset["name_zh"],
        "description": f"{dataset['name']} ({', '.join(dataset['modality'])}), published on OpenDataLab.",
        "creator": {"@type": "sc:Organization", "name": dataset["publisher"]},
        "license": _LICENSE_URLS.get(dataset["license"], dataset["license"]),
        "url": f"https://opendatalab.com/{dataset['id']}",
        "version": dataset["version"],
        "dateModified": dataset["updated_at"],
        "inLanguage": dataset["languages"],
        "keywords": dataset["tasks"],
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": "archive",
                "name": f"{dataset['id']}.tar",
                "contentUrl": f"https://opendatalab.com/{dataset['id']}/download",
                "encodingFormat": "application/x-tar",
                "contentSize": f"{dataset['file_bytes']} B",
            }
        ],
    }
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


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
            int(rng.integers(len(_DOMAINS))),
            int(rng.integers(len(_KINDS))),
            str(rng.choice(["zh", "zh-en"])),
        )
        if key not in used:
            used.add(key)
            break
    (dom, dom_zh), (kind, kind_zh, modality, tasks, median), lang = _DOMAINS[key[0]], _KINDS[key[1]], key[2]
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
        "license": str(rng.choice(_LICENSES)),
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
    for i, (name, zh, pub, modality, tasks, langs, lic, size, rows, hours) in enumerate(_REAL, start=1):
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
            d["license"] = str(rng.choice(_LICENSES))
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
