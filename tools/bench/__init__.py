"""Benchmarks and measurements that are not peer comparisons."""
