"""Dashboards: a static site regenerated from the published warehouse."""
