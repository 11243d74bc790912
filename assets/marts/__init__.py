"""Marts: analyst-facing aggregates, each one SQL file in warehouse/sql/marts."""
