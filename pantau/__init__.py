"""Pantau kernel: settings, CLI, logging/metrics, the columnar Batch, the InfluxDB store."""

__version__ = "0.1.0"
