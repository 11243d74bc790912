"""Component instances of the code location (see pipelines/components.py)."""
