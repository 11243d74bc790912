"""ComputeFlow Dagster code location, resources and command line."""
