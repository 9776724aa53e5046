"""A Processor over a real registry for unit tests, with a store they choose (or none)."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from sqlalchemy import Engine

from ingest.directory import RegistryDirectory
from ingest.pipeline import Pipeline, PipelineConfig
from ingest.processor import Processor
from pantau.batch import DeviceIndex
from pantau.deadletters import DeadLetterStore
from pantau.store import InfluxStore


def new_processor(
    engine: Engine,
    directory: Callable[[], RegistryDirectory],
    *,
    store: object = None,  # None: prepare() only, nothing is written
    refresh_registry: Callable[[], bool] = lambda: False,
) -> Processor:
    return Processor(
        store=cast(InfluxStore, store),
        dead_letters=DeadLetterStore(engine),
        pipeline=Pipeline(PipelineConfig()),
        devices=DeviceIndex(),
        directory=directory,
        max_payload=256_000,
        refresh_registry=refresh_registry,
    )
