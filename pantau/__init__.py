"""Pantau kernel: settings, CLI, logging/metrics, the columnar Batch, the InfluxDB store
and the schema's names (pantau/schema.py). It imports no other part."""

__version__ = "0.1.0"
