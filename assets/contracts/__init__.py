"""Data contracts: tables declared once (data_contracts/tables and the SQL marts' YAML), the Great Expectations
suites their declarations derive, run as Dagster asset checks."""
