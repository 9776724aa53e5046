"""Processor unit tests: decoding against the registry as it changes (no services)."""

from __future__ import annotations

import orjson

from devices.cache import RegistrySnapshot, load_snapshot
from ingest.directory import RegistryDirectory
from ingest.record import encode_message
from ingest.spool import Record
from pantau.database import open_engine
from tests.harness import register
from tests.ingest.processors import new_processor

T0 = 1_763_800_000_000


def _record(device: str) -> Record:
    payload = orjson.dumps({"ts": T0, "seq": 1, "values": {"pm25": 5.0}})
    body = encode_message(T0 * 1_000_000, f"sensors/{device}/readings", payload)
    return Record(body=body, segment=1, offset=0, end_offset=len(body))


def test_a_device_registered_meanwhile_is_accepted_even_if_another_thread_loaded_it(
    sql_url: str,
) -> None:
    """The forced registry check finds nothing new (the alerting thread loaded the new
    version first), yet the processor's directory is older: it must decode again."""
    engine = open_engine(sql_url)
    register(sql_url, ["aq-001"])
    before = RegistryDirectory(load_snapshot(engine))
    register(sql_url, ["aq-new"])
    after = RegistryDirectory(load_snapshot(engine))
    handed_out: list[RegistrySnapshot] = []

    def directory() -> RegistryDirectory:
        current = before if not handed_out else after
        handed_out.append(current.snapshot)
        return current

    processor = new_processor(engine, directory)
    prepared = processor.prepare([_record("aq-new")])
    assert prepared.letters == []
    assert prepared.result.last_seen_ns
    assert any(line.startswith("readings,") and "device=aq-new" in line for line in prepared.lines)


def test_an_unknown_device_stays_a_dead_letter(sql_url: str) -> None:
    engine = open_engine(sql_url)
    register(sql_url, ["aq-001"])
    fixed = RegistryDirectory(load_snapshot(engine))
    checks: list[int] = []

    def refresh() -> bool:
        checks.append(1)
        return False

    processor = new_processor(engine, lambda: fixed, refresh_registry=refresh)
    prepared = processor.prepare([_record("ghost-1")])
    assert [x.reason for x in prepared.letters] == ["unknown_device"]
    assert checks == [1]
    assert not [line for line in prepared.lines if line.startswith("readings,")]
