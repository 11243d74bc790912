"""Rate cards and exchange rates, and price lookups used by the usage generator."""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import polars as pl

_OPEN = ""
# provider, service, chip_model, unit, list_price, contracted_price, currency, valid_from, valid_to
_RATE_CARD: tuple[tuple[str, str, str, str, float, float, str, str, str], ...] = (
    # Operator programme prices: the contracted price of the operators is the cheapest in the city.
    ("telecom_sh", "gpu_compute", "H800", "gpu_hour", 32.00, 15.20, "CNY", "2024-01-01", _OPEN),
    ("telecom_sh", "gpu_compute", "A100", "gpu_hour", 19.00, 9.12, "CNY", "2024-01-01", _OPEN),
    ("telecom_sh", "gpu_compute", "H20", "gpu_hour", 11.00, 5.30, "CNY", "2024-01-01", _OPEN),
    ("telecom_sh", "gpu_compute", "Ascend910B", "gpu_hour", 13.00, 6.25, "CNY", "2024-01-01", _OPEN),
    ("unicom_sh", "gpu_compute", "H800", "gpu_hour", 33.00, 28.00, "CNY", "2024-01-01", _OPEN),
    ("unicom_sh", "gpu_compute", "A100", "gpu_hour", 19.50, 16.60, "CNY", "2024-01-01", "2025-09-30"),
    ("unicom_sh", "gpu_compute", "A100", "gpu_hour", 18.50, 15.70, "CNY", "2025-10-01", _OPEN),
    ("unicom_sh", "gpu_compute", "Ascend910B", "gpu_hour", 13.50, 11.50, "CNY", "2024-01-01", _OPEN),
    ("mobile_sh", "gpu_compute", "A100", "gpu_hour", 19.80, 17.82, "CNY", "2024-01-01", _OPEN),
    ("mobile_sh", "gpu_compute", "H20", "gpu_hour", 12.00, 10.80, "CNY", "2024-01-01", _OPEN),
    ("mobile_sh", "gpu_compute", "Ascend910B", "gpu_hour", 12.80, 11.52, "CNY", "2024-01-01", _OPEN),
    # Volcano Engine bills list prices less a per-account discount.
    ("volcano_engine", "gpu_compute", "H800", "gpu_hour", 40.00, 40.00, "CNY", "2024-01-01", "2025-10-31"),
    ("volcano_engine", "gpu_compute", "H800", "gpu_hour", 36.00, 36.00, "CNY", "2025-11-01", _OPEN),
    ("volcano_engine", "gpu_compute", "A100", "gpu_hour", 24.00, 24.00, "CNY", "2024-01-01", _OPEN),
    ("volcano_engine", "gpu_compute", "L40S", "gpu_hour", 8.50, 8.50, "CNY", "2024-01-01", _OPEN),
    ("volcano_engine", "gpu_compute", "H20", "gpu_hour", 14.00, 14.00, "CNY", "2024-01-01", _OPEN),
    ("infinigence", "gpu_compute", "A100", "gpu_hour", 21.00, 19.30, "CNY", "2024-01-01", _OPEN),
    ("infinigence", "gpu_compute", "H20", "gpu_hour", 13.00, 12.00, "CNY", "2024-01-01", _OPEN),
    ("infinigence", "gpu_compute", "Ascend910B", "gpu_hour", 14.00, 12.90, "CNY", "2024-01-01", "2025-10-31"),
    ("infinigence", "gpu_compute", "Ascend910B", "gpu_hour", 12.50, 11.50, "CNY", "2025-11-01", _OPEN),
    ("infinigence", "gpu_compute", "MLU370-X8", "gpu_hour", 6.00, 5.50, "CNY", "2024-01-01", _OPEN),
    ("infinigence", "gpu_compute", "BR104", "gpu_hour", 7.00, 6.40, "CNY", "2024-01-01", _OPEN),
    ("infinigence", "gpu_compute", "MTT-S4000", "gpu_hour", 5.00, 4.60, "CNY", "2024-01-01", _OPEN),
    ("sensetime", "gpu_compute", "H800", "gpu_hour", 38.00, 34.20, "CNY", "2024-01-01", _OPEN),
    ("sensetime", "gpu_compute", "A100", "gpu_hour", 23.00, 20.70, "CNY", "2024-01-01", _OPEN),
    ("sensetime", "gpu_compute", "Ascend910B", "gpu_hour", 15.00, 13.50, "CNY", "2024-01-01", _OPEN),
    ("overseas_cloud", "gpu_compute", "H100", "gpu_hour", 6.90, 6.21, "USD", "2024-01-01", _OPEN),
    ("overseas_cloud", "gpu_compute", "A100", "gpu_hour", 4.10, 3.69, "USD", "2024-01-01", _OPEN),
    ("elastic_net", "network_base", "", "hour", 10.00, 10.00, "CNY", "2024-01-01", _OPEN),
    ("elastic_net", "network_boost", "", "hour", 200.00, 200.00, "CNY", "2024-01-01", _OPEN),
)
# Model-API token prices per model (provider, service, model_id, unit, list, contracted, currency, from, to):
# the real request trace of a model-serving service carries token counts only and is priced here.
_TOKEN_RATES: tuple[tuple[str, str, str, str, float, float, str, str, str], ...] = (
    (
        "azure_llm_trace",
        "llm_input_tokens",
        "conversation-llm",
        "1000000 Tokens",
        2.0,
        1.6,
        "CNY",
        "2023-01-01",
        "",
    ),
    (
        "azure_llm_trace",
        "llm_output_tokens",
        "conversation-llm",
        "1000000 Tokens",
        8.0,
        6.4,
        "CNY",
        "2023-01-01",
        "",
    ),
)
_RATE_COLUMNS = (
    "provider_id",
    "service",
    "chip_model",
    "unit",
    "list_price",
    "contracted_price",
    "currency",
    "valid_from",
    "valid_to",
)

