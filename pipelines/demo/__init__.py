"""Deterministic demo landing data: provider usage feeds, catalogue, transfers, vouchers and reference tables."""

from __future__ import annotations

from .generate import count_demo_files, generate_demo

__all__ = ["count_demo_files", "generate_demo"]
