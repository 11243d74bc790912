"""Exports: the FOCUS 1.2 cost and usage file, its vocabulary and its conformance requirements."""
