"""Per-provider formatting of the shared charge lines into the files each provider drops."""

from __future__ import annotations

import datetime as dt
import gzip
import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .defects import ALL_KINDS, MISSING_REQUIRED, NEGATIVE_QUANTITY, UNPARSABLE, assign_defects, defect_counts
from .ecosystem import SITE_IDS, SITE_ZH
from .formats import fixed, iso_utc, local_time, lookup
from .jobs import STATUS_DONE, STATUS_FAILED, STATUS_RUNNING
from .profiles import FeedProfile
from .seeds import rng_for
from .tenants import TENANT_IDS, tenants_frame
from .writers import csv_text

DEFECT = pl.col("defect")
_SITE_CODE = {"lingang": "LG", "qingpu": "QP", "songjiang": "SJ", "xuhui": "XH"}


@dataclass(frozen=True)
class FeedFile:
    """One rendered usage file."""

    path: str
    data: bytes
    rows: int
    bad_rows: dict[str, int]


@dataclass(frozen=True)
class Feed:
    """How one provider names and formats its daily file."""

    path: Callable[[dt.date], str]
    render: Callable[[pl.DataFrame, dt.date], bytes]
    kinds: tuple[int, ...] = ALL_KINDS
    expand: Callable[[pl.DataFrame, np.random.Generator], pl.DataFrame] | None = None


def _status(done: str, failed: str, running: str) -> pl.Expr:
    return pl.col("status").replace_strict(
        {STATUS_DONE: done, STATUS_FAILED: failed, STATUS_RUNNING: running}, return_dtype=pl.String
    )


def _by_site(mapping: dict[str, str]) -> pl.Expr:
    return lookup([mapping.get(s, s) for s in SITE_IDS], pl.col("site"))


def _job_id(prefix: str) -> pl.Expr:
    return pl.concat_str([pl.lit(prefix), pl.col("job_key").cast(pl.String)])


def _bad_number(
    value: pl.Expr, negative: pl.Expr | None = None, garbage: tuple[str, str] = ("N/A", "abc")
) -> pl.Expr:
    """Numeric text with the row's defect applied: garbage when unparsable, `negative` when negative."""
    junk = pl.when(pl.col("job_key") % 2 == 0).then(pl.lit(garbage[0])).otherwise(pl.lit(garbage[1]))
    expr = pl.when(DEFECT == UNPARSABLE).then(junk)
    if negative is not None:
        expr = expr.when(DEFECT == NEGATIVE_QUANTITY).then(negative)
    return expr.otherwise(value)


def _tenant(missing: str | None = "") -> pl.Expr:
    return (
        pl.when(DEFECT == MISSING_REQUIRED)
        .then(pl.lit(missing, dtype=pl.String))
        .otherwise(pl.col("tenant_id"))
    )


def enrich(lines: pl.DataFrame, profile: FeedProfile, dataset_ids: list[str]) -> pl.DataFrame:
    """Add the identifiers and exact quantities every feed shares (integer units, rounded once)."""
    card_seconds = pl.col("cards").cast(pl.Int64) * (pl.col("seg_end") - pl.col("seg_start"))
    return lines.with_columns(
        tenant_id=lookup(TENANT_IDS, pl.col("tenant")),
        site_id=lookup(SITE_IDS, pl.col("site")),
        chip_alias=lookup([c.alias for c in profile.chips], pl.col("chip")),
        chip_model=lookup(list(profile.chip_models), pl.col("chip")),
        dataset_id=lookup(dataset_ids, pl.col("dataset")),
        card_seconds=card_seconds,
    ).with_columns(
        card_hours_e4=(pl.col("card_seconds") * 10_000 + 1800) // 3600,  # 1e-4 card-hours
        list_e4=(pl.col("card_seconds") * pl.col("list_price") / 0.36).round().cast(pl.Int64),  # 1e-4 CNY
        billed_e4=(pl.col("card_seconds") * pl.col("unit_price") / 0.36).round().cast(pl.Int64),
        list_fen=(pl.col("card_seconds") * pl.col("list_price") / 36).round().cast(pl.Int64),
        billed_fen=(pl.col("card_seconds") * pl.col("unit_price") / 36).round().cast(pl.Int64),
    )


