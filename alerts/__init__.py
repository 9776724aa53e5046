"""Alerts: rules with hysteresis and durations, the alert lifecycle, and reliable notifications.

Public entry points: :class:`alerts.engine.AlertEngine` (rule evaluation, called by
ingest), :class:`alerts.dispatcher.Dispatcher` (delivers the notification outbox),
:mod:`alerts.observations` (the input types). This package imports only ``pantau``.
"""
