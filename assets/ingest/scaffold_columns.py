"""Propose the columns of a spec draft: raw columns recognised by name, then by what their values hold."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from assets.ingest.expressions import referenced_names
from assets.ingest.scaffold_values import (
    OFFSET,
    expr_name,
    is_iso_time,
    looks_like_statuses,
    looks_like_times,
    money_format,
    numbers,
    scaled,
    status_map,
    time_options,
)
from assets.ingest.targets import MONEY, TARGETS

# Canonical column -> fragments of raw column names that usually mean it, checked in order (lower case;
# underscores do not count).
SYNONYMS: dict[str, str] = {
    "tenant_id": "subaccountid tenant customer account organization organisation project 租户 客户 账户 账号 项目",
    "job_id": "job task pod 作业 任务 request",
    "resource_id": "resourceid resource instance 资源 实例",
    "site_id": "site regionid region cluster 计算中心 站点 区域",
    "chip": "chipmodel gpu_type gpu_model gpu_spec accelerator chip 芯片 卡型",
    "gpu_count": "gpu_count gpucount num_gpu num_cards cards gpus 卡数",
    "gpu_hours": "gpu_hours card_hours 卡时 consumedquantity",
    "job_submit_time": "submit creation queued 提交",
    "charge_period_start": "chargeperiodstart start begin scheduled 开始 created timestamp",
    "charge_period_end": "chargeperiodend end finish stop deletion 结束",
    "start_time": "start begin 开始",
    "end_time": "end finish stop 结束",
    "transfer_id": "transfer task job request",
    "bytes": "bytes size 字节",
    "billed_cost": "billedcost billed payable amount cost 应付 实付 金额",
    "cost": "cost amount fee charge 费用 金额",
    "list_cost": "listcost list 原价",
    "effective_cost": "effectivecost",
    "contracted_cost": "contractedcost",
    "dataset_id": "dataset 数据集",
    "job_status": "status state phase result 状态 结果",
    "status": "status state result 状态 结果",
    "billing_currency": "billingcurrency currency 币种",
    "currency": "currency 币种",
    "charge_category": "chargecategory",
}
_NAME_SUFFIX = r"(id|ids|name|no|code|time|ts|at|date|编号|名称|号|时间|日期)$"
_DURATION = ("duration", "runtime", "elapsed", "wall", "latency", "时长", "耗时")
_DURATION_UNITS = (
    (r"(ms|millis\w*|毫秒)$", 0.001),
    (r"(_min|mins|minutes?|分钟)$", 60.0),
    (r"(_h|hrs?|hours?|小时)$", 3600.0),
)
_NOT_A_GPU_COUNT = ("type", "model", "spec", "hour", "util", "mem", "name", "id")
_MODEL_NAMES = ("model", "modelname", "modelid", "llm", "模型")
_TOKEN_LINES = (("cache", "cached_tokens"), ("reasoning", "reasoning_tokens"), ("prompt", "input_tokens"))
_TOKEN_LINES += (("input", "input_tokens"), ("completion", "output_tokens"), ("output", "output_tokens"))
_TOKEN_LINES += (("context", "input_tokens"), ("generated", "output_tokens"), ("response", "output_tokens"))
REQUEST_TIME = "requested_at"  # the named value of a request log's one time
_MONEY_TARGET = {"usage": "billed_cost", "transfers": "cost", "vouchers": "face_value"}
_CURRENCY_TARGET = {"usage": "billing_currency", "transfers": "currency", "vouchers": "currency"}
_STATUS_TARGET = {"usage": "job_status", "transfers": "status"}
_STATUSES = {"usage": "succeeded, failed, cancelled or running", "transfers": "completed or failed"}
NAIVE_ZONE, NAIVE_OFFSET = "Asia/Shanghai", "+08:00"


@dataclass
class Proposal:
    """How one canonical column could be read: a raw column or ColumnMap fields, a note, commented or not."""

    mapping: str | dict[str, Any]
    note: str = ""
    live: bool = True

    def raw_columns(self) -> set[str]:
        """Raw columns the mapping reads."""
        if isinstance(self.mapping, str):
            return {self.mapping}
        if "expr" in self.mapping:
            return referenced_names(self.mapping["expr"])
        return {self.mapping["column"]} if "column" in self.mapping else set()


@dataclass
class ColumnDraft:
    """Proposed column mappings of a sample, and the file-wide guesses that go with them."""

    columns: dict[str, Proposal] = field(default_factory=dict)
    timezone: tuple[str, str] = ("UTC", "TODO confirm: the zone of times written without an offset")
    currency: tuple[str, str] = ("CNY", "TODO confirm: the currency of amounts when the file does not say")
    token_lines: list[tuple[str, str]] = field(default_factory=list)
    values: dict[str, Proposal] = field(default_factory=dict)  # named values the columns read

    def used(self) -> set[str]:
        """Raw columns some proposal, named value or token line reads."""
        proposals = [*self.columns.values(), *self.values.values()]
        read = {c for p in proposals for c in p.raw_columns()} - set(self.values)
        return read | {c for _, c in self.token_lines}


def suggest_mappings(columns: list[str], kind: str) -> dict[str, str]:
    """Canonical column -> raw column, by name: FOCUS names first, then synonyms that end a name (`pod_phase` is
    a status, `start_time` a start), then synonyms anywhere in it."""
    wanted = list(TARGETS[kind].inputs)
    chosen: dict[str, str] = {}
    normalised = {c: _normal(c) for c in columns}
    for target in wanted:
        exact = [c for c, n in normalised.items() if n == _normal(target) and c not in chosen.values()]
        if exact:
            chosen[target] = exact[0]
    heads = {c: re.sub(_NAME_SUFFIX, "", n) or n for c, n in normalised.items()}
    for matches in (str.endswith, str.__contains__):
        for target, fragments in SYNONYMS.items():
            if target in chosen or target not in wanted:
                continue
            for fragment in map(_normal, fragments.split()):
                hits = [c for c, h in heads.items() if matches(h, fragment) and c not in chosen.values()]
                if hits:
                    chosen[target] = hits[0]
                    break
    return chosen


def draft_columns(columns: list[str], values: dict[str, list[str]], kind: str) -> ColumnDraft:
    """Mappings for a sample's columns: names first, then content (times, GPUs, money, statuses, tokens)."""
    draft = ColumnDraft({t: Proposal(c) for t, c in suggest_mappings(columns, kind).items()})
    free = [c for c in columns if c not in draft.used()]
    _times(draft, kind, values, free)
    _money(draft, kind, values, free)
    _currency_column(draft, kind, values, free)
    if kind == "usage":
        _gpus(draft, values, free)
        _tokens(draft, values, free)
    _status(draft, kind, values, free)
    _durations(draft, kind, values, free)
    if draft.token_lines or "consumed_quantity" in draft.columns:
        _hourly(draft)
    return draft


