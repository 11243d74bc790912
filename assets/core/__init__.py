"""Core tables: deduplicated, conformed facts built from the ingest layer."""
