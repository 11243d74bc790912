"""The code location, one folder per domain (see the README's layout section)."""
