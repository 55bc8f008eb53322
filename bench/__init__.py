"""The benchmark harness: ``python -m bench [--smoke|--full] [--only NAME]`` (issue #8).

Each benchmark prints a table with the command and the machine that produced it, and
writes ``bench/results/<name>-<timestamp>.json`` plus ``<name>-latest.json``.
"""
