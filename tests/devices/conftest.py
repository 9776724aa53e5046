"""Fixtures for the registry tests: a migrated SQLite database per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from devices.model import Device
from devices.registry import Registry
from devices.validation import parse_device
from pantau.database import open_engine, upgrade

TODAY = date(2026, 11, 22)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    upgrade(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def registry(engine: Engine) -> Registry:
    return Registry(engine)


def _make_device(device_id: str = "aq-001", **fields: object) -> Device:
    base: dict[str, object] = {
        "id": device_id,
        "kind": "air_quality",
        "zone": "jababeka",
        "latitude": -6.29,
        "longitude": 107.15,
    }
    device, problems = parse_device({**base, **fields}, today=TODAY)
    assert device is not None, problems
    return device


@pytest.fixture
def make_device() -> Callable[..., Device]:
    """A valid device (air quality in Jababeka unless ``fields`` say otherwise)."""
    return _make_device