def render_feed(
    feed: Feed,
    profile: FeedProfile,
    lines: pl.DataFrame,
    seed: int,
    day: int,
    date: dt.date,
    dataset_ids: list[str],
) -> FeedFile:
    """Enrich, corrupt a few rows deterministically and format one provider-day file."""
    rng = rng_for(seed, f"{profile.provider_id}:defects", day)
    frame = enrich(lines, profile, dataset_ids)
    if feed.expand is not None:
        frame = feed.expand(frame, rng)
    eligible = ~frame["is_credit"].to_numpy() if "is_credit" in frame.columns else None
    codes = assign_defects(rng, frame.height, feed.kinds, eligible)
    frame = frame.with_columns(defect=pl.Series(codes, dtype=pl.Int8))
    return FeedFile(feed.path(date), feed.render(frame, date), frame.height, defect_counts(codes))


# --- China Telecom: GBK CSV with Chinese headers and CRLF -------------------------------------------------
def _telecom(f: pl.DataFrame, date: dt.date) -> bytes:
    fen, billed_fen = pl.col("list_fen"), pl.col("billed_fen")
    out = f.select(
        pl.lit(date.isoformat()).alias("账单日期"),
        _tenant("").alias("租户编号"),
        _job_id("TJ").alias("作业编号"),
        pl.concat_str(
            [pl.lit("CT-"), _by_site(_SITE_CODE), pl.lit("-N"), pl.col("node").cast(pl.String).str.zfill(5)]
        ).alias("资源编号"),
        _by_site(SITE_ZH).alias("计算中心"),
        pl.col("chip_alias").alias("芯片型号"),
        _bad_number(pl.col("cards").cast(pl.String)).alias("卡数"),
        local_time(pl.col("seg_start")).alias("开始时间"),
        local_time(pl.col("seg_end")).alias("结束时间"),
        fixed(
            pl.when(DEFECT == NEGATIVE_QUANTITY)
            .then(-pl.col("card_hours_e4"))
            .otherwise(pl.col("card_hours_e4")),
            4,
        ).alias("计费时长(卡时)"),
        fixed((pl.col("list_price") * 100).round().cast(pl.Int64), 2).alias("单价(元/卡时)"),
        fixed(fen, 2).alias("原价金额(元)"),
        fixed(fen - billed_fen, 2).alias("优惠金额(元)"),
        fixed(billed_fen, 2).alias("应付金额(元)"),
        pl.col("dataset_id").alias("数据集编号"),
        _status("已完成", "失败", "运行中").alias("作业状态"),
    )
    return csv_text(out, line_terminator="\r\n").encode("gbk")


# --- Infinigence: JSON lines ----------------------------------------------------------------------------
def _quoted(expr: pl.Expr) -> pl.Expr:
    return (
        pl.when(expr.is_null())
        .then(pl.lit("null"))
        .otherwise(pl.concat_str([pl.lit('"'), expr, pl.lit('"')]))
    )


def _infinigence(f: pl.DataFrame, date: dt.date) -> bytes:
    cards = pl.col("cards").cast(pl.String)
    line = pl.concat_str(
        [
            pl.lit('{"job_id":"'),
            _job_id("inf-"),
            pl.lit('","tenant_id":'),
            _quoted(_tenant(None)),
            pl.lit(',"cluster":"'),
            _by_site({"qingpu": "qingpu-hetero-1", "lingang": "lingang-hetero-2"}),
            pl.lit('","site":"'),
            pl.col("site_id"),
            pl.lit('","accelerator":"'),
            pl.col("chip_alias"),
            pl.lit('","num_cards":'),
            _bad_number(cards, pl.concat_str([pl.lit("-"), cards]), ('"N/A"', '"abc"')),
            pl.lit(',"start_ts":'),
            pl.col("seg_start").cast(pl.String),
            pl.lit(',"end_ts":'),
            pl.col("seg_end").cast(pl.String),
            pl.lit(',"status":"'),
            _status("SUCCEEDED", "FAILED", "RUNNING"),
            pl.lit('","amount_fen":'),
            pl.col("billed_fen").cast(pl.String),
            pl.lit(',"list_amount_fen":'),
            pl.col("list_fen").cast(pl.String),
            pl.lit(',"dataset_id":'),
            _quoted(pl.col("dataset_id")),
            pl.lit("}"),
        ]
    )
    return _text_lines(f.select(line.alias("line"))).encode("utf-8")


def _text_lines(frame: pl.DataFrame) -> str:
    return csv_text(frame, include_header=False, quote_style="never")


