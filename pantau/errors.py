"""Pantau's small exception tree. The API turns these into JSON errors in one place."""

from __future__ import annotations


class PantauError(Exception):
    """Base of every error Pantau raises on purpose."""


class ConfigError(PantauError):
    """A setting is invalid or missing; the message names it."""


class ServiceUnavailable(PantauError):
    """A backing service (broker, InfluxDB, database) cannot be reached."""


class BrokerUnavailable(ServiceUnavailable):
    """The MQTT broker is unreachable or did not acknowledge in time."""


class StoreUnavailable(ServiceUnavailable):
    """InfluxDB is unreachable or keeps failing after retries."""


class StoreRejected(PantauError):
    """InfluxDB rejected a request as bad (HTTP 4xx); retrying will not help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"InfluxDB rejected the request (HTTP {status}): {message}")
        self.status = status
        self.detail = message


class InvalidRequest(PantauError):
    """A caller's request is wrong; the message says what to change."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(PantauError):
    """The thing asked for does not exist."""


class Conflict(PantauError):
    """The request conflicts with existing state (e.g. a duplicate id)."""


class PermissionDenied(PantauError):
    """The caller's key lacks the role this needs."""


class Unauthenticated(PantauError):
    """No key or an invalid key was given."""
