"""Compat NNX modules kept as standalone source: imported by tests, emitted as text by `emit`."""