def _normal(name: str) -> str:
    return re.sub(r"[^0-9a-z\u4e00-\u9fff]", "", name.lower())


def _take(free: list[str], column: str) -> str:
    free.remove(column)
    return column


def _times(draft: ColumnDraft, kind: str, values: dict[str, list[str]], free: list[str]) -> None:
    """Time columns: found by content when names do not say, read with the options their values need."""
    types = TARGETS[kind].inputs
    interval = TARGETS[kind].interval
    for target in interval if interval and types[interval[0]] == "TIMESTAMPTZ" else ():
        found = next((c for c in free if looks_like_times(values.get(c, []))), None)
        if found and target not in draft.columns:
            draft.columns[target] = Proposal(_take(free, found), "found by its values: confirm")
    texts = []
    for target, proposal in draft.columns.items():
        if types[target] not in ("TIMESTAMPTZ", "DATE") or not isinstance(proposal.mapping, str):
            continue
        sample = values.get(proposal.mapping, [])
        options, note = time_options(sample)
        if types[target] == "DATE":
            options = {k: v for k, v in options.items() if k == "format"}
        if options:
            proposal.mapping, proposal.note = {"column": proposal.mapping, **options}, note or proposal.note
        if types[target] == "TIMESTAMPTZ" and not numbers(sample):
            texts += sample
    if any(re.search(OFFSET, v.strip()) for v in texts):
        draft.timezone = ("UTC", "times carry their offset; this zone is for any written without one")
    elif texts:
        draft.timezone = (
            NAIVE_ZONE,
            "TODO confirm: the zone of the times, which are written without an offset",
        )


