"""Benchmarks: Salesforce calls per operation, throughput, latency and memory (``make bench``)."""
