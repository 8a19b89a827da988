"""Grafana dashboards for costline, generated from code (`python -m dashboards.generate`, `make dashboards`).

`promql` and `traceql` hold every query; `finance` and `engineering` lay the panels out; `generate` writes the
committed JSON. Metric, label and attribute names come from the costline constants modules, never retyped.
"""