def _money(draft: ColumnDraft, kind: str, values: dict[str, list[str]], free: list[str]) -> None:
    """Amounts with currency signs or separators, read with an expression or `thousands`; currency from signs."""
    target = _MONEY_TARGET.get(kind)
    if target and target not in draft.columns:
        signed = [c for c in free if (f := money_format(values.get(c, []))) and f.signs]
        if signed:
            draft.columns[target] = Proposal(_take(free, signed[0]), "found by its currency sign: confirm")
    for name, proposal in draft.columns.items():
        if TARGETS[kind].inputs[name] != MONEY or not isinstance(proposal.mapping, str):
            continue
        column = proposal.mapping
        written = money_format(values.get(column, []))
        if written and not written.plain:
            proposal.mapping = written.mapping(column)
        code = (written.currency if written else None) or _currency_in_name(column)
        if code and written and "¥" in written.signs:
            draft.currency = (code, f"TODO confirm: {column} is written with ¥, which is also the yen sign")
        elif code:
            draft.currency = (code, f"as the amounts of {column} say")


def _currency_in_name(column: str) -> str | None:
    for hint, code in (("元", "CNY"), ("rmb", "CNY"), ("cny", "CNY"), ("usd", "USD"), ("eur", "EUR")):
        if hint in column.lower():
            return code
    return None


def _currency_column(draft: ColumnDraft, kind: str, values: dict[str, list[str]], free: list[str]) -> None:
    target = _CURRENCY_TARGET.get(kind)
    if not target or target in draft.columns:
        return
    for column in free:
        sample = {v.strip() for v in values.get(column, [])}
        if sample and all(re.fullmatch(r"[A-Z]{3}", v) for v in sample) and sample & {"CNY", "USD", "EUR"}:
            draft.columns[target] = Proposal(_take(free, column), "found by its values")
            return


def _status(draft: ColumnDraft, kind: str, values: dict[str, list[str]], free: list[str]) -> None:
    """A status column (by name or by its words), its values mapped to the canonical statuses."""
    target = _STATUS_TARGET.get(kind)
    if not target:
        return
    if target not in draft.columns:
        found = next((c for c in free if looks_like_statuses(values.get(c, []))), None)
        if not found:
            return
        draft.columns[target] = Proposal(_take(free, found), "found by its values")
    proposal = draft.columns[target]
    if not isinstance(proposal.mapping, str):
        return
    mapped, unknown = status_map(values.get(proposal.mapping, []), kind)
    if not mapped and unknown:
        proposal.note = f"TODO map its values ({', '.join(unknown)}) to {_STATUSES[kind]}"
    elif any(k != v for k, v in mapped.items()) or unknown:
        proposal.mapping = {"column": proposal.mapping, "map": mapped}
        if unknown:
            proposal.note = f"TODO map {', '.join(unknown)} (values not mapped are quarantined)"


def _gpus(draft: ColumnDraft, values: dict[str, list[str]], free: list[str]) -> None:
    """GPU counts written in thousandths (milli-GPUs) or hundredths, times a whole-GPU count when there is one."""
    named = draft.columns.get("gpu_count")
    whole = named.mapping if named and isinstance(named.mapping, str) else None
    candidates = ([whole] if whole else []) + [c for c in free if _is_gpu_name(c)]
    for column in candidates:
        found = numbers(values.get(column, [])) or []
        milli = "milli" in column.lower()
        if not (milli or _fractional(found)):
            continue
        divisor = 1000 if milli or Counter(found).most_common(1)[0][0] != 100 else 100
        share = f"{column}/{divisor} of a GPU"
        note = share if milli else f"TODO confirm the unit: {share} (values in 1/{divisor} of a GPU)"
        expr = f"{expr_name(column)} / {divisor}"
        if whole and column != whole:
            expr, note = f"{expr_name(whole)} * {expr}", f"{whole} GPUs, each {note}"
        draft.columns["gpu_count"] = Proposal({"expr": expr}, note)
        if column in free:
            free.remove(column)
        return


def _is_gpu_name(column: str) -> bool:
    name = column.lower()
    return ("gpu" in name or "卡" in name) and not any(w in name for w in _NOT_A_GPU_COUNT)


def _fractional(found: list[float]) -> bool:
    """Whole numbers that count parts of a GPU: some above 50 that no card count would be (not multiples of 8)."""
    whole = all(n == int(n) for n in found)
    return bool(found) and whole and max(found) >= 100 and any(n >= 50 and n % 8 for n in found)


