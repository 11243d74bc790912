"""Data contracts: Great Expectations suites in data_contracts/expectations, run as Dagster asset checks."""