# Approximate monthly average USD/CNY rates from January 2023 (the FOCUS sample bills start then) to
# December 2025; later months drift slowly.
_USD_MONTHLY = (
    6.78,
    6.86,
    6.91,
    6.89,
    6.99,
    7.16,
    7.19,
    7.20,
    7.30,
    7.31,
    7.18,
    7.12,  # 2023
    7.18,
    7.19,
    7.19,
    7.24,
    7.24,
    7.26,
    7.27,
    7.18,
    7.09,
    7.10,
    7.19,
    7.27,  # 2024
    7.19,
    7.17,
    7.17,
    7.20,
    7.19,
    7.17,
    7.15,
    7.14,
    7.12,
    7.12,
    7.10,
    7.06,  # 2025
)


@cache
def rate_cards_frame() -> pl.DataFrame:
    """rate_cards.csv (dates parsed; open ends are null)."""
    rows = [dict(zip(_RATE_COLUMNS, r, strict=True)) | {"model_id": None} for r in _RATE_CARD]
    rows += [
        dict(zip(_RATE_COLUMNS, (p, s, "", unit, lp, cp, cur, since, until), strict=True))
        | {"model_id": model}
        for p, s, model, unit, lp, cp, cur, since, until in _TOKEN_RATES
    ]
    return pl.DataFrame(rows).with_columns(
        pl.col("chip_model").replace("", None),
        pl.col("valid_from").str.to_date(),
        pl.col("valid_to").replace("", None).str.to_date(),
    )


def price_vectors(provider_id: str, chips: tuple[str, ...], day: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """List and contracted GPU-hour prices of `chips` at `provider_id` valid on `day`."""
    lists, contracted = [], []
    for chip in chips:
        lp, cp = _price(provider_id, chip, day)
        lists.append(lp)
        contracted.append(cp)
    return np.array(lists, dtype=np.float64), np.array(contracted, dtype=np.float64)


@cache
def _price(provider_id: str, chip: str, day: dt.date) -> tuple[float, float]:
    for p, _s, c, _u, lp, cp, _cur, start, end in _RATE_CARD:
        if (
            p == provider_id
            and c == chip
            and start <= day.isoformat()
            and (not end or day.isoformat() <= end)
        ):
            return lp, cp
    raise KeyError(f"no rate card for {provider_id}/{chip} on {day}")


def service_price(provider_id: str, service: str, day: dt.date) -> float:
    """Contracted price of a non-chip service (e.g. network_boost) valid on `day`."""
    for p, s, _c, _u, _lp, cp, _cur, start, end in _RATE_CARD:
        if (
            p == provider_id
            and s == service
            and start <= day.isoformat()
            and (not end or day.isoformat() <= end)
        ):
            return cp
    raise KeyError(f"no rate card for {provider_id}/{service} on {day}")


def fx_rates_frame(start: dt.date, days: int) -> pl.DataFrame:
    """fx_rates.csv: monthly USD rates from January 2023 to the month of the last demo day, and CNY."""
    last = start + dt.timedelta(days=max(days, 1) - 1)
    rows = [{"currency": "CNY", "rate_to_cny": 1.0, "valid_from": dt.date(2000, 1, 1), "valid_to": None}]
    year, month = min(2023, start.year), 1
    while (year, month) <= max((last.year, last.month), (2025, 12)):
        index = (year - 2023) * 12 + month - 1
        last_known = len(_USD_MONTHLY) - 1
        rate = (
            _USD_MONTHLY[index] if 0 <= index <= last_known else round(7.06 - 0.01 * (index - last_known), 4)
        )
        nxt = dt.date(year + month // 12, month % 12 + 1, 1)
        rows.append(
            {
                "currency": "USD",
                "rate_to_cny": rate,
                "valid_from": dt.date(year, month, 1),
                "valid_to": nxt - dt.timedelta(days=1),
            }
        )
        year, month = nxt.year, nxt.month
    return pl.DataFrame(rows, schema_overrides={"valid_to": pl.Date})
