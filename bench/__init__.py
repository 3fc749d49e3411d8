"""Benchmarks at national scale: `python -m bench [--scale small|national]` (see BENCHMARKS.md)."""
