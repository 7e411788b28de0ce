"""Benchmarks behind ``make bench``: medians, written to bench.json (see benchmarks/run.py)."""
