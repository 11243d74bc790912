"""Draft a source spec from a sample file: format, encoding, delimiter, columns and suggested mappings."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from assets.ingest.readers import KV_LINE
from assets.ingest.targets import TARGETS

SAMPLE_BYTES = 1 << 20

# Canonical column -> lower-case fragments of raw column names that usually mean it (checked in order).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "tenant_id": ("subaccountid", "tenant", "customer", "account", "租户", "客户"),
    "job_id": ("job", "task", "pod", "作业", "任务"),
    "resource_id": ("resourceid", "resource", "instance", "资源", "实例"),
    "site_id": ("site", "regionid", "region", "cluster", "计算中心", "站点", "区域"),
    "chip": ("chipmodel", "gpu_type", "gpu_model", "gpu_spec", "accelerator", "chip", "芯片", "卡型"),
    "gpu_count": ("gpu_count", "gpucount", "num_gpu", "num_cards", "cards", "gpus", "卡数"),
    "gpu_hours": ("gpu_hours", "card_hours", "卡时", "consumedquantity"),
    "charge_period_start": ("chargeperiodstart", "start", "begin", "开始"),
    "charge_period_end": ("chargeperiodend", "end", "finish", "stop", "结束"),
    "billed_cost": ("billedcost", "billed", "payable", "amount", "cost", "应付", "实付", "金额"),
    "list_cost": ("listcost", "list", "原价"),
    "effective_cost": ("effectivecost",),
    "contracted_cost": ("contractedcost",),
    "dataset_id": ("dataset", "数据集"),
    "job_status": ("status", "state", "phase", "状态"),
    "billing_currency": ("billingcurrency", "currency", "币种"),
    "charge_category": ("chargecategory",),
}
TIME_COLUMNS = ("charge_period_start", "charge_period_end")
_DAY_PATTERNS = ((r"(\d{4}-\d{2}-\d{2})", "%Y-%m-%d"), (r"(20\d{6})", "%Y%m%d"))
_TIME_FORMATS = (
    (r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", "%Y-%m-%d %H:%M:%S"),
    (r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}$", "%Y/%m/%d %H:%M:%S"),
    (r"^\d{1,2}/\d{1,2}/\d{2}$", "%m/%d/%y"),
    (r"^\d{1,2}/\d{1,2}/\d{4}$", "%m/%d/%Y"),
    (r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}(:\d{2})?$", "%m/%d/%Y %H:%M"),
)


@dataclass
class SampleProfile:
    """What a sample file looks like."""

    format: str
    encoding: str = "utf-8"
    compression: str = "none"
    delimiter: str = ","
    columns: list[str] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)
    records_path: str | None = None


def _read_head(path: Path) -> tuple[bytes, bool]:
    raw = path.read_bytes()[:SAMPLE_BYTES]
    if raw[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as handle:
            return handle.read(SAMPLE_BYTES), True
    return raw, False


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="ignore"), "utf-8-sig"
    for encoding in ("utf-8", "gbk"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            if exc.start > len(data) - 4:  # a character cut at the end of the sample
                return data[: exc.start].decode(encoding), encoding
    return data.decode("latin-1"), "latin-1"


def profile_sample(path: Path) -> SampleProfile:
    """Detect format, encoding, compression, delimiter, columns and sample values of a file."""
    data, gz = _read_head(path)
    compression = "gzip" if gz else "none"
    if data[:4] == b"PAR1":
        table = pq.read_table(path).slice(0, 20)
        values = {
            c: [str(v) for v in table.column(c).to_pylist() if v is not None] for c in table.column_names
        }
        return SampleProfile("parquet", columns=table.column_names, values=values)
    text, encoding = _decode(data)
    lines = [line for line in text.splitlines() if line.strip()][:50]
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return _profile_json(text, lines, encoding, compression)
    if lines and sum(bool(re.match(KV_LINE, line)) for line in lines) >= 0.9 * len(lines):
        records = [dict(re.findall(r'([^\s=]+)=("[^"]*"|\S*)', line)) for line in lines]
        return _profile_records("kv", records, encoding, compression)
    dialect = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t|")
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=dialect.delimiter))
    columns = rows[0]
    values = {c: [r[i] for r in rows[1:] if i < len(r) and r[i]] for i, c in enumerate(columns)}
    return SampleProfile("csv", encoding, compression, dialect.delimiter, columns, values)


def _profile_json(text: str, lines: list[str], encoding: str, compression: str) -> SampleProfile:
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        records = [json.loads(line) for line in lines if line.startswith("{")]
        return _profile_records("jsonl", records, encoding, compression)
    path = None
    if isinstance(document, dict):
        lists = [k for k, v in document.items() if isinstance(v, list | dict) and v]
        if not lists:  # one flat object: a JSON-lines file with one record
            return _profile_records("jsonl", [document], encoding, compression)
        path = lists[0]
        document = document[path] if isinstance(document[path], list) else list(document[path].values())
    profile = _profile_records(
        "json", [r for r in document if isinstance(r, dict)][:50], encoding, compression
    )
    profile.records_path = path
    return profile


def _profile_records(fmt: str, records: list[dict], encoding: str, compression: str) -> SampleProfile:
    columns: list[str] = []
    for record in records:
        columns += [k for k in record if k not in columns]
    values = {c: [str(r[c]).strip('"') for r in records if r.get(c) not in (None, "")] for c in columns}
    return SampleProfile(fmt, encoding, compression, columns=columns, values=values)


def suggest_mappings(profile: SampleProfile, kind: str) -> dict[str, str]:
    """Canonical column -> raw column, by name (FOCUS names first, then common synonyms)."""
    wanted = list(TARGETS[kind].inputs)
    chosen: dict[str, str] = {}
    used: set[str] = set()
    normalised = {c: re.sub(r"[^0-9a-z\u4e00-\u9fff]", "", c.lower()) for c in profile.columns}
    for target in wanted:
        exact = [c for c, n in normalised.items() if n == target.replace("_", "") and c not in used]
        if exact:
            chosen[target] = exact[0]
            used.add(exact[0])
    for target, fragments in SYNONYMS.items():
        if target in chosen or target not in wanted:
            continue
        for fragment in fragments:
            hits = [c for c, n in normalised.items() if fragment.replace("_", "") in n and c not in used]
            if hits:
                chosen[target] = hits[0]
                used.add(hits[0])
                break
    return chosen


def _time_options(values: list[str]) -> dict[str, str]:
    sample = [v for v in values[:20] if v]
    if sample and all(re.fullmatch(r"\d{10}(\.\d+)?", v) for v in sample):
        return {"epoch": "s"}
    if sample and all(re.fullmatch(r"\d{13}", v) for v in sample):
        return {"epoch": "ms"}
    for pattern, fmt in _TIME_FORMATS:
        if sample and all(re.match(pattern, v) for v in sample):
            return {"format": fmt}
    return {}


def _yaml_scalar(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def draft_spec(name: str, sample: Path, kind: str = "usage", landing_dir: str | None = None) -> str:
    """A commented YAML spec draft for a sample file; `sources check` then says what is left to do."""
    profile = profile_sample(sample)
    mappings = suggest_mappings(profile, kind)
    folder = landing_dir or f"providers/{name}"
    stem_glob = re.sub(r"\d{4}-\d{2}-\d{2}|20\d{6}", "*", sample.name)
    lines = [
        f"# Draft spec for {sample.name}: review every line, then run `computeflow sources check` on this file.",
        f"name: {name}",
        f"kind: {kind}",
    ]
    if kind == "usage":
        lines.append(f"provider_id: {name}  # must exist in ref.providers (landing reference/providers.csv)")
    lines += ["landing:", f"  glob: {_yaml_scalar(folder + '/' + stem_glob)}"]
    for regex, fmt in _DAY_PATTERNS:
        match = re.search(regex, sample.name)
        if match:
            lines.append(f"  partition: {{regex: {_yaml_scalar(regex)}, format: {_yaml_scalar(fmt)}}}")
            break
    fmt_parts = [f"type: {profile.format}", f"encoding: {profile.encoding}"]
    if profile.compression != "none":
        fmt_parts.append(f"compression: {profile.compression}")
    if profile.format == "csv":
        fmt_parts.append(f"delimiter: {_yaml_scalar(profile.delimiter)}")
    if profile.records_path:
        fmt_parts.append(f"records_path: {_yaml_scalar(profile.records_path)}")
    lines.append("format: {" + ", ".join(fmt_parts) + "}")
    time_values = [v for t in TIME_COLUMNS if t in mappings for v in profile.values.get(mappings[t], [])]
    naive = time_values and not any(re.search(r"(Z|[+-]\d{2}:?\d{2})$", v) for v in time_values)
    lines.append(
        f"timezone: {'Asia/Shanghai' if naive else 'UTC'}  # the zone of times written without an offset"
    )
    lines += ["currency: CNY  # currency of amounts when the file does not say", "columns:"]
    for target in TARGETS[kind].inputs:
        if target not in mappings:
            continue
        raw = mappings[target]
        options = _time_options(profile.values.get(raw, [])) if target in TIME_COLUMNS else {}
        if options:
            extra = ", ".join(f"{k}: {_yaml_scalar(v)}" for k, v in options.items())
            lines.append(f"  {target}: {{column: {_yaml_scalar(raw)}, {extra}}}")
        else:
            lines.append(f"  {target}: {_yaml_scalar(raw)}")
    for target in TARGETS[kind].required:
        if target not in mappings:
            lines.append(f"  # TODO {target}: no column found for this required field")
    unused = [c for c in profile.columns if c not in mappings.values()]
    if unused and profile.format in ("csv", "parquet"):
        lines.append("ignore_columns: [" + ", ".join(_yaml_scalar(c) for c in unused) + "]")
    lines.append(
        "dedup_keys: []  # columns that identify one charge line, e.g. [job_id, charge_period_start]"
    )
    return "\n".join(lines) + "\n"
