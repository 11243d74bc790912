"""The capacity planning tables written from Python (typed empties when there is no demand); their columns are
declared in data_contracts/tables."""

CAPACITY_TABLES = ("marts.capacity_forecast", "marts.capacity_alerts", "marts.forecast_backtest")
