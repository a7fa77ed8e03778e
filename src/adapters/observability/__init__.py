"""Observers of the queue and the worker written as hooks (ADR 0016): Prometheus metrics."""
