"""Benchmarks: latency against accuracy for every classifier variant, and the runtime end to end.

``edgerec bench models|pipeline|all|compare``; see ``benchmarks/README.md``.
"""
