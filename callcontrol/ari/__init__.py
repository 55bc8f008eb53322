"""Thin typed ARI client (work in progress: errors and event parsing only)."""
