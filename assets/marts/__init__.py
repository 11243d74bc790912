"""Marts: analyst-facing aggregates; a SQL mart is its query and YAML declaration in warehouse/sql/<schema>/."""