# --- Volcano Engine: hourly parquet ---------------------------------------------------------------------
VOLCANO_SCHEMA = pa.schema(
    [
        ("hour_start", pa.timestamp("us", tz="UTC")),
        ("account_id", pa.string()),
        ("instance_id", pa.string()),
        ("job_tag", pa.string()),
        ("region", pa.string()),
        ("gpu_type", pa.string()),
        ("gpu_count", pa.int32()),
        ("usage_seconds", pa.int32()),
        ("list_price_per_gpu_hour", pa.float64()),
        ("discount_rate", pa.float64()),
        ("billed_amount", pa.float64()),
        ("dataset_tag", pa.string()),
    ]
)


def _volcano(f: pl.DataFrame, date: dt.date) -> bytes:
    seconds = pl.col("seg_end") - pl.col("seg_start")
    out = f.select(
        hour_start=pl.from_epoch((pl.col("seg_start") // 3600) * 3600, time_unit="s")
        .dt.cast_time_unit("us")
        .dt.replace_time_zone("UTC"),
        account_id=_tenant(None),
        instance_id=pl.concat_str([pl.lit("i-"), pl.col("job_key").cast(pl.String)]),
        job_tag=_job_id("vej-"),
        region=_by_site({"lingang": "cn-shanghai-lingang", "qingpu": "cn-shanghai-qingpu"}),
        gpu_type=pl.col("chip_alias"),
        gpu_count=pl.col("cards").cast(pl.Int32),
        usage_seconds=pl.when(DEFECT == NEGATIVE_QUANTITY).then(-seconds).otherwise(seconds).cast(pl.Int32),
        list_price_per_gpu_hour=pl.col("list_price"),
        discount_rate=pl.col("discount").round(4),
        billed_amount=(
            pl.col("cards") * seconds / 3600 * pl.col("list_price") * (1 - pl.col("discount"))
        ).round(4),
        dataset_tag=pl.col("dataset_id"),
    )
    table = out.to_arrow().cast(VOLCANO_SCHEMA)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=1 << 20)
    return buffer.getvalue()


# --- China Unicom: FOCUS 1.2 CSV with BOM -----------------------------------------------------------------
_SKU = {"A100": "a100", "H800": "h800", "Ascend910B": "910b"}


def _unicom_credits(f: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """About one row in 500 gets a service credit line next to it."""
    credited = rng.random(f.height) < 1 / 500
    credits = f.filter(pl.Series(credited)).with_columns(is_credit=pl.lit(True))
    return pl.concat([f.with_columns(is_credit=pl.lit(False)), credits]).sort(
        ["seg_start", "job_key", "is_credit"]
    )


def _unicom(f: pl.DataFrame, date: dt.date) -> bytes:
    credit = pl.col("is_credit")
    month = date.replace(day=1)
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    zero = pl.lit(0, dtype=pl.Int64)
    billed = (
        pl.when(credit)
        .then(-(pl.col("billed_e4") / 10).round().cast(pl.Int64))
        .otherwise(pl.col("billed_e4"))
    )
    quantity = pl.when(credit).then(zero).otherwise(pl.col("card_hours_e4"))
    names = tenants_frame().select("tenant_id", "tenant_name")
    f = f.join(names, on="tenant_id", how="left", maintain_order="left")
    missing = DEFECT == MISSING_REQUIRED
    out = f.select(
        BillingAccountId=pl.lit("CU-SH-MSS-0001"),
        BillingAccountName=pl.lit("ModelSpeed Space Compute Pool"),
        BillingCurrency=pl.lit("CNY"),
        BillingPeriodStart=pl.lit(_utc_midnight_text(month)),
        BillingPeriodEnd=pl.lit(_utc_midnight_text(next_month)),
        ChargePeriodStart=iso_utc(pl.col("seg_start")),
        ChargePeriodEnd=iso_utc(pl.col("seg_end")),
        ChargeCategory=pl.when(credit).then(pl.lit("Credit")).otherwise(pl.lit("Usage")),
        ChargeClass=pl.lit(None, dtype=pl.String),
        ChargeDescription=pl.when(credit)
        .then(pl.concat_str([pl.lit("Service credit for job "), _job_id("UJ")]))
        .otherwise(
            pl.concat_str(
                [pl.lit("GPU compute "), pl.col("chip_model"), pl.lit(" x"), pl.col("cards").cast(pl.String)]
            )
        ),
        ChargeFrequency=pl.when(credit).then(pl.lit("One-Time")).otherwise(pl.lit("Usage-Based")),
        BilledCost=fixed(billed, 4),
        EffectiveCost=fixed(billed, 4),
        ListCost=fixed(pl.when(credit).then(billed).otherwise(pl.col("list_e4")), 4),
        ContractedCost=fixed(billed, 4),
        ConsumedQuantity=_bad_number(fixed(quantity, 4), fixed(-quantity, 4)),
        ConsumedUnit=pl.lit("GPU-Hour"),
        PricingQuantity=fixed(quantity, 4),
        PricingUnit=pl.lit("GPU-Hour"),
        ProviderName=pl.lit("China Unicom"),
        PublisherName=pl.lit("China Unicom"),
        InvoiceIssuerName=pl.lit("China Unicom Shanghai"),
        ServiceCategory=pl.lit("AI and Machine Learning"),
        ServiceName=pl.lit("Unicom AI Compute"),
        RegionId=pl.col("site_id"),
        ResourceId=pl.concat_str(
            [pl.lit("cu-"), pl.col("site_id"), pl.lit("-n"), pl.col("node").cast(pl.String)]
        ),
        SkuId=pl.concat_str(
            [
                pl.lit("gpu."),
                pl.col("chip_model").replace_strict(_SKU, return_dtype=pl.String),
                pl.lit(".x"),
                pl.col("cards").cast(pl.String),
            ]
        ),
        SubAccountId=_tenant(""),
        SubAccountName=pl.when(missing).then(pl.lit("")).otherwise(pl.col("tenant_name")),
        x_ChipModel=pl.col("chip_alias"),
        x_GpuCount=pl.col("cards"),
        x_JobId=_job_id("UJ"),
        x_JobStatus=_status("Succeeded", "Failed", "Running"),
        x_DatasetId=pl.col("dataset_id"),
    )
    return ("\ufeff" + csv_text(out)).encode("utf-8")


def _utc_midnight_text(local_date: dt.date) -> str:
    """Shanghai midnight of `local_date` as ISO UTC."""
    moment = dt.datetime.combine(local_date, dt.time()) - dt.timedelta(hours=8)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- China Mobile: gzipped key=value log ------------------------------------------------------------------
def _mobile(f: pl.DataFrame, date: dt.date) -> bytes:
    iso_local = "%Y-%m-%dT%H:%M:%S+08:00"
    cards = pl.col("cards").cast(pl.String)
    line = pl.concat_str(
        [
            pl.lit("ts_start="),
            local_time(pl.col("seg_start"), iso_local),
            pl.lit(" ts_end="),
            local_time(pl.col("seg_end"), iso_local),
            pl.when(DEFECT == MISSING_REQUIRED)
            .then(None)
            .otherwise(pl.concat_str([pl.lit(" tenant="), pl.col("tenant_id")])),
            pl.lit(" job="),
            _job_id("MJ-"),
            pl.lit(" site="),
            pl.col("site_id"),
            pl.lit(" chip="),
            pl.col("chip_alias"),
            pl.lit(" cards="),
            _bad_number(cards, pl.concat_str([pl.lit("-"), cards])),
            pl.lit(" gpu_seconds="),
            pl.col("card_seconds").cast(pl.String),
            pl.lit(" amount_cny="),
            fixed(pl.col("billed_e4"), 4),
            pl.lit(" list_cny="),
            fixed(pl.col("list_e4"), 4),
            pl.lit(" status="),
            _status("done", "failed", "running"),
            pl.concat_str([pl.lit(" dataset="), pl.col("dataset_id")]),
        ],
        ignore_nulls=True,
    )
    return gzip.compress(_text_lines(f.select(line.alias("line"))).encode("utf-8"), compresslevel=3, mtime=0)


FEEDS: dict[str, Feed] = {
    "telecom_sh": Feed(lambda d: f"providers/telecom_sh/bill_{d:%Y%m%d}.csv", _telecom),
    "infinigence": Feed(lambda d: f"providers/infinigence/jobs_{d:%Y-%m-%d}.jsonl", _infinigence),
    "volcano_engine": Feed(
        lambda d: f"providers/volcano_engine/dt={d:%Y-%m-%d}/usage_hourly.parquet",
        _volcano,
        kinds=(MISSING_REQUIRED, NEGATIVE_QUANTITY),
    ),
    "unicom_sh": Feed(
        lambda d: f"providers/unicom_sh/focus_{d:%Y-%m-%d}.csv", _unicom, expand=_unicom_credits
    ),
    "mobile_sh": Feed(lambda d: f"providers/mobile_sh/usage_{d:%Y%m%d}.log.gz", _mobile),
}
