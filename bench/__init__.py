"""Benchmarks: recorder throughput, API latency (scripts) and control quality (``python -m bench.controller``)."""
