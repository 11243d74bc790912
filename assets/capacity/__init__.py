"""Capacity planning: demand forecasts for GPU-hours series."""