def _tokens(draft: ColumnDraft, values: dict[str, list[str]], free: list[str]) -> None:
    """Token counts: one line per kind of token (input, output...), metered in tokens and priced per million."""
    counts = [c for c in free if "token" in c.lower() and numbers(values.get(c, []))]
    parts = [c for c in counts if "total" not in c.lower()] or counts
    if not parts:
        return
    lines: list[tuple[str, str]] = []
    for column in parts:
        name = _token_line(column)
        lines.append((_normal(column) if name in dict(lines) else name, column))
    draft.columns["consumed_unit"] = Proposal({"const": "Tokens"})
    draft.columns["pricing_unit"] = Proposal({"const": "1000000 Tokens"})
    if len(lines) == 1:
        draft.columns["consumed_quantity"] = Proposal(_take(free, lines[0][1]))
    else:
        draft.token_lines = lines
        for _, column in lines:
            free.remove(column)
    model = next((c for c in free if _normal(c) in _MODEL_NAMES), None)
    if model:
        draft.columns["model_id"] = Proposal(_take(free, model))


def _hourly(draft: ColumnDraft) -> None:
    """A token log with one time and no end or duration: each request is charged in the hour it was made, the
    time read once as a named value (in the spec's zone)."""
    start = draft.columns.get("charge_period_start")
    if start is None or "charge_period_end" in draft.columns:
        return
    mapping = start.mapping if isinstance(start.mapping, dict) else {"column": start.mapping}
    if "column" not in mapping:
        return
    draft.values[REQUEST_TIME] = Proposal({**mapping, "type": "timestamp"}, "the time of each request")
    hour = f"truncate({REQUEST_TIME}, 'hour')"
    draft.columns["charge_period_start"] = Proposal(
        {"expr": hour}, "TODO confirm: a request is charged in its hour"
    )
    draft.columns["charge_period_end"] = Proposal({"expr": f"add_seconds({hour}, 3600)"})


def _token_line(column: str) -> str:
    name = column.lower()
    return next((line for word, line in _TOKEN_LINES if word in name), _normal(column))


def _durations(draft: ColumnDraft, kind: str, values: dict[str, list[str]], free: list[str]) -> None:
    """A duration column gives GPU-hours with a GPU count, and the end of a charge that has only a start."""
    found = next(
        (c for c in free if any(w in _normal(c) for w in _DURATION) and numbers(values.get(c, []))), None
    )
    if not found:
        return
    factor = next((f for p, f in _DURATION_UNITS if re.search(p, found.lower())), 1.0)
    seconds = scaled(expr_name(found), factor)
    gpus = draft.columns.get("gpu_count")
    if gpus and "gpu_hours" not in draft.columns:
        count = gpus.mapping["expr"] if isinstance(gpus.mapping, dict) else expr_name(gpus.mapping)
        draft.columns["gpu_hours"] = Proposal({"expr": f"{count} * {seconds} / 3600"}, f"GPUs times {found}")
    interval = TARGETS[kind].interval
    if interval and TARGETS[kind].inputs[interval[0]] == "TIMESTAMPTZ":
        start, end = interval
        if start in draft.columns and end not in draft.columns:
            draft.columns[end] = _end_of(draft.columns[start], found, factor, values, draft.timezone[0])
    free.remove(found)


def _end_of(
    start: Proposal, duration: str, factor: float, values: dict[str, list[str]], zone: str
) -> Proposal:
    """The end of a charge: its start plus a duration (`factor` seconds per unit of the duration); a start
    without an offset is read in `zone`."""
    seconds = scaled(expr_name(duration), factor)
    if isinstance(start.mapping, dict) and "epoch" in start.mapping:
        per_unit = {"s": 1.0, "ms": 0.001, "us": 0.000001}[start.mapping["epoch"]]
        added = scaled(expr_name(duration), factor / per_unit)
        fields = {k: v for k, v in start.mapping.items() if k in ("epoch", "origin")}
        return Proposal({"expr": f"{expr_name(start.mapping['column'])} + {added}", **fields}, start.note)
    column = start.mapping if isinstance(start.mapping, str) else start.mapping["column"]
    sample = values.get(column, [])
    if not is_iso_time(sample):
        note = f"TODO the start is not an ISO time: add {duration} to it once it is"
        return Proposal({"expr": f"add_seconds({expr_name(column)}, {seconds})"}, note, live=False)
    if zone == "UTC" or any(re.search(OFFSET, v.strip()) for v in sample):
        return Proposal({"expr": f"add_seconds({expr_name(column)}, {seconds})"})
    note = f"TODO {NAIVE_OFFSET} is the offset of timezone {NAIVE_ZONE}: change both together"
    start_text = f"concat({expr_name(column)}, {NAIVE_OFFSET!r})"
    return Proposal({"expr": f"add_seconds({start_text}, {seconds})"}, note)
