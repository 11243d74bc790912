"""Ingest: landed files -> lake Parquet, driven by the source specs in data_contracts/sources."""
