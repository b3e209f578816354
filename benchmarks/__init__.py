"""Benchmarks of the close at the synthetic company's sizes: ``python -m benchmarks.run``."""
