"""Columns of the capacity planning tables written from Python (typed empties when there is no demand)."""

_SERIES = {
    "series_id": "VARCHAR",
    "level": "VARCHAR",
    "site_id": "VARCHAR",
    "chip_family": "VARCHAR",
    "provider_id": "VARCHAR",
}

FORECAST_COLUMNS = {
    **_SERIES,
    "metric": "VARCHAR",
    "forecast_date": "DATE",
    "step": "INTEGER",
    "horizon_days": "INTEGER",
    "model": "VARCHAR",
    "mean": "DOUBLE",
    "lo_80": "DOUBLE",
    "hi_80": "DOUBLE",
    "lo_95": "DOUBLE",
    "hi_95": "DOUBLE",
    "supply": "DOUBLE",
    "supply_status": "VARCHAR",
    "projected_utilization": "DOUBLE",
    "note": "VARCHAR",
}

ALERT_COLUMNS = {
    **_SERIES,
    "metric": "VARCHAR",
    "threshold": "DOUBLE",
    "first_date": "DATE",
    "days_ahead": "INTEGER",
    "probability": "DOUBLE",
    "peak_probability": "DOUBLE",
    "peak_date": "DATE",
    "supply_on_first_date": "DOUBLE",
    "mean_on_first_date": "DOUBLE",
    "model": "VARCHAR",
    "horizon_end": "DATE",
    "note": "VARCHAR",
}

BACKTEST_COLUMNS = {
    "series_id": "VARCHAR",
    "metric": "VARCHAR",
    "model": "VARCHAR",
    "mase": "DOUBLE",
    "smape": "DOUBLE",
    "coverage_80": "DOUBLE",
    "coverage_95": "DOUBLE",
    "n_windows": "BIGINT",
    "chosen": "BOOLEAN",
    "note": "VARCHAR",
}

CAPACITY_TABLES = {
    "marts.capacity_forecast": FORECAST_COLUMNS,
    "marts.capacity_alerts": ALERT_COLUMNS,
    "marts.forecast_backtest": BACKTEST_COLUMNS,
}
